// Exact redirect URI matching (RFC 9700 §4.1). A mismatch is shown as a page, never
// redirected, so Grantry cannot be used as an open redirector (RFC 9700 §4.11).
import { AuthorizePageError, type OAuthError } from '../errors.js';
import type { Params } from '../params.js';
import { findRegisteredRedirectUri } from '../redirect-uri.js';
import type { Client } from '../../storage/repositories.js';

/**
 * The redirect URI to use: the requested one when registered, else the single registered one;
 * and whether it was requested, which the token endpoint needs to know (RFC 6749 §4.1.3).
 */
export function checkRedirectUri(params: Params, client: Client): { redirectUri: string; requested: boolean } {
  let requested: string | undefined;
  try {
    requested = params.get('redirect_uri');
  } catch (e) {
    throw new AuthorizePageError(400, 'Invalid redirect URI', (e as OAuthError).description, client.name);
  }
  if (requested === undefined) {
    if (client.redirectUris.length === 1) return { redirectUri: client.redirectUris[0] as string, requested: false };
    throw new AuthorizePageError(400, 'Invalid redirect URI', client.redirectUris.length === 0
      ? 'The application has no registered redirect URI.'
      : 'The application has several redirect URIs, so the request must name one with redirect_uri.', client.name);
  }
  // Keep the requested string (loopback port included): the response goes exactly there.
  if (findRegisteredRedirectUri(requested, client.redirectUris)) return { redirectUri: requested, requested: true };
  throw new AuthorizePageError(400, 'Invalid redirect URI', 'The redirect_uri does not match any URI registered for the application.', client.name);
}
