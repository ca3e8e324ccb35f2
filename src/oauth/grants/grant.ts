/** One handler per grant type behind one interface; the token endpoint picks by grant_type. */
import type { Client, GrantType } from '../../storage/repositories.js';
import type { ProtocolEvents } from '../events.js';
import type { Params } from '../params.js';

export interface TokenResponse {
  token_type: 'Bearer';
  expires_in: number;
  access_token: string;
  refresh_token?: string;
  scope?: string;
  /** OpenID Connect: when the grant is a sign-in with openid (oidc/id-tokens.ts). */
  id_token?: string;
}

/** What a grant issued, and the user it acts for (null for guests), for the audit trail. */
export interface Issued {
  response: TokenResponse;
  userId: number | null;
}

export interface GrantContext {
  client: Client;
  params: Params;
  now: number;
  /** The caller's IP address, for brute-force protection; undefined outside HTTP. */
  ip?: string;
  /** Where security events go (the audit trail); none outside the server. */
  events?: ProtocolEvents;
}

export interface GrantHandler {
  readonly type: GrantType;
  handle(context: GrantContext): Promise<Issued>;
}
