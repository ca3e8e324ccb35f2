/**
 * Creating and managing users of both sides, for the CLI, first start, the console and (later)
 * the JSON:API. Input is validated and permissions are checked here, so every entry point
 * refuses the same things.
 *
 * Rules: managing users is for admins and the CLI ('forbidden' to others, who may only read
 * themselves). There is always at least one active admin (admin, enabled, not locked): the last
 * one cannot lose the admin right, be disabled, locked or deleted. A user acting through the
 * console cannot remove their own admin right, disable, lock or delete themselves.
 *
 * Setting a password (an admin's reset: the old one may be known to someone else) ends every
 * session of the user and revokes all their grants, so every token issued under the old password
 * stops working at once. Deleting a user deletes their sessions and grants (codes, access and
 * refresh tokens with them); a user who owns clients is refused, naming how many, so that no
 * client-credentials client is left acting as nobody.
 */
import { normalizeLogin } from '../security/logins.js';
import { MAX_PASSWORD_LENGTH, parseId, textProblem } from '../security/input.js';
import { DEFAULT_MIN_PASSWORD_LENGTH, passwordPolicyProblem } from '../security/password-policy.js';
import { hashPassword } from '../security/passwords.js';
import type { SideName } from '../oauth/sides.js';
import type { BackofficeUser, CustomerUser, GrantRepository, SessionRepository, UserRepository } from '../storage/repositories.js';
import type { AuditTrail } from './audit.js';
import { checkedPage, checkedSearch } from './listing.js';
import { isUniqueViolation, ManagementError } from './errors.js';
import { type ActionContext, isSelf, requireAdmin } from './principal.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// Back-office users sign in with username or email, and the CLI takes ids too: a username with
// "@" could be someone else's email, and an all-digit one someone else's id.
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/**
 * A new password against the policy (password-policy.ts: minimum length, common passwords, the
 * user's own username or email), then the limits of what a sign-in form takes. `names` are the
 * username and email of the user whose password it is.
 */
export function checkPassword(password: string, minLength: number = DEFAULT_MIN_PASSWORD_LENGTH, names: readonly (string | undefined)[] = []): void {
  const problem = passwordPolicyProblem(password, { minLength, names });
  if (problem) throw new ManagementError(problem);
  if (password.length > MAX_PASSWORD_LENGTH) throw new ManagementError(`the password must have at most ${MAX_PASSWORD_LENGTH} characters`);
  // New passwords only: control characters cannot be typed reliably into a sign-in form. Sign-in
  // itself accepts any password an account may already have (presentedPasswordProblem).
  if (textProblem(password)) throw new ManagementError('the password must not contain control characters');
}

/**
 * The email as it is stored and shown: its normalised form (normalizeLogin), which is also what
 * makes it unique. Validated after normalising, so what is checked is what is stored.
 */
function normalizedEmail(email: string): string {
  // The pattern's \s leaves out escapes, bells and the like, and surrogates have no UTF-8 form.
  if (textProblem(email)) throw new ManagementError(`the email address ${textProblem(email)}`);
  const normalized = normalizeLogin(email);
  const domain = normalized.slice(normalized.lastIndexOf('@') + 1);
  if (normalized.length > 254 || !EMAIL.test(normalized) || domain.split('.').includes('')) throw new ManagementError(`"${email}" is not a valid email address`);
  return normalized;
}

export type AnyUser = BackofficeUser | CustomerUser;

/**
 * The refusal to make the last active admin (admin, enabled, not locked) inactive. The
 * repository checks and changes in one serialised step (removeAdminStanding, delete), so two
 * admins demoting each other at the same moment cannot both succeed.
 */
const lastAdmin = (user: BackofficeUser, cannot: string) =>
  new ManagementError(`"${user.username}" is the last active admin and cannot ${cannot}; make another user an admin first`);

const now = () => Math.floor(Date.now() / 1000);

export class UserManager {
  constructor(
    private readonly users: UserRepository,
    private readonly sessions: SessionRepository,
    private readonly grants: GrantRepository,
    private readonly audit: AuditTrail,
    /** The setting password_min_length. */
    private readonly passwordMinLength: number = DEFAULT_MIN_PASSWORD_LENGTH,
  ) {}

