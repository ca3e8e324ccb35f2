// PKCE at the authorize endpoint (RFC 7636 §4.3, RFC 9700 §2.1.1): S256 only, a well-formed
// challenge, and required for public clients, which have no secret to prove themselves with.
import { OAuthError } from '../errors.js';
import type { Params } from '../params.js';
import { CODE_CHALLENGE_METHODS, isWellFormedChallenge } from '../pkce.js';
import type { Client } from '../../storage/repositories.js';

/** The code challenge to bind to the code, or undefined when the client sent none. */
export function checkPkce(params: Params, client: Client): string | undefined {
  const challenge = params.get('code_challenge');
  const method = params.get('code_challenge_method');
  if (challenge === undefined) {
    if (method !== undefined) throw OAuthError.invalidRequest('code_challenge_method was sent without code_challenge');
    if (client.type === 'public') throw OAuthError.invalidRequest('code_challenge is required for public clients');
    return undefined;
  }
  // RFC 7636 defaults a missing method to plain, which we do not accept.
  if (method === undefined) throw OAuthError.invalidRequest('code_challenge_method is required and must be S256');
  if (!CODE_CHALLENGE_METHODS.has(method)) throw OAuthError.invalidRequest(`code_challenge_method ${method === 'plain' ? 'plain is not allowed' : 'is not supported'}; use S256`);
  if (!isWellFormedChallenge(challenge)) throw OAuthError.invalidRequest('code_challenge must be 43 to 128 characters of letters, digits, hyphen, period, underscore or tilde');
  return challenge;
}
