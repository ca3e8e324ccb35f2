/**
 * Validates an authorization request (RFC 6749 §4.1.1) and decides where errors go: before the
 * client and redirect URI are trusted they become an error page; after, a redirect back to
 * the client carrying `error`, `state` and `iss` (RFC 9207).
 */
import { type SecretHasher, safeEqual } from '../security/tokens.js';
import type { Client, ClientRepository, OidcGrant } from '../storage/repositories.js';
import type { Role } from './api-scopes.js';
import { checkClient } from './checks/check-client.js';
import { checkOpenIdParameters, type OpenIdParameters } from './checks/check-openid.js';
import { checkPkce } from './checks/check-pkce.js';
import { checkPrompt, type Prompt } from './checks/check-prompt.js';
import { checkRedirectUri } from './checks/check-redirect-uri.js';
import { checkResponseType } from './checks/check-response-type.js';
import { checkScope } from './checks/check-scope.js';
import { OAuthError } from './errors.js';
import { hasOpenId, scopesOfRequestedClaims } from './oidc/claims.js';
import { hintNames, type IdTokenService } from './oidc/id-tokens.js';
import type { SubjectIdentifiers } from './oidc/subjects.js';
import { Params, type RawParams } from './params.js';
import { ScopePolicy } from './scopes.js';
import type { Side } from './sides.js';

export interface AuthorizationRequest {
  side: Side;
  client: Client;
  /** Where the response goes: the requested URI, or the registered one when none was sent. */
  redirectUri: string;
  /** Whether the request carried redirect_uri, which decides whether the token request must (RFC 6749 §4.1.3). */
  redirectUriRequested: boolean;
  state: string | undefined;
  scope: string;
  codeChallenge: string | undefined;
  /** The prompt values asked for (none, login, consent); empty when none was sent. */
  prompt: Set<Prompt>;
  /** The OpenID Connect parameters (nonce, max_age, id_token_hint, claims). */
  openid: OpenIdParameters;
  /** FreshSignIn's mark: the request comes back from a sign-in it asked for. */
  signedInAfter: string | undefined;
}

/** An error the client should hear about at its redirect URI. */
export class AuthorizeRedirectError extends Error {
  constructor(
    readonly oauthError: OAuthError,
    readonly redirectUri: string,
    readonly state: string | undefined,
  ) {
    super(oauthError.message);
    this.name = 'AuthorizeRedirectError';
  }
}

/** The authorize parameters that a consent form carries forward. */
export const AUTHORIZE_PARAMS = [
  'response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'prompt',
  'nonce', 'max_age', 'login_hint', 'id_token_hint', 'claims', 'response_mode', 'ui_locales', 'signed_in_after',
] as const;

/**
 * prompt=login and max_age send a signed-in user to the sign-in page, and the request comes
 * back with the same prompt and max_age: it must then tell a fresh sign-in from the old one, or
 * loop, and a user must not be able to skip the sign-in by opening the return address. So it
 * comes back with a mark the server signed, of when it was sent: a session started since then
 * is the sign-in asked for. Marks are good for as long as a login form (10 minutes).
 */
export class FreshSignIn {
  static readonly PARAM = 'signed_in_after';
  private static readonly LIFETIME = 600;

  constructor(private readonly hasher: SecretHasher) {}

  mark(now: number): string {
    return `${now}.${this.signature(now)}`;
  }

  /** When the sign-in was asked for, from a genuine mark that is not too old; else undefined. */
  askedAt(mark: string | undefined, now: number): number | undefined {
    const match = mark === undefined ? null : /^(\d{1,12})\.([A-Za-z0-9_-]{22})$/.exec(mark);
    if (!match) return undefined;
    const at = Number(match[1]);
    if (now - at > FreshSignIn.LIFETIME || at > now + 5 || !safeEqual(this.signature(at), match[2] as string)) return undefined;
    return at;
  }

  private signature(at: number): string {
    return this.hasher.hash('fresh-sign-in', String(at)).slice(0, 22);
  }
}

/** The authorize parameters to come back with after the sign-in page, with a fresh mark. */
export function paramsAfterSignIn(params: Record<string, string>, mark: string): Record<string, string> {
  return { ...params, [FreshSignIn.PARAM]: mark };
}

/** What validating a request needs besides the request. */
export interface AuthorizeDependencies {
  clients: ClientRepository;
  scopes: ScopePolicy;
  idTokens: IdTokenService;
}

export async function validateAuthorizationRequest(raw: RawParams, side: Side, { clients, scopes, idTokens }: AuthorizeDependencies): Promise<AuthorizationRequest> {
  const params = new Params(raw);
  const client = await checkClient(params, side, clients);
  const { redirectUri, requested: redirectUriRequested } = checkRedirectUri(params, client);
  let state: string | undefined;
  try {
    state = params.get('state');
    checkResponseType(params);
    if (!client.grants.includes('authorization_code')) {
      throw OAuthError.unauthorizedClient('the client is not allowed to use the authorization code grant');
    }
    const codeChallenge = checkPkce(params, client);
    const prompt = checkPrompt(params);
    const openid = checkOpenIdParameters(params);
    const scope = checkScope(params, client, scopes);
    // A client pinned to an algorithm the server has no key for hears it now, before its user signs in.
    if (hasOpenId(scope) && !idTokens.canSignFor(client)) {
      throw OAuthError.unauthorizedClient(`the client asks for ID tokens signed with ${client.idTokenSignedResponseAlg ?? ''}, and the server has no active key of that algorithm`);
    }
    return { side, client, redirectUri, redirectUriRequested, state, scope, codeChallenge, prompt, openid, signedInAfter: params.get(FreshSignIn.PARAM) };
  } catch (e) {
    if (e instanceof OAuthError) throw new AuthorizeRedirectError(e, redirectUri, state);
    throw e;
  }
}

