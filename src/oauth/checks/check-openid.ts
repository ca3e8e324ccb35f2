// The OpenID Connect parameters of an authorization request (Core §3.1.2.1). They are read for
// every request, so a malformed one is refused whatever the scope; what they ask only matters
// to a request for openid (the nonce and claims are kept with its grant), except max_age, which
// applies to any sign-in. login_hint is read by the login page (http/login.ts), from return_to. Request objects and registration are not supported, and
// say so with their own error codes (§3.1.2.6) rather than being silently ignored.
import { OAuthError } from '../errors.js';
import type { Params } from '../params.js';
import { parseClaimsParameter, type RequestedClaims } from '../oidc/claims.js';

export interface OpenIdParameters {
  nonce: string | undefined;
  /** Seconds; a session older than this must sign in again. */
  maxAge: number | undefined;
  /** An ID token naming who the client expects to be signed in. */
  idTokenHint: string | undefined;
  claims: RequestedClaims | undefined;
}

/** Longer than any nonce a library makes (they are 32-64 characters), short enough to carry through sign-in. */
const MAX_NONCE = 512;
/** A decade: max_age is a number of seconds, and a larger one means the same as none. */
const MAX_MAX_AGE = 315_360_000;

export function checkOpenIdParameters(params: Params): OpenIdParameters {
  if (params.has('request')) throw OAuthError.notSupported('request_not_supported', 'request objects are not supported; send the parameters in the request itself');
  if (params.has('request_uri')) throw OAuthError.notSupported('request_uri_not_supported', 'request_uri is not supported; send the parameters in the request itself');
  if (params.has('registration')) throw OAuthError.notSupported('registration_not_supported', 'the registration parameter is not supported; clients are registered by the administrators');
  const responseMode = params.get('response_mode');
  if (responseMode !== undefined && responseMode !== 'query') throw OAuthError.invalidRequest('only response_mode=query is supported');
  const nonce = params.get('nonce');
  if (nonce !== undefined && nonce.length > MAX_NONCE) throw OAuthError.invalidRequest(`the nonce parameter must be at most ${MAX_NONCE} characters`);
  const maxAgeText = params.get('max_age');
  let maxAge: number | undefined;
  if (maxAgeText !== undefined) {
    if (!/^\d{1,10}$/.test(maxAgeText)) throw OAuthError.invalidRequest('max_age must be a whole number of seconds');
    maxAge = Math.min(Number(maxAgeText), MAX_MAX_AGE);
  }
  return {
    nonce,
    maxAge,
    idTokenHint: params.get('id_token_hint'),
    claims: parseClaimsParameter(params.get('claims')),
  };
}
