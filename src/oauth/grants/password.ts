/**
 * grant_type=password (RFC 6749 §4.3): legacy. RFC 9700 §2.4 says not to use it; the original
 * product has it, so it exists here only when enabled globally and granted to the client.
 */
import { verifyPassword } from '../../security/passwords.js';
import { Throttle } from '../../security/throttle.js';
import { rowId } from '../../security/tokens.js';
import type { UserRepository } from '../../storage/repositories.js';
import { OAuthError } from '../errors.js';
import { ScopePolicy } from '../scopes.js';
import { roleOf } from '../api-scopes.js';
import type { TokenIssuer } from '../token-issuer.js';
import type { GrantContext, GrantHandler, Issued } from './grant.js';

/** The one description of every refused password grant, whatever the reason. */
const INVALID_CREDENTIALS = 'invalid username or password';

export class PasswordGrant implements GrantHandler {
  readonly type = 'password' as const;

  constructor(
    private readonly users: UserRepository,
    private readonly issuer: TokenIssuer,
    private readonly scopes: ScopePolicy,
    private readonly throttle: Throttle,
  ) {}

  async handle({ client, params, now, ip, events }: GrantContext): Promise<Issued> {
    const username = params.require('username');
    const password = params.requirePassword('password');
    const scope = this.scopes.grant(params.get('scope'), client);
    const account = username.length <= 255 ? await this.users.findLoginAccount(client.side, username) : undefined;
    // Counted like the login form of the side (same keys), before the password is verified.
    const keys = ip === undefined ? [] : Throttle.loginKeys(client.side, username.slice(0, 255), ip);
    const retryAfter = keys.length > 0 ? await this.throttle.reserve(keys, now) : 0;
    // Audited by account id when there is one; never the typed name (it may be a mistyped password).
    const about = { side: client.side, clientId: client.clientId, userId: account?.id ?? null, address: ip };
    if (retryAfter > 0) {
      events?.emit({ kind: 'signin.blocked', ...about, details: { via: 'password_grant', retry_after: retryAfter } });
      throw OAuthError.tooManyAttempts(retryAfter, 'invalid_grant');
    }
    // Always verify, so timing does not tell whether the account exists. Every failure (unknown
    // user, wrong password, disabled or locked account) gets the same answer and stays counted:
    // telling a refused account apart would confirm its password to whoever guessed it.
    const ok = await verifyPassword(password, account?.passwordHash);
    if (!account || !ok || account.refusal) {
      events?.emit({ kind: 'signin.failed', ...about, details: { via: 'password_grant', reason: !account ? 'unknown_account' : !ok ? 'wrong_password' : account.refusal ?? '' } });
      throw OAuthError.invalidGrant(INVALID_CREDENTIALS);
    }
    events?.emit({ kind: 'signin.succeeded', ...about, details: { via: 'password_grant' } });
    await this.throttle.release(keys);
    // The account was read whole above (and is active): its role needs no second query.
    const held = ScopePolicy.forRole(scope, roleOf(client.side, account.isAdmin));
    const grant = { id: rowId(), clientPk: client.pk, side: client.side, userId: account.id, subject: null, scope: held, createdAt: now, expiresAt: now };
    return this.issuer.issue(client, grant, now, { isNew: true });
  }
}
