/**
 * grant_type=refresh_token (RFC 6749 §6) with rotation on every use (RFC 9700 §4.14): the old
 * token is consumed atomically together with storing its successor, and the access token issued
 * with it is revoked. Presenting a used token again means it leaked or a client misbehaves: the
 * whole family is revoked, unless the retry falls within the grace period, which returns the
 * pair already issued.
 */
import type { Sealer } from '../../security/encryption.js';
import type { GrantRepository, RefreshTokenRepository, UserRepository } from '../../storage/repositories.js';
import { OAuthError } from '../errors.js';
import { ScopePolicy } from '../scopes.js';
import type { TokenIssuer } from '../token-issuer.js';
import { activeUserRole } from '../user-role.js';
import type { GrantContext, GrantHandler, Issued, TokenResponse } from './grant.js';

export class RefreshTokenGrant implements GrantHandler {
  readonly type = 'refresh_token' as const;

  constructor(
    private readonly refreshTokens: RefreshTokenRepository,
    private readonly grants: GrantRepository,
    private readonly users: UserRepository,
    private readonly issuer: TokenIssuer,
    /** Seals the successor response for the grace period; it holds live tokens. */
    private readonly sealer: Sealer,
    private readonly gracePeriod: number,
  ) {}

  async handle(context: GrantContext): Promise<Issued> {
    const { client, params, now } = context;
    const presented = params.require('refresh_token');
    const requestedScope = params.get('scope');
    const stored = await this.issuer.findRefresh(presented);
    // Another client's token is treated as unknown: no detail, and no effect on its family.
    if (!stored || stored.clientPk !== client.pk) throw OAuthError.invalidGrant('the refresh token is invalid');
    const { grant } = stored;
    if (stored.usedAt !== null) return this.replay(stored, context);
    if (grant.revokedAt !== null) throw OAuthError.invalidGrant('the refresh token has been revoked');
    if (stored.expiresAt <= now) throw OAuthError.invalidGrant('the refresh token has expired');
    // The user is asked again: disabled or locked ends the family's use; a role taken away
    // (an admin who is one no more) leaves the refreshed token too.
    const role = grant.userId !== null ? await activeUserRole(this.users, grant.side, grant.userId) : undefined;
    if (grant.userId !== null && !role) throw OAuthError.invalidGrant('the user account is disabled or locked');
    const narrowed = ScopePolicy.narrow(requestedScope, stored.scope, client);
    const scope = role ? ScopePolicy.forRole(narrowed, role) : narrowed;

    // Sign before the transaction so the rotation itself is a few short writes.
    const access = await this.issuer.mintAccess(client, grant, scope, now);
    const next = this.issuer.mintRefresh(client, grant, stored.scope, access.record.jti, now);
    const response = await this.issuer.response(client, grant, access, scope, next.token, now, false);
    const replacement = this.gracePeriod > 0 ? this.sealer.seal(JSON.stringify(response)) : null;
    const rotated = await this.refreshTokens.rotate({ oldHash: stored.tokenHash, clientPk: client.pk, now, replacement, next: next.row, nextAccess: access.record });
    if (rotated) return { response, userId: grant.userId };
    // Another request rotated (or revoked) it between our read and our write.
    const latest = await this.refreshTokens.find(stored.tokenHash);
    if (latest?.usedAt != null) return this.replay(latest, context);
    throw OAuthError.invalidGrant('the refresh token has been revoked');
  }

  /** A used token again: within the grace period, the same successor pair; after it, the family dies. */
  private async replay(stored: NonNullable<Awaited<ReturnType<RefreshTokenRepository['find']>>>, { client, now, ip, events }: GrantContext): Promise<Issued> {
    if (stored.grant.revokedAt === null && stored.replacement && stored.usedAt !== null && now - stored.usedAt <= this.gracePeriod) {
      // A retry is a refresh too: the user is checked again before the stored pair is handed out.
      const { grant } = stored;
      if (grant.userId !== null && !(await this.users.activeAccount(grant.side, grant.userId))) throw OAuthError.invalidGrant('the user account is disabled or locked');
      const previous = this.sealer.open(stored.replacement);
      if (previous) return { response: JSON.parse(previous) as TokenResponse, userId: grant.userId };
    }
    await this.grants.revokeGrant(stored.grantId, now);
    events?.emit({ kind: 'refresh_token.reused', side: client.side, clientId: client.clientId, userId: stored.grant.userId, address: ip, details: { family_revoked: true } });
    throw OAuthError.invalidGrant('the refresh token was already used; every token of this authorization is now revoked');
  }
}
