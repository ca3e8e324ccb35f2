/**
 * Turns a grant into a token response: an access token, and a refresh token when the client
 * may refresh. Shared by every grant type so their responses cannot drift apart.
 */
import { newSecretToken, type SecretHasher } from '../security/tokens.js';
import type { Client, Grant, GrantRepository, NewRefreshToken, RefreshTokenRepository } from '../storage/repositories.js';
import type { AccessTokenService, MintedAccessToken } from './access-tokens.js';
import { type IdTokenService, wantsIdToken } from './oidc/id-tokens.js';
import type { SubjectIdentifiers } from './oidc/subjects.js';
import type { Issued, TokenResponse } from './grants/grant.js';
import type { SideRegistry } from './sides.js';

export const REFRESH_TOKEN_PURPOSE = 'refresh-token';

export class TokenIssuer {
  constructor(
    readonly accessTokens: AccessTokenService,
    private readonly grants: GrantRepository,
    private readonly refreshTokens: RefreshTokenRepository,
    private readonly hasher: SecretHasher,
    readonly sides: SideRegistry,
    private readonly refreshTtl: number,
    private readonly idTokens: IdTokenService,
    private readonly subjects: SubjectIdentifiers,
    /** time_ordered_tokens: refresh tokens that start with their time (newSecretToken). */
    private readonly timeOrderedTokens: boolean,
  ) {}

  /** The `sub` of a grant's tokens at `client`: never the database id (SubjectIdentifiers.ofGrant). */
  subjectOf(client: Pick<Client, 'side' | 'clientId' | 'subjectType'>, grant: Pick<Grant, 'userId' | 'subject' | 'oidc'>): string {
    return this.subjects.ofGrant(client, grant);
  }

  mintAccess(client: Client, grant: Grant, scope: string, now: number): Promise<MintedAccessToken> {
    return this.accessTokens.mint({
      side: this.sides.require(grant.side),
      grantId: grant.id,
      clientPk: client.pk,
      clientId: client.clientId,
      subject: this.subjectOf(client, grant),
      scope,
      now,
    });
  }

  /** A new refresh token (returned once, stored hashed) carrying the grant's scope. */
  mintRefresh(client: Client, grant: Grant, scope: string, accessJti: string, now: number): { token: string; row: NewRefreshToken } {
    const token = newSecretToken(this.timeOrderedTokens);
    return {
      token,
      row: { tokenHash: this.hashRefresh(token), grantId: grant.id, clientPk: client.pk, scope, accessJti, createdAt: now, expiresAt: now + this.refreshTtl },
    };
  }

  private hashRefresh(token: string): string {
    return this.hasher.storageKey(REFRESH_TOKEN_PURPOSE, token);
  }

  /** The stored refresh token a client presented (with its grant), whatever its state. */
  findRefresh(token: string) {
    // Ours are 55 characters (43 with time_ordered_tokens off, or issued before it); anything much longer is not worth hashing.
    return token.length <= 256 ? this.refreshTokens.find(this.hashRefresh(token)) : Promise.resolve(undefined);
  }

  /**
   * The token response: with an ID token when the grant is an OpenID Connect sign-in whose scope
   * still holds openid. `first`: the code exchange, whose ID token echoes the nonce.
   */
  async response(client: Client, grant: Grant, access: MintedAccessToken, scope: string, refreshToken: string | undefined, now: number, first: boolean): Promise<TokenResponse> {
    const idToken = wantsIdToken(grant, scope)
      ? await this.idTokens.issue({ side: this.sides.require(grant.side), client, grant, accessToken: access.accessToken, now, first })
      : undefined;
    return {
      token_type: 'Bearer',
      expires_in: access.expiresIn,
      access_token: access.accessToken,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      ...(scope ? { scope } : {}),
      ...(idToken ? { id_token: idToken } : {}),
    };
  }

  /**
   * Issues and stores the tokens of a fresh grant: an access token, and a refresh token when the
   * client may refresh (never for client credentials, which can simply ask again). A grant
   * `isNew` (not stored yet: no code came before) is stored with them.
   */
  async issue(client: Client, grant: Grant, now: number, options: { withRefresh?: boolean; isNew?: boolean } = {}): Promise<Issued> {
    const withRefresh = options.withRefresh ?? client.grants.includes('refresh_token');
    const access = await this.mintAccess(client, grant, grant.scope, now);
    const refresh = withRefresh ? this.mintRefresh(client, grant, grant.scope, access.record.jti, now) : undefined;
    const response = await this.response(client, grant, access, grant.scope, refresh?.token, now, true);
    await this.grants.recordIssued(access.record, refresh?.row, options.isNew ? grant : undefined);
    return { response, userId: grant.userId };
  }
}