  async createBackofficeUser(ctx: ActionContext, input: { username: string; email: string; password: string; isAdmin?: boolean }): Promise<BackofficeUser> {
    requireAdmin(ctx, 'manage users');
    // ASCII only, so the username is shown as typed and its normalised form is its lower case.
    if (!USERNAME.test(input.username) || /^\d+$/.test(input.username)) {
      throw new ManagementError('the username must be 1 to 255 letters, digits, ".", "_" or "-", not digits only');
    }
    const email = normalizedEmail(input.email);
    checkPassword(input.password, this.passwordMinLength, [input.username, email]);
    try {
      const user = await this.users.createBackofficeUser({
        username: input.username,
        email,
        isAdmin: input.isAdmin ?? false,
        passwordHash: await hashPassword(input.password),
      });
      this.audit.action(ctx, { kind: 'user.created', side: 'backoffice', userId: user.id, details: { username: user.username, admin: user.isAdmin } });
      return user;
    } catch (e) {
      if (isUniqueViolation(e)) throw new ManagementError('a back-office user with that username or email already exists', 'conflict');
      throw e;
    }
  }

  async createCustomerUser(ctx: ActionContext, input: { email: string; password: string; firstName?: string; lastName?: string }): Promise<CustomerUser> {
    requireAdmin(ctx, 'manage users');
    for (const [what, value] of [['first name', input.firstName], ['last name', input.lastName]] as const) {
      if (value !== undefined && (value.length > 255 || textProblem(value))) throw new ManagementError(`the ${what} must have at most 255 characters and no control characters`);
    }
    const email = normalizedEmail(input.email);
    checkPassword(input.password, this.passwordMinLength, [email]);
    try {
      const user = await this.users.createCustomerUser({
        email,
        firstName: input.firstName || null,
        lastName: input.lastName || null,
        passwordHash: await hashPassword(input.password),
      });
      this.audit.action(ctx, { kind: 'user.created', side: 'storefront', userId: user.id });
      return user;
    } catch (e) {
      if (isUniqueViolation(e)) throw new ManagementError('a storefront user with that email already exists', 'conflict');
      throw e;
    }
  }

  /** A user by id, username (back office) or email: admins see anyone, other users only themselves. */
  async get(ctx: ActionContext, side: SideName, ref: string): Promise<AnyUser> {
    const user = await this.find(side, ref);
    if (!isSelf(ctx, side, user.id)) requireAdmin(ctx, 'manage users');
    return user;
  }

  /** One page of a side's users, oldest first, optionally searched by name or email. */
  async list(ctx: ActionContext, side: SideName, query: { search?: string; page: number; size: number }): Promise<{ items: AnyUser[]; total: number }> {
    requireAdmin(ctx, 'manage users');
    const { page, size } = checkedPage(query.page, query.size);
    const search = checkedSearch(query.search?.trim() || undefined);
    const offset = (page - 1) * size;
    return side === 'backoffice' ? this.users.listBackofficeUsers(offset, size, search) : this.users.listCustomerUsers(offset, size, search);
  }

  /** Finds a user by id, username (back office) or email, with no permission check: for use inside src/management. */
  async find(side: SideName, ref: string): Promise<BackofficeUser | CustomerUser> {
    // All digits is an id (no username is one); an id no row can have (beyond the integer
    // columns, which PostgreSQL refuses to compare with) or text no request may carry is simply
    // not found, never a database error.
    const byId = /^\d+$/.test(ref);
    const id = byId ? parseId(ref) : undefined;
    const user =
      (byId && id === undefined) || textProblem(ref)
        ? undefined
        : side === 'backoffice'
          ? id !== undefined
            ? await this.users.findBackofficeUser(id)
            : await this.users.findBackofficeUserByLogin(ref)
          : id !== undefined
            ? await this.users.findCustomerUser(id)
            : await this.users.findCustomerUserByEmail(ref);
    if (!user) throw new ManagementError(`no ${side} user "${ref}"`, 'not_found');
    return user;
  }

