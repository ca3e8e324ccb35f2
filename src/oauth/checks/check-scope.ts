// Scope syntax (RFC 6749 §3.3): space-separated tokens of printable ASCII without '"' or '\'.
// Duplicates are dropped and the order kept, so the granted scope is stable.
import { OAuthError } from '../errors.js';
import type { Params } from '../params.js';

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export function checkScope(params: Params): string {
  const scope = params.get('scope');
  if (scope === undefined) return '';
  if (scope.length > 1000) throw OAuthError.invalidScope('scope is too long');
  const tokens = scope.split(' ').filter((t) => t !== '');
  if (!tokens.every((t) => SCOPE_TOKEN.test(t))) throw OAuthError.invalidScope('scope contains characters that are not allowed');
  return [...new Set(tokens)].join(' ');
}
