/**
 * Token revocation (RFC 7009). A refresh token takes its whole family with it; an access token
 * is revoked by its jti. Unknown tokens answer 200 (§2.2); a token of another client is refused
 * and left alone (§2.1).
 */
import type { Client, GrantRepository } from '../storage/repositories.js';
import type { AccessTokenService } from './access-tokens.js';
import { OAuthError } from './errors.js';
import { NO_EVENTS, type ProtocolEvents } from './events.js';
import type { Params } from './params.js';
import type { SideName } from './sides.js';
import type { TokenIssuer } from './token-issuer.js';

type Revoked = { type: 'access_token' | 'refresh_token'; userId: number | null };

/** An operator's revocation: the token's type, side, user and client (its client_id, or its pk when only that is at hand). */
export interface OperatorRevocation extends Revoked {
  side: SideName;
  clientId?: string;
  clientPk?: number;
}

const looksLikeJwt = (token: string) => token.split('.').length === 3;

export class Revocation {
  constructor(
    private readonly accessTokens: AccessTokenService,
    private readonly grants: GrantRepository,
    private readonly issuer: TokenIssuer,
    private readonly events: ProtocolEvents = NO_EVENTS,
  ) {}

  /** `ip` is the caller's address, for the audit trail. */
  async revoke(client: Client, params: Params, now = Math.floor(Date.now() / 1000), ip?: string): Promise<void> {
    const token = params.require('token');
    // The hint only orders the search; an unknown hint is ignored (§2.1).
    params.get('token_type_hint');
    if (token.length > 8192) return;
    const revoked = looksLikeJwt(token) ? await this.revokeAccessToken(client, token, now) : await this.revokeRefreshToken(client, token, now);
    // Only what was revoked is recorded; an unknown token (answered 200 as well) is not an event.
    if (revoked) this.events.emit({ kind: 'token.revoked', side: client.side, clientId: client.clientId, userId: revoked.userId, address: ip, details: { token_type: revoked.type } });
  }

  /**
   * Operator revocation (src/management/tokens.ts): any client's token. Returns what it was and
   * whose (for the audit trail, which records these, never the token), or undefined when the
   * token is unknown. Records nothing itself: the caller knows who acted.
   */
  async revokeAny(token: string, now = Math.floor(Date.now() / 1000)): Promise<OperatorRevocation | undefined> {
    if (looksLikeJwt(token)) {
      const claims = await this.accessTokens.verifySignature(token, now);
      if (typeof claims?.jti !== 'string') return undefined;
      // The token's grant says its side and user.
      const revoked = await this.grants.revokeAccessToken(claims.jti, null, now);
      if (!revoked) return undefined;
      return { type: 'access_token', side: revoked.side, userId: revoked.userId, clientId: typeof claims.client_id === 'string' ? claims.client_id : undefined };
    }
    const stored = await this.issuer.findRefresh(token);
    if (!stored) return undefined;
    await this.grants.revokeGrant(stored.grantId, now);
    return { type: 'refresh_token', side: stored.grant.side, userId: stored.grant.userId, clientPk: stored.clientPk };
  }

  private async revokeRefreshToken(client: Client, token: string, now: number): Promise<Revoked | undefined> {
    const stored = await this.issuer.findRefresh(token);
    if (!stored) return undefined;
    if (stored.clientPk !== client.pk) throw OAuthError.unauthorizedClient('the token was not issued to this client');
    await this.grants.revokeGrant(stored.grantId, now);
    return { type: 'refresh_token', userId: stored.grant.userId };
  }

  private async revokeAccessToken(client: Client, token: string, now: number): Promise<Revoked | undefined> {
    // Expired tokens still have a valid signature for this purpose; revoking them is harmless.
    const claims = await this.accessTokens.verifySignature(token, now);
    if (!claims || typeof claims.jti !== 'string') return undefined;
    if (claims.client_id !== client.clientId) throw OAuthError.unauthorizedClient('the token was not issued to this client');
    // The user comes from the token's grant: its sub is the client's subject, not the user id.
    const revoked = await this.grants.revokeAccessToken(claims.jti, client.pk, now);
    return revoked ? { type: 'access_token', userId: revoked.userId } : undefined;
  }
}