  async setFlag(ctx: ActionContext, side: SideName, ref: string, flag: 'enabled' | 'locked', value: boolean): Promise<AnyUser> {
    requireAdmin(ctx, 'manage users');
    if (side === 'storefront' && flag === 'locked') throw new ManagementError('storefront users cannot be locked; disable them instead');
    const user = await this.find(side, ref);
    const deactivates = (flag === 'enabled' && !value) || (flag === 'locked' && value);
    if (deactivates && side === 'backoffice') {
      if (isSelf(ctx, side, user.id)) throw new ManagementError(`you cannot ${flag === 'enabled' ? 'disable' : 'lock'} yourself`);
      const loss = flag === 'enabled' ? 'disabled' : 'locked';
      this.check(await this.users.removeAdminStanding(user.id, loss), side, ref, () => lastAdmin(user as BackofficeUser, `be ${loss}`));
    } else {
      await this.users.setFlag(side, user.id, flag, value);
    }
    this.audit.action(ctx, { kind: 'user.updated', side, userId: user.id, details: { [flag]: value } });
    return this.find(side, String(user.id));
  }

  /** Grants or removes the back-office admin right. */
  async setAdmin(ctx: ActionContext, ref: string, value: boolean): Promise<BackofficeUser> {
    requireAdmin(ctx, 'manage users');
    const user = (await this.find('backoffice', ref)) as BackofficeUser;
    if (!value) {
      if (isSelf(ctx, 'backoffice', user.id)) throw new ManagementError('you cannot remove your own admin right; another admin can');
      this.check(await this.users.removeAdminStanding(user.id, 'admin_right'), 'backoffice', ref, () => lastAdmin(user, 'lose the admin right'));
    } else {
      await this.users.setAdmin(user.id, value);
    }
    this.audit.action(ctx, { kind: value ? 'user.admin_granted' : 'user.admin_revoked', side: 'backoffice', userId: user.id });
    return (await this.find('backoffice', String(user.id))) as BackofficeUser;
  }

  /**
   * Sets a new password (checked like at creation), then ends the user's sessions and revokes
   * their grants: whoever knew the old password loses what they got with it.
   */
  async setPassword(ctx: ActionContext, side: SideName, ref: string, password: string): Promise<AnyUser> {
    requireAdmin(ctx, 'manage users');
    const user = await this.find(side, ref);
    checkPassword(password, this.passwordMinLength, ['username' in user ? user.username : undefined, user.email]);
    await this.users.setPasswordHash(side, user.id, await hashPassword(password));
    const sessions = await this.sessions.deleteForUser(side, user.id);
    const grants = await this.grants.revokeAllGrants({ side, userId: user.id }, now());
    this.audit.action(ctx, { kind: 'user.password_set', side, userId: user.id, details: { sessions_ended: sessions, grants_revoked: grants } });
    return this.find(side, String(user.id));
  }

  /** Revokes every grant of the user, with all their tokens; returns how many grants. */
  async revokeTokens(ctx: ActionContext, side: SideName, ref: string): Promise<{ user: AnyUser; grants: number }> {
    requireAdmin(ctx, 'manage users');
    const user = await this.find(side, ref);
    const grants = await this.grants.revokeAllGrants({ side, userId: user.id }, now());
    this.audit.action(ctx, { kind: 'tokens.revoked', side, userId: user.id, details: { grants } });
    return { user, grants };
  }

  /** Deletes the user with their sessions, grants and tokens; refused while they own clients. */
  async delete(ctx: ActionContext, side: SideName, ref: string): Promise<AnyUser> {
    requireAdmin(ctx, 'manage users');
    const user = await this.find(side, ref);
    if (side === 'backoffice') {
      if (isSelf(ctx, side, user.id)) throw new ManagementError('you cannot delete yourself; another admin can');
    }
    const result = await this.users.delete(side, user.id);
    if (result === false) throw new ManagementError(`no ${side} user "${ref}"`, 'not_found');
    if (result === 'last_admin') throw lastAdmin(user as BackofficeUser, 'be deleted');
    if (result !== true) {
      throw new ManagementError(`${side} user ${user.id} owns ${result.ownsClients} client(s); delete them or give them another owner first`, 'conflict');
    }
    this.audit.action(ctx, { kind: 'user.deleted', side, userId: user.id, details: 'username' in user ? { username: user.username } : {} });
    return user;
  }

  /** Throws when the repository found no such user, or refused because they are the last active admin. */
  private check(result: boolean | 'last_admin', side: SideName, ref: string, refusal: () => ManagementError): void {
    if (result === false) throw new ManagementError(`no ${side} user "${ref}"`, 'not_found');
    if (result === 'last_admin') throw refusal();
  }
}
