/**
 * The standard claims Grantry can tell about a user (OpenID Connect Core §5.1), the scopes that
 * release them (§5.4), and the `claims` request parameter that asks for them by name (§5.5).
 */
import type { BackofficeUser, CustomerUser } from '../../storage/repositories.js';
import { OAuthError } from '../errors.js';

export const OPENID_SCOPE = 'openid';

/** What each identity scope releases, and how the consent page words it. */
export const IDENTITY_SCOPES: Readonly<Record<string, { claims: readonly string[]; description: string }>> = {
  [OPENID_SCOPE]: { claims: [], description: 'Sign you in with your account' },
  profile: { claims: ['name', 'given_name', 'family_name', 'preferred_username', 'updated_at'], description: 'See your name and username' },
  email: { claims: ['email', 'email_verified'], description: 'See your email address' },
};

export const isIdentityScope = (scope: string) => Object.hasOwn(IDENTITY_SCOPES, scope);

/** Whether a granted scope string makes the request an OpenID Connect one. */
export const hasOpenId = (scope: string) => scope.split(' ').includes(OPENID_SCOPE);

/** Every claim Grantry can release, for discovery's claims_supported. */
export const SUPPORTED_CLAIMS: readonly string[] = ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'azp', 'sid', 'at_hash', ...Object.values(IDENTITY_SCOPES).flatMap((s) => s.claims)];

const RELEASABLE = new Set(Object.values(IDENTITY_SCOPES).flatMap((s) => s.claims));

/** The identity scope that covers a claim, for consent: asking for `email` by name is asking to see the email address. */
export function scopeOfClaim(claim: string): string | undefined {
  return Object.keys(IDENTITY_SCOPES).find((scope) => IDENTITY_SCOPES[scope]?.claims.includes(claim));
}

/** Claims asked for by name, by where they go. */
export interface RequestedClaims {
  id_token?: string[];
  userinfo?: string[];
}

/** The claims a granted scope releases at UserInfo. */
export function claimsOfScope(scope: string): string[] {
  return scope.split(' ').flatMap((s) => (isIdentityScope(s) ? (IDENTITY_SCOPES[s]?.claims ?? []) : []));
}

/**
 * Parses the `claims` parameter: a JSON object whose `userinfo` and `id_token` members name
 * claims (each null or an object). Only the standard claims Grantry can release are kept;
 * others are ignored, as §5.5 allows. Malformed JSON or members are invalid_request.
 */
export function parseClaimsParameter(value: string | undefined): RequestedClaims | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw OAuthError.invalidRequest('the claims parameter must be a JSON object');
  }
  if (!isObject(parsed)) throw OAuthError.invalidRequest('the claims parameter must be a JSON object');
  const requested: RequestedClaims = {};
  for (const target of ['userinfo', 'id_token'] as const) {
    const member = parsed[target];
    if (member === undefined || member === null) continue;
    if (!isObject(member)) throw OAuthError.invalidRequest(`the ${target} member of the claims parameter must be a JSON object`);
    for (const request of Object.values(member)) {
      if (request !== null && !isObject(request)) throw OAuthError.invalidRequest(`the ${target} member of the claims parameter must map each claim to null or an object`);
    }
    const names = Object.keys(member).filter((name) => RELEASABLE.has(name));
    if (names.length > 0) requested[target] = names;
  }
  return requested.id_token || requested.userinfo ? requested : undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The scopes whose claims `requested` names, which the user is asked about like the scopes themselves. */
export function scopesOfRequestedClaims(requested: RequestedClaims | undefined): string[] {
  const names = [...(requested?.id_token ?? []), ...(requested?.userinfo ?? [])];
  return [...new Set(names.map(scopeOfClaim).filter((s): s is string => s !== undefined))];
}

/** The values of `names` for a user, leaving out those the user has no value for. */
export function claimValues(user: { side: 'backoffice'; account: BackofficeUser } | { side: 'storefront'; account: CustomerUser }, names: Iterable<string>): Record<string, unknown> {
  const all: Record<string, unknown> = {};
  if (user.side === 'backoffice') {
    const { account } = user;
    Object.assign(all, { name: account.username, preferred_username: account.username, email: account.email });
  } else {
    const { account } = user;
    const full = [account.firstName, account.lastName].filter((n) => n !== null && n !== '').join(' ');
    Object.assign(all, {
      ...(full !== '' ? { name: full } : {}),
      ...(account.firstName ? { given_name: account.firstName } : {}),
      ...(account.lastName ? { family_name: account.lastName } : {}),
      email: account.email,
    });
  }
  // Grantry does not verify addresses: saying so lets a relying party ask for proof itself.
  all.email_verified = false;
  all.updated_at = user.account.updatedAt;
  const out: Record<string, unknown> = {};
  for (const name of names) if (Object.hasOwn(all, name)) out[name] = all[name];
  return out;
}
