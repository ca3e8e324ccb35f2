/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2-3): which client asks, where
 * the browser may go afterwards, and whether the request may end the session without asking.
 * A post_logout_redirect_uri is followed only when it is registered for the client the request
 * names (by client_id or by the ID token hint's audience), so the endpoint is no open redirector;
 * anything else is an error page. A hint that is not our ID token for this side is as good as
 * none: the user is asked.
 */
import type { Client, ClientRepository, Session } from '../../storage/repositories.js';
import { AuthorizePageError, type OAuthError } from '../errors.js';
import { Params, type RawParams } from '../params.js';
import type { Side } from '../sides.js';
import { hintNames, type IdTokenHint, type IdTokenService } from './id-tokens.js';
import type { SubjectIdentifiers } from './subjects.js';

export interface EndSessionRequest {
  /** The client asking, when the request names one of this side. */
  client: Client | undefined;
  /** Where to send the browser afterwards: registered for the client, or none. */
  postLogoutRedirectUri: string | undefined;
  state: string | undefined;
  hint: IdTokenHint | undefined;
}

/** The parameters of a request (RP-Initiated Logout §2) that Grantry reads; the others are ignored. */
export const END_SESSION_PARAMS = ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state'] as const;

/** What a confirmation form carries forward: the request as checked, its client named instead of the hint. */
export function confirmationFields(request: EndSessionRequest): Record<string, string> {
  const fields = { client_id: request.client?.clientId, post_logout_redirect_uri: request.postLogoutRedirectUri, state: request.state };
  return Object.fromEntries(Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

const invalid = (description: string, clientName?: string) => new AuthorizePageError(400, 'Invalid sign-out request', description, clientName);

export async function validateEndSessionRequest(raw: RawParams, side: Side, clients: ClientRepository, idTokens: IdTokenService): Promise<EndSessionRequest> {
  const params = new Params(raw);
  let clientId: string | undefined;
  let redirect: string | undefined;
  let state: string | undefined;
  let hintText: string | undefined;
  try {
    clientId = params.get('client_id');
    redirect = params.get('post_logout_redirect_uri');
    state = params.get('state');
    hintText = params.get('id_token_hint');
  } catch (e) {
    throw invalid((e as OAuthError).description);
  }
  const hint = hintText === undefined || hintText.length > 8192 ? undefined : await idTokens.readHint(hintText, side);
  if (clientId !== undefined && hint && !hint.audience.includes(clientId)) throw invalid('The id_token_hint was issued to another application than client_id names.');
  const named = clientId ?? hint?.audience[0];
  let client: Client | undefined;
  if (named !== undefined) {
    const found = named.length <= 128 ? await clients.findByClientId(named) : undefined;
    if (!found || !found.active || found.side !== side.name) throw invalid('The application is unknown or has been deactivated.');
    client = found;
  }
  let postLogoutRedirectUri: string | undefined;
  if (redirect !== undefined) {
    if (!client) throw invalid('A post_logout_redirect_uri needs the application named, by client_id or id_token_hint.');
    // Exact string match, with no loopback-port leeway: that is for native apps' sign-in redirects (RFC 8252).
    if (!client.postLogoutRedirectUris.includes(redirect)) throw invalid('The post_logout_redirect_uri is not registered for the application.', client.name);
    postLogoutRedirectUri = redirect;
  }
  return { client, postLogoutRedirectUri, state, hint };
}

/**
 * Whether the request may end the signed-in session without asking: its hint names the user of
 * that session (the client's subject for them) and, when it carries one, that session's sid.
 * Otherwise a page elsewhere could sign the user out (logout CSRF), so the user is asked.
 */
export function hintMatchesSession(request: EndSessionRequest, session: Session, sid: string, subjects: SubjectIdentifiers): boolean {
  return request.hint !== undefined && request.client !== undefined && hintNames(request.hint, request.client, session.userId, subjects, sid);
}

/** Where the browser goes once signed out: the client's URI with state (§3), or undefined for our own page. */
export function postLogoutLocation(request: EndSessionRequest): string | undefined {
  if (request.postLogoutRedirectUri === undefined) return undefined;
  const url = new URL(request.postLogoutRedirectUri);
  if (request.state !== undefined) url.searchParams.append('state', request.state);
  return url.href;
}
