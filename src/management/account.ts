/**
 * Self-service: what a signed-in user of either side does to their own account, for the account
 * pages (and later the API). Every action acts on the principal's own account, never on an id
 * taken from the request, so no request can reach another user's applications or password.
 *
 * - authorizedApplications: the applications that can act for the user, because the user allowed
 *   them (a remembered consent) or because they hold a usable token for the user; not the
 *   user's own client-credentials clients, whose tokens act for them without any permission.
 * - removeAccess: revokes every grant of the user for one application (its access and refresh
 *   tokens stop working at once) and forgets the remembered consent, so the next authorization
 *   asks again (a skip-consent application never asks: it gets new tokens at the next sign-in).
 * - changePassword: the current password is required (and counted by the brute-force throttle
 *   like a sign-in, so this cannot be used to guess it); the new one passes the password policy;
 *   every other session of the user ends and every grant is revoked.
 */
import type { SideName } from '../oauth/sides.js';
import { presentedPasswordProblem, textProblem } from '../security/input.js';
import { DEFAULT_MIN_PASSWORD_LENGTH } from '../security/password-policy.js';
import { hashPassword, verifyPassword } from '../security/passwords.js';
import { Throttle } from '../security/throttle.js';
import type { Client, ClientRepository, ConsentRepository, GrantRepository, SessionRepository, UserRepository } from '../storage/repositories.js';
import type { AuditTrail } from './audit.js';
import { ManagementError, TooManyAttempts } from './errors.js';
import type { ActionContext } from './principal.js';
import { checkPassword } from './users.js';

/** One application that can act for the user, as the account page lists it. */
export interface AuthorizedApplication {
  clientId: string;
  name: string;
  /** The remembered scopes, or (nothing remembered) the union of the live grants' scopes. */
  scopes: string[];
  /** When the user first allowed it: the remembered consent, else the oldest live grant. */
  allowedAt: number;
  /** When a token was last issued to it for the user; null when none is on record any more. */
  lastUsedAt: number | null;
  /** Whether it is let through without the consent page: removing its access does not make it ask. */
  skipConsent: boolean;
}

/**
 * The current password was refused too often from this address: like the login form, the
 * password is not even checked until `retryAfter` seconds have passed.
 */
export class TooManyPasswordAttempts extends TooManyAttempts {
  constructor(retryAfter: number) {
    super('too many wrong passwords; try again later', retryAfter);
    this.name = 'TooManyPasswordAttempts';
  }
}

/** The current password is missing or wrong (a refusal about that field, not about the new password). */
export class CurrentPasswordRefused extends ManagementError {
  constructor(message: string) {
    super(message);
    this.name = 'CurrentPasswordRefused';
  }
}

/** The user acting: account actions are for users, never for the CLI. */
function self(ctx: ActionContext): { side: SideName; userId: number } {
  if (ctx.principal.kind !== 'user') throw new ManagementError('account actions are for a signed-in user', 'forbidden');
  return ctx.principal;
}

const now = () => Math.floor(Date.now() / 1000);

/** Whether `client` is a client-credentials client that user `userId` of `side` owns: its tokens act as them. */
const ownClientCredentials = (client: Client, side: SideName, userId: number) =>
  client.side === side && client.ownerUserId === userId && client.grants.includes('client_credentials');

export class AccountManager {
  constructor(
    private readonly repos: {
      users: UserRepository;
      clients: ClientRepository;
      grants: GrantRepository;
      consents: ConsentRepository;
      sessions: SessionRepository;
    },
    private readonly throttle: Throttle,
    private readonly audit: AuditTrail,
    /** The setting password_min_length. */
    private readonly passwordMinLength: number = DEFAULT_MIN_PASSWORD_LENGTH,
  ) {}

  /** The applications that can act for the user, the most recently used first. */
  async authorizedApplications(ctx: ActionContext): Promise<AuthorizedApplication[]> {
    const { side, userId } = self(ctx);
    const [consents, liveGrants, lastIssued] = await Promise.all([
      this.repos.consents.listForUser(side, userId),
      this.repos.grants.liveGrantsOfUser(side, userId, now()),
      this.repos.grants.lastIssuedOfUser(side, userId),
    ]);
    const found = new Map<number, { scopes: Set<string>; allowedAt: number; remembered: boolean }>();
    for (const consent of consents) found.set(consent.clientPk, { scopes: new Set(consent.scopes), allowedAt: consent.createdAt, remembered: true });
    for (const grant of liveGrants) {
      const entry = found.get(grant.clientPk) ?? { scopes: new Set<string>(), allowedAt: grant.createdAt, remembered: false };
      found.set(grant.clientPk, entry);
      // What the user allowed is the remembered consent when there is one; the grants only
      // speak for applications that were never remembered (skip-consent, remember_consent off).
      if (entry.remembered) continue;
      for (const scope of grant.scope.split(' ')) if (scope !== '') entry.scopes.add(scope);
      entry.allowedAt = Math.min(entry.allowedAt, grant.createdAt);
    }
    const lastUse = new Map(lastIssued.map((row) => [row.clientPk, row.at]));
    const applications: AuthorizedApplication[] = [];
    for (const [clientPk, entry] of found) {
      const client = await this.repos.clients.findByPk(clientPk);
      // Deleted meanwhile: its consents and grants went with it.
      if (!client) continue;
      // The user's own client-credentials client (a CI pipeline) holds tokens for them that no
      // one allowed, and gets a new one at once: "Remove access" could not remove anything.
      if (!entry.remembered && ownClientCredentials(client, side, userId)) continue;
      applications.push({
        clientId: client.clientId,
        name: client.name,
        scopes: [...entry.scopes],
        allowedAt: entry.allowedAt,
        lastUsedAt: lastUse.get(clientPk) ?? null,
        skipConsent: client.skipConsent,
      });
    }
    // Newest use first; never used (or no longer on record) last, the newest allowed first.
    return applications.sort((a, b) => (b.lastUsedAt ?? -1) - (a.lastUsedAt ?? -1) || b.allowedAt - a.allowedAt);
  }

