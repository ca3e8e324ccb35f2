/**
 * Minting access tokens for a grant and validating them at the APIs. A token is good only if
 * its signature and claims hold and, in storage, it and its grant are unrevoked, its client is
 * active and its user may still sign in: one indexed query per API request.
 */
import type { GrantRepository } from '../storage/repositories.js';
import { OAuthError } from './errors.js';
import type { Side } from './sides.js';
import { type AccessTokenCodec, newJti } from './tokens.js';

export interface IssuedAccessToken {
  accessToken: string;
  expiresIn: number;
  jti: string;
}

export interface ValidatedAccessToken {
  sub: string;
  clientId: string;
  scope: string;
  userId: number | null;
  jti: string;
}

export class AccessTokenService {
  constructor(
    private readonly codec: AccessTokenCodec,
    private readonly grants: GrantRepository,
    private readonly ttl: number,
  ) {}

  async issue(input: { side: Side; grantId: string; clientPk: number; clientId: string; subject: string; scope: string; now: number }): Promise<IssuedAccessToken> {
    const jti = newJti();
    const exp = input.now + this.ttl;
    const accessToken = this.codec.sign({
      iss: input.side.issuer,
      sub: input.subject,
      aud: input.side.audience,
      client_id: input.clientId,
      ...(input.scope ? { scope: input.scope } : {}),
      jti,
      iat: input.now,
      nbf: input.now,
      exp,
    });
    await this.grants.recordAccessToken({ jti, grantId: input.grantId, clientPk: input.clientPk, issuedAt: input.now, expiresAt: exp });
    return { accessToken, expiresIn: this.ttl, jti };
  }

  /** Validates a bearer token for `side`'s API; invalid_token for any failure. */
  async validate(token: string, side: Side, now = Math.floor(Date.now() / 1000)): Promise<ValidatedAccessToken> {
    const claims = this.codec.verify(token);
    if (!claims) throw OAuthError.invalidToken('the access token is malformed or its signature is invalid');
    const { iss, aud, exp, nbf, sub, jti, client_id: clientId, scope } = claims;
    if (iss !== side.issuer || aud !== side.audience) throw OAuthError.invalidToken('the access token was not issued for this API');
    if (typeof exp !== 'number' || exp <= now) throw OAuthError.invalidToken('the access token has expired');
    if (typeof nbf === 'number' && nbf > now + 5) throw OAuthError.invalidToken('the access token is not yet valid');
    if (typeof jti !== 'string' || typeof sub !== 'string' || typeof clientId !== 'string') throw OAuthError.invalidToken('the access token lacks required claims');
    const state = await this.grants.checkAccessToken(jti, side.name);
    if (!state?.usable) throw OAuthError.invalidToken('the access token has been revoked');
    return { sub, clientId, scope: typeof scope === 'string' ? scope : '', userId: state.userId, jti };
  }
}
