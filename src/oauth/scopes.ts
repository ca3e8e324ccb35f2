/**
 * Scope policy: the server's known scopes (with the descriptions the consent page shows), the
 * default scope, and what each client may be granted. Requests may narrow, never widen.
 */
import type { Client } from '../storage/repositories.js';
import { API_SCOPES, type Role, roleMayHold } from './api-scopes.js';
import { OAuthError } from './errors.js';
import { IDENTITY_SCOPES, isIdentityScope, OPENID_SCOPE } from './oidc/claims.js';

/** RFC 6749 §3.3 scope-token characters. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Splits a scope string into its distinct tokens, in order; invalid_scope on bad syntax. */
export function parseScope(scope: string | undefined): string[] {
  if (scope === undefined) return [];
  if (scope.length > 1000) throw OAuthError.invalidScope('scope is too long');
  const tokens = scope.split(' ').filter((t) => t !== '');
  if (!tokens.every((t) => SCOPE_TOKEN.test(t))) throw OAuthError.invalidScope('scope contains characters that are not allowed');
  return [...new Set(tokens)];
}

export class ScopePolicy {
  private readonly defaults: string[];
  /** Every known scope with its generic description: Grantry's API catalogue, then the configured ones. */
  readonly known: Readonly<Record<string, string>>;

  constructor(
    /** The `scopes` setting: the deployment's own scopes, and its own wording of catalogue scopes. */
    private readonly configured: Readonly<Record<string, string>>,
    defaultScope: string,
  ) {
    const catalogue = Object.fromEntries(Object.entries(API_SCOPES).map(([name, entry]) => [name, entry.description]));
    const identity = Object.fromEntries(Object.entries(IDENTITY_SCOPES).map(([name, entry]) => [name, entry.description]));
    this.known = { ...identity, ...catalogue, ...configured };
    this.defaults = parseScope(defaultScope);
  }

  isKnown(name: string): boolean {
    return Object.hasOwn(this.known, name);
  }

  /**
   * What a scope means, for the consent and account pages: the deployment's own description when
   * the `scopes` setting words the scope (its wording wins, even over the catalogue's), else the
   * catalogue's wording for the user's `role` (an admin's `api` manages everyone, a customer's
   * only their account), else the generic description; an unknown scope is its own name.
   */
  describe(name: string, role?: Role): string {
    // A scope listed by name only (GRANTRY_SCOPES="api,orders:read") is described by its name:
    // that words nothing, and the catalogue's wording is better.
    const own = Object.hasOwn(this.configured, name) ? this.configured[name] : undefined;
    if (own !== undefined && own !== '' && own !== name) return own;
    const entry = Object.hasOwn(API_SCOPES, name) ? API_SCOPES[name] : undefined;
    const forRole = entry && role !== undefined ? entry.byRole[role] : undefined;
    return forRole ?? entry?.description ?? (own || (isIdentityScope(name) ? IDENTITY_SCOPES[name]?.description : undefined) || name);
  }

  /** Scopes a new client gets when none are named: the default scope. */
  get defaultClientScopes(): string[] {
    return [...this.defaults];
  }

  /**
   * The scope to grant for a request: what it names, each allowed for the client, or the default
   * scope limited to what the client may have when it names none (RFC 6749 §3.3). `signIn`: the
   * request comes through the authorize endpoint, where a user signs in and sees what is asked,
   * so the identity scopes may be asked for without being registered (mayHold); a token request
   * for itself (client credentials, password) cannot ask for openid, since no sign-in happens
   * for an ID token to tell of.
   */
  grant(requested: string | undefined, client: Client, { signIn = false } = {}): string {
    const tokens = parseScope(requested);
    if (tokens.length === 0) return this.defaults.filter((s) => client.scopes.includes(s)).join(' ');
    if (!signIn && tokens.includes(OPENID_SCOPE)) throw OAuthError.invalidScope('openid is for a user signing in through the authorize endpoint');
    // The description names no scope: it reaches the client's redirect URI, and a requested
    // value there would read as Grantry's own words (markup, a number to call).
    if (tokens.some((s) => !ScopePolicy.mayHold(client, s, signIn) || !this.isKnown(s))) throw OAuthError.invalidScope('the scope names a scope that is unknown or not allowed for this client');
    return tokens.join(' ');
  }

  /**
   * Whether the client may be granted `scope`: one it is registered with, or, where a user signs
   * in (`signIn`), an identity scope (openid, profile, email) of a client of the authorization
   * code grant. Those release only what the user allows on the consent page, so every such
   * client may ask for them, as "Sign in with <store>" expects, without registering them.
   */
  static mayHold(client: Client, scope: string, signIn: boolean): boolean {
    return client.scopes.includes(scope) || (signIn && isIdentityScope(scope) && client.grants.includes('authorization_code'));
  }

  /**
   * `scope` (a granted scope string) without the API scopes a user of `role` may not hold: a
   * client asks for what it may use, but the token carries only what its user may do (RFC 6749
   * §3.3 lets the server grant less than asked, and the token response then names the scope).
   */
  static forRole(scope: string, role: Role): string {
    const asked = scope.split(' ').filter((s) => s !== '');
    const held = asked.filter((s) => roleMayHold(role, s));
    // Nothing left of a request that named scopes: a token for nothing would only mislead.
    if (asked.length > 0 && held.length === 0) throw OAuthError.invalidScope('none of the requested scopes is available to this user\'s role');
    return held.join(' ');
  }

  /**
   * A narrower scope of an existing grant; never wider (RFC 6749 §6), and never beyond what the
   * client is allowed now: scopes taken away from a client leave its refreshed tokens too.
   */
  static narrow(requested: string | undefined, granted: string, client: Client): string {
    // A grant with an identity scope came from a sign-in (or its client is registered with it).
    const have = granted.split(' ').filter((s) => s !== '' && ScopePolicy.mayHold(client, s, true));
    const tokens = parseScope(requested);
    if (tokens.length === 0) return have.join(' ');
    if (tokens.some((s) => !have.includes(s))) throw OAuthError.invalidScope('scope may only narrow the original grant: it names a scope that was not granted or is no longer allowed');
    return tokens.join(' ');
  }
}
