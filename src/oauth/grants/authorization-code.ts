/**
 * grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.5). The code is consumed before
 * anything else is checked, so each code gets exactly one try; a second presentation revokes
 * every token issued from it (RFC 6749 §4.1.2, RFC 9700 §4.5).
 */
import type { SecretHasher } from '../../security/tokens.js';
import type { GrantRepository, UserRepository } from '../../storage/repositories.js';
import { CODE_PURPOSE } from '../authorization-codes.js';
import { OAuthError } from '../errors.js';
import { isWellFormedVerifier, S256 } from '../pkce.js';
import type { TokenIssuer } from '../token-issuer.js';
import type { GrantContext, GrantHandler, Issued } from './grant.js';

export class AuthorizationCodeGrant implements GrantHandler {
  readonly type = 'authorization_code' as const;

  constructor(
    private readonly grants: GrantRepository,
    private readonly users: UserRepository,
    private readonly hasher: SecretHasher,
    private readonly issuer: TokenIssuer,
  ) {}

  async handle({ client, params, now, ip, events }: GrantContext): Promise<Issued> {
    const code = params.require('code');
    const redirectUri = params.get('redirect_uri');
    const verifier = params.get('code_verifier');
    if (verifier !== undefined && !isWellFormedVerifier(verifier)) {
      throw OAuthError.invalidRequest('code_verifier must be 43 to 128 characters of letters, digits, hyphen, period, underscore or tilde');
    }
    if (code.length > 256) throw OAuthError.invalidGrant('the authorization code is invalid');

    const codeHash = this.hasher.storageKey(CODE_PURPOSE, code);
    const consumed = await this.grants.consumeCode(codeHash, client.pk, now);
    if (!consumed) {
      const existing = await this.grants.findCode(codeHash);
      if (existing?.usedAt != null) {
        await this.grants.revokeGrant(existing.grantId, now);
        const grant = events ? await this.grants.findGrant(existing.grantId) : undefined;
        events?.emit({ kind: 'code.reused', side: client.side, clientId: client.clientId, userId: grant?.userId ?? null, address: ip, details: { grants_revoked: 1 } });
        throw OAuthError.invalidGrant('the authorization code has already been used; tokens issued from it are revoked');
      }
      if (!existing) throw OAuthError.invalidGrant('the authorization code is invalid');
      throw OAuthError.invalidGrant(existing.clientPk !== client.pk ? 'the authorization code was issued to another client' : 'the authorization has been revoked');
    }
    if (consumed.expiresAt <= now) throw OAuthError.invalidGrant('the authorization code has expired');
    // RFC 6749 §4.1.3: redirect_uri is required only when the authorization request carried it
    // (clients relying on their single registered URI send none). Whenever one is sent it must be
    // identical to the URI the code went to: the requested one, or else the registered one.
    if (redirectUri === undefined) {
      if (consumed.redirectUriRequested) throw OAuthError.invalidRequest('redirect_uri is required: the authorization request carried one');
    } else if (redirectUri !== consumed.redirectUri) {
      throw OAuthError.invalidGrant('redirect_uri does not match the one used in the authorization request');
    }
    if (consumed.codeChallenge === null) {
      // A verifier for a code issued without a challenge means someone tries to downgrade PKCE.
      if (verifier !== undefined) throw OAuthError.invalidGrant('code_verifier was sent but the authorization request had no code_challenge');
    } else {
      if (verifier === undefined) throw OAuthError.invalidGrant('code_verifier is required: the authorization request had a code_challenge');
      if (!S256.verify(verifier, consumed.codeChallenge)) throw OAuthError.invalidGrant('code_verifier does not match the code_challenge');
    }

    // consumeCode() refuses codes of revoked grants and returns the grant with the code. A
    // concurrent replay of this code revokes the grant after our consumption: this exchange still
    // wins (exactly one winner), and the token it gets is refused by the API, its grant revoked.
    const { grant } = consumed;
    if (!grant) throw OAuthError.invalidGrant('the authorization has been revoked');
    // Guests (storefront visitors) have no user to check.
    if (grant.userId !== null && !(await this.users.activeAccount(grant.side, grant.userId))) {
      throw OAuthError.invalidGrant('the user account is disabled or locked');
    }
    return this.issuer.issue(client, grant, now);
  }
}
