/**
 * Token introspection (RFC 7662) for resource servers: confidential clients of a side may ask
 * about tokens of that side. Anything expired, revoked, foreign or unreadable is just
 * {"active": false}, with no reason given (§2.2).
 */
import type { Client, ClientRepository, UserRepository } from '../storage/repositories.js';
import type { AccessTokenService } from './access-tokens.js';
import { OAuthError } from './errors.js';
import type { Params } from './params.js';
import type { SideRegistry } from './sides.js';
import type { TokenIssuer } from './token-issuer.js';

export type IntrospectionResponse = { active: false } | ({ active: true } & Record<string, unknown>);

const INACTIVE: IntrospectionResponse = { active: false };

export class Introspection {
  constructor(
    private readonly accessTokens: AccessTokenService,
    private readonly clients: ClientRepository,
    private readonly users: UserRepository,
    private readonly issuer: TokenIssuer,
    private readonly sides: SideRegistry,
  ) {}

  async introspect(caller: Client, params: Params, now = Math.floor(Date.now() / 1000)): Promise<IntrospectionResponse> {
    if (caller.type !== 'confidential') throw OAuthError.invalidClient('introspection is for confidential clients');
    const token = params.require('token');
    params.get('token_type_hint');
    if (token.length > 8192) return INACTIVE;
    const side = this.sides.require(caller.side);
    if (token.split('.').length === 3) {
      try {
        const { claims } = await this.accessTokens.validate(token, side, now);
        const { scope, client_id, sub, aud, iss, exp, iat, nbf, jti } = claims;
        return { active: true, scope: scope ?? '', client_id, sub, aud, iss, exp, iat, nbf, jti, token_type: 'Bearer' };
      } catch (e) {
        if (e instanceof OAuthError) return INACTIVE;
        throw e;
      }
    }
    const stored = await this.issuer.findRefresh(token);
    if (!stored || stored.grant.side !== side.name || stored.usedAt !== null || stored.grant.revokedAt !== null || stored.expiresAt <= now) return INACTIVE;
    const owner = await this.clients.findByPk(stored.clientPk);
    if (!owner?.active) return INACTIVE;
    if (stored.grant.userId !== null && !(await this.users.activeAccount(stored.grant.side, stored.grant.userId))) return INACTIVE;
    // No token_type: RFC 7662 §2.2 means by it the RFC 6749 type of an access token ("Bearer"),
    // which a refresh token does not have; "refresh_token" there would read as a token type.
    return {
      active: true,
      scope: stored.scope,
      client_id: owner.clientId,
      sub: this.issuer.subjectOf(owner, stored.grant),
      aud: side.audience,
      iss: side.issuer,
      exp: stored.expiresAt,
      iat: stored.createdAt,
      nbf: stored.createdAt,
    };
  }
}
