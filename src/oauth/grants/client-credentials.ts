/**
 * grant_type=client_credentials (RFC 6749 §4.4). As in the original product, the client has an
 * owner user of its side and the token acts as that user, with that user's role. Confidential clients only; no
 * refresh token (the client can always ask again).
 */
import { rowId } from '../../security/tokens.js';
import type { UserRepository } from '../../storage/repositories.js';
import { OAuthError } from '../errors.js';
import { ScopePolicy } from '../scopes.js';
import { activeUserRole } from '../user-role.js';
import type { TokenIssuer } from '../token-issuer.js';
import type { GrantContext, GrantHandler, Issued } from './grant.js';

export class ClientCredentialsGrant implements GrantHandler {
  readonly type = 'client_credentials' as const;

  constructor(
    private readonly users: UserRepository,
    private readonly issuer: TokenIssuer,
    private readonly scopes: ScopePolicy,
  ) {}

  async handle({ client, params, now }: GrantContext): Promise<Issued> {
    if (client.type !== 'confidential') throw OAuthError.unauthorizedClient('only confidential clients may use the client_credentials grant');
    if (client.ownerUserId === null) throw OAuthError.unauthorizedClient('the client has no owner user to act as');
    const requested = this.scopes.grant(params.get('scope'), client);
    // The token acts as the owner, so it carries only what the owner's role may hold.
    const role = await activeUserRole(this.users, client.side, client.ownerUserId);
    if (!role) throw OAuthError.invalidGrant('the owner user of the client is disabled or locked');
    const scope = ScopePolicy.forRole(requested, role);
    const grant = {
      id: rowId(),
      clientPk: client.pk,
      side: client.side,
      userId: client.ownerUserId,
      subject: null,
      scope,
      createdAt: now,
      expiresAt: now,
    };
    return this.issuer.issue(client, grant, now, { withRefresh: false, isNew: true });
  }
}
