/**
 * The UserInfo endpoint's answer (OpenID Connect Core §5.3): the claims the access token's scope
 * releases about its user, under the same subject as the client's ID tokens. The token must be
 * one of this side's access tokens with openid: an ID token is not an access token (its typ
 * differs), and the other side's tokens fail the issuer and audience checks.
 */
import type { GrantRepository } from '../../storage/repositories.js';
import type { AccessTokenService } from '../access-tokens.js';
import { OAuthError } from '../errors.js';
import type { Side } from '../sides.js';
import { claimsOfScope, hasOpenId } from './claims.js';
import type { IdTokenService } from './id-tokens.js';

export class UserInfo {
  constructor(
    private readonly accessTokens: AccessTokenService,
    private readonly grants: GrantRepository,
    private readonly idTokens: IdTokenService,
  ) {}

  async claims(accessToken: string, side: Side): Promise<Record<string, unknown>> {
    const token = await this.accessTokens.validate(accessToken, side);
    if (!hasOpenId(token.scope)) throw OAuthError.insufficientScope('the access token lacks the openid scope that UserInfo needs');
    // openid is granted only to a signed-in user's request, so a token with it has a user.
    if (token.userId === null) throw OAuthError.invalidToken('the access token is not for a signed-in user');
    // The claims its scope releases, and those the sign-in asked for by name (the claims
    // parameter), under the access token's sub, which is its ID tokens' (SubjectIdentifiers.ofGrant).
    const oidc = (await this.grants.findGrant(token.grantId))?.oidc;
    const claims = await this.idTokens.userClaims(side, token.userId, new Set([...claimsOfScope(token.scope), ...(oidc?.userinfoClaims ?? [])]));
    return { sub: token.sub, ...claims };
  }
}