  /**
   * Revokes every grant of the user for the application and forgets the remembered consent.
   * An application the user has not authorized (another side's, another user's only, unknown) is
   * not_found, so the answer confirms nothing about it. Returns the application's name, and
   * whether it skips the consent page (then it gets new tokens without asking).
   */
  async removeAccess(ctx: ActionContext, clientId: string): Promise<{ name: string; skipConsent: boolean }> {
    const { side, userId } = self(ctx);
    const client = textProblem(clientId, 255) ? undefined : await this.repos.clients.findByClientId(clientId);
    const notAuthorized = new ManagementError(`"${clientId}" is not an application you have authorized`, 'not_found');
    if (!client || client.side !== side) throw notAuthorized;
    // Grants first: once the consent is gone a new authorization asks again, and by then no
    // token of the old grants works.
    const grantsRevoked = await this.repos.grants.revokeAllGrants({ side, userId, clientPk: client.pk }, now());
    const consentForgotten = await this.repos.consents.delete(side, userId, client.pk);
    if (grantsRevoked === 0 && !consentForgotten) throw notAuthorized;
    this.audit.action(ctx, { kind: 'consent.revoked', side, userId, clientId: client.clientId, details: { grants_revoked: grantsRevoked, consent_forgotten: consentForgotten } });
    return { name: client.name, skipConsent: client.skipConsent };
  }

  /**
   * Changes the user's password: `current` must be right (a wrong one is counted like a failed
   * sign-in of the user's login name from this address, and a blocked name is refused with
   * TooManyPasswordAttempts without checking), `next` must pass the password policy. Then every
   * session of the user but `keepSession` (the hash of the session making the change; undefined
   * ends them all) ends, and every grant of the user is revoked: that ends their refresh tokens,
   * and their access tokens with them, which is simplest and what an admin's reset does too.
   */
  async changePassword(ctx: ActionContext, current: string, next: string, keepSession: string | undefined): Promise<void> {
    const { side, userId } = self(ctx);
    const user = side === 'backoffice' ? await this.repos.users.findBackofficeUser(userId) : await this.repos.users.findCustomerUser(userId);
    if (!user) throw new ManagementError('your account no longer exists', 'not_found');
    if (current === '') throw new CurrentPasswordRefused('type your current password');
    const login = 'username' in user ? user.username : user.email;
    checkPassword(next, this.passwordMinLength, [login, user.email]);

    // As the login form does: counted before the check, and while blocked not checked at all.
    // An oversized password is wrong without being hashed (and without being counted, as there).
    const keys = Throttle.loginKeys(side, login, ctx.address ?? '');
    const about = { side, userId } as const;
    let right = false;
    if (!presentedPasswordProblem(current)) {
      const retryAfter = await this.throttle.reserve(keys, now());
      if (retryAfter > 0) {
        this.audit.action(ctx, { kind: 'signin.blocked', ...about, details: { via: 'password_change', retry_after: retryAfter } });
        throw new TooManyPasswordAttempts(retryAfter);
      }
      const account = await this.repos.users.findLoginAccount(side, user.email);
      right = await verifyPassword(current, account?.id === userId ? account.passwordHash : undefined);
    }
    if (!right) {
      this.audit.action(ctx, { kind: 'signin.failed', ...about, details: { via: 'password_change', reason: 'wrong_password' } });
      throw new CurrentPasswordRefused('the current password is not right');
    }
    await this.throttle.release(keys);
    if (next === current) throw new ManagementError('the new password must differ from the current one');

    await this.repos.users.setPasswordHash(side, userId, await hashPassword(next));
    const sessionsEnded = keepSession === undefined ? await this.repos.sessions.deleteForUser(side, userId) : await this.repos.sessions.deleteOtherSessions(side, userId, keepSession);
    const grantsRevoked = await this.repos.grants.revokeAllGrants({ side, userId }, now());
    this.audit.action(ctx, { kind: 'user.password_changed', ...about, details: { sessions_ended: sessionsEnded, grants_revoked: grantsRevoked } });
  }
}
