/**
 * Issues authorization codes: random, stored only under a keyed hash (behind the time they were
 * made, when they start with it), bound to client, redirect URI, user, side, scope and PKCE
 * challenge, and short-lived (RFC 6749 §4.1.2).
 */
import { newSecretToken, randomToken, rowId, type SecretHasher } from '../security/tokens.js';
import type { GrantRepository, OidcGrant } from '../storage/repositories.js';
import type { AuthorizationRequest } from './authorize.js';

export const CODE_PURPOSE = 'authorization-code';

export class AuthorizationCodeIssuer {
  constructor(
    private readonly grants: GrantRepository,
    private readonly hasher: SecretHasher,
    private readonly ttl: number,
    /** time_ordered_tokens: codes that start with their time (newSecretToken). */
    private readonly timeOrdered: boolean,
  ) {}

  /**
   * Creates the grant and its code; returns the code to send to the client. The grant is for a
   * signed-in user, or (userId null) for a storefront guest with a fresh visitor subject; `oidc`
   * is the sign-in an OpenID Connect request's ID tokens will tell of.
   */
  async issue(request: AuthorizationRequest, userId: number | null, oidc?: OidcGrant, now = Math.floor(Date.now() / 1000)): Promise<string> {
    const code = newSecretToken(this.timeOrdered);
    const expiresAt = now + this.ttl;
    const subject = userId === null ? `visitor:${randomToken(16)}` : null;
    await this.grants.createWithCode(
      { id: rowId(), clientPk: request.client.pk, side: request.side.name, userId, subject, scope: request.scope, createdAt: now, expiresAt, oidc: oidc ?? null },
      { codeHash: this.hasher.storageKey(CODE_PURPOSE, code), clientPk: request.client.pk, redirectUri: request.redirectUri, redirectUriRequested: request.redirectUriRequested, codeChallenge: request.codeChallenge ?? null, expiresAt },
    );
    return code;
  }
}