/**
 * The request as it may be granted to a signed-in user of `role`: the API scopes their role
 * cannot hold are left out (RFC 6749 §3.3; the token response then names the scope granted), and
 * a request left with none is invalid_scope at the client's redirect URI.
 */
export function limitToRole(authz: AuthorizationRequest, role: Role): AuthorizationRequest {
  try {
    return { ...authz, scope: ScopePolicy.forRole(authz.scope, role) };
  } catch (e) {
    if (e instanceof OAuthError) throw new AuthorizeRedirectError(e, authz.redirectUri, authz.state);
    throw e;
  }
}

/**
 * Whether the user must sign in again although signed in: the client asked for it
 * (prompt=login), or the sign-in is older than max_age (OIDC Core §3.1.2.1); unless the request
 * comes back from the sign-in it asked for (FreshSignIn) and the session is that sign-in's.
 */
export function mustSignInAgain(authz: AuthorizationRequest, session: { createdAt: number }, now: number, fresh: FreshSignIn): boolean {
  const askedAt = fresh.askedAt(authz.signedInAfter, now);
  if (askedAt !== undefined && session.createdAt >= askedAt) return false;
  if (authz.prompt.has('login')) return true;
  return authz.openid.maxAge !== undefined && now - session.createdAt > authz.openid.maxAge;
}

/**
 * id_token_hint names who the client expects to be signed in (OIDC Core §3.1.2.1): it must be
 * an ID token of ours for this client and the signed-in user; otherwise login_required (the user
 * it names is not signed in), so a client never gets a code for someone else.
 */
export async function checkIdTokenHint(authz: AuthorizationRequest, userId: number, idTokens: IdTokenService, subjects: SubjectIdentifiers): Promise<void> {
  if (authz.openid.idTokenHint === undefined) return;
  const hint = await idTokens.readHint(authz.openid.idTokenHint, authz.side);
  if (!hint || !hintNames(hint, authz.client, userId, subjects)) {
    throw new AuthorizeRedirectError(OAuthError.loginRequired('id_token_hint does not name the signed-in user as a user of this client'), authz.redirectUri, authz.state);
  }
}

/**
 * A storefront guest's request: the client must allow guests, and openid is refused, since a
 * guest has no account to sign in with and so no identity for an ID token to tell.
 */
export function checkGuestRequest(authz: AuthorizationRequest): void {
  const refusal = !authz.client.allowGuests
    ? OAuthError.unauthorizedClient('the client does not allow guests')
    : hasOpenId(authz.scope)
      ? OAuthError.invalidScope('openid needs a signed-in user; guests have none')
      : undefined;
  if (refusal) throw new AuthorizeRedirectError(refusal, authz.redirectUri, authz.state);
}

/**
 * What the grant of an OpenID Connect request keeps of the sign-in for its ID tokens (with the
 * user's subject at the client, `sub`); undefined for other requests.
 */
export function openIdGrantOf(authz: AuthorizationRequest, session: { createdAt: number }, sid: string | undefined, sub: string): OidcGrant | undefined {
  if (!hasOpenId(authz.scope)) return undefined;
  const { nonce, claims } = authz.openid;
  return {
    authTime: session.createdAt,
    sub,
    ...(nonce !== undefined ? { nonce } : {}),
    ...(sid !== undefined ? { sid } : {}),
    ...(claims?.id_token ? { idTokenClaims: claims.id_token } : {}),
    ...(claims?.userinfo ? { userinfoClaims: claims.userinfo } : {}),
  };
}

/**
 * What the user is asked to allow: the scope, and with openid the identity scopes of the claims
 * the `claims` parameter names (asking for `email` by name is asking to see the email address).
 * Only the named claims are released for those (UserInfo, ID token), not the whole scope.
 */
export function consentScopes(authz: AuthorizationRequest): string[] {
  const scope = authz.scope.split(' ').filter((s) => s !== '');
  if (!hasOpenId(authz.scope)) return scope;
  return [...new Set([...scope, ...scopesOfRequestedClaims(authz.openid.claims)])];
}

/** What a signed-in user must be asked before a code is issued. */
export type ConsentDecision =
  | { ask: false }
  /** `newScopes`: the requested scopes not allowed before; `allowed`: those that were. */
  | { ask: true; newScopes: string[]; allowed: string[] };

/**
 * Whether the consent page must be shown for `authz`, given the scopes the user has allowed the
 * client before (undefined: never, or remembering is off). Skip-consent clients never ask;
 * prompt=consent always asks; otherwise a request within what was allowed skips the page.
 */
export function consentDecision(authz: AuthorizationRequest, remembered: string[] | undefined): ConsentDecision {
  if (authz.client.skipConsent) return { ask: false };
  const requested = consentScopes(authz);
  const known = new Set(remembered ?? []);
  const newScopes = requested.filter((s) => !known.has(s));
  const allowed = requested.filter((s) => known.has(s));
  if (authz.prompt.has('consent')) return { ask: true, newScopes: requested, allowed: [] };
  if (remembered !== undefined && newScopes.length === 0) return { ask: false };
  return { ask: true, newScopes, allowed };
}

/** The redirect URI with response parameters added to its query (RFC 6749 §4.1.2). */
export function authorizationResponseUrl(redirectUri: string, values: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(values)) if (value !== undefined) url.searchParams.append(name, value);
  return url.href;
}

export function errorResponseUrl(e: AuthorizeRedirectError, issuer: string): string {
  return authorizationResponseUrl(e.redirectUri, {
    error: e.oauthError.error,
    error_description: e.oauthError.description,
    state: e.state,
    iss: issuer,
  });
}
