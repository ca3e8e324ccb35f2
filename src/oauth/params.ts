/**
 * Request parameters as the protocol sees them. RFC 6749 §3.1/§3.2: parameters sent without a
 * value are treated as omitted, and a parameter must not appear more than once. Every value
 * passes the shared text check here, the one place every endpoint reads parameters through.
 */
import { presentedPasswordProblem, type TextProblem, textProblem } from '../security/input.js';
import { OAuthError } from './errors.js';

/** Parsed query or body: a string, or an array when the parameter was repeated. */
export type RawParams = Record<string, unknown>;

export class Params {
  constructor(private readonly raw: RawParams) {}

  /**
   * The value of a parameter, undefined when absent or empty; invalid_request when repeated, not
   * text, too long, or carrying control characters or lone surrogates. Descriptions name the
   * parameter, never its value.
   */
  get(name: string): string | undefined {
    return this.read(name, textProblem);
  }

  /** A password being presented: only its length is checked (see presentedPasswordProblem). */
  requirePassword(name: string): string {
    const value = this.read(name, presentedPasswordProblem);
    if (value === undefined) throw OAuthError.invalidRequest(`the ${name} parameter is required`);
    return value;
  }

  private read(name: string, problemOf: (value: string) => TextProblem | undefined): string | undefined {
    const value = Object.hasOwn(this.raw, name) ? this.raw[name] : undefined;
    if (value === undefined || value === null || value === '') return undefined;
    if (Array.isArray(value)) throw OAuthError.invalidRequest(`the ${name} parameter must not be repeated`);
    if (typeof value !== 'string') throw OAuthError.invalidRequest(`the ${name} parameter must be a string`);
    const problem = problemOf(value);
    if (problem) throw OAuthError.invalidRequest(`the ${name} parameter ${problem}`);
    return value;
  }

  require(name: string): string {
    const value = this.get(name);
    if (value === undefined) throw OAuthError.invalidRequest(`the ${name} parameter is required`);
    return value;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}
