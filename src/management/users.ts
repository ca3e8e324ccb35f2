/**
 * Creating and managing users of both sides, for the CLI, first start, the console and (later)
 * the JSON:API. Input is validated and permissions are checked here, so every entry point
 * refuses the same things.
 *
 * Rules: managing users is for admins and the CLI ('forbidden' to others). Other users know
 * only themselves: they may read themselves (and a non-admin back-office user's list holds only
 * them), and anyone else is 'not_found', as if they did not exist, so that ids, usernames and
 * emails are never confirmed. A customer may change their own email and names, a non-admin
 * back-office user their own email (update). A non-admin told that an email address is taken
 * learns that it is registered: each such refusal is counted by the brute-force throttle
 * (Throttle.profileKeys), and past its limit every email change of theirs is refused with
 * TooManyAttempts until the window ends. There is always at least one active admin (admin,
 * enabled, not locked): the last one cannot lose the admin right, be disabled, locked or deleted.
 * A user acting through the console or the API cannot remove their own admin right, disable,
 * lock or delete themselves.
 *
 * Refusals about one input name it (ManagementError.field, by its JSON:API attribute name), so
 * the API can point at it.
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
import { Throttle } from '../security/throttle.js';
import type { SideName } from '../oauth/sides.js';
import type { BackofficeUser, CustomerUser, GrantRepository, ProfileChanges, SessionRepository, UserRepository } from '../storage/repositories.js';
import type { AuditTrail } from './audit.js';
import { checkedPage, checkedSearch } from './listing.js';
import { isUniqueViolation, ManagementError, TooManyAttempts } from './errors.js';
import { type ActionContext, isAdmin, isSelf, requireAdmin } from './principal.js';

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
  if (problem) throw new ManagementError(problem, 'invalid_input', 'password');
  if (password.length > MAX_PASSWORD_LENGTH) throw new ManagementError(`the password must have at most ${MAX_PASSWORD_LENGTH} characters`, 'invalid_input', 'password');
  // New passwords only: control characters cannot be typed reliably into a sign-in form. Sign-in
  // itself accepts any password an account may already have (presentedPasswordProblem).
  if (textProblem(password)) throw new ManagementError('the password must not contain control characters', 'invalid_input', 'password');
}

/**
 * The email as it is stored and shown: its normalised form (normalizeLogin), which is also what
 * makes it unique. Validated after normalising, so what is checked is what is stored.
 */
function normalizedEmail(email: string): string {
  // The pattern's \s leaves out escapes, bells and the like, and surrogates have no UTF-8 form.
  if (textProblem(email)) throw new ManagementError(`the email address ${textProblem(email)}`, 'invalid_input', 'email');
  const normalized = normalizeLogin(email);
  const domain = normalized.slice(normalized.lastIndexOf('@') + 1);
  if (normalized.length > 254 || !EMAIL.test(normalized) || domain.split('.').includes('')) throw new ManagementError(`"${email}" is not a valid email address`, 'invalid_input', 'email');
  return normalized;
}

/** A customer's first or last name as stored: checked as text, and empty stored as none. */
function checkedName(value: string, field: 'firstName' | 'lastName'): string | null {
  if (value.length > 255 || textProblem(value)) {
    throw new ManagementError(`the ${field === 'firstName' ? 'first' : 'last'} name must have at most 255 characters and no control characters`, 'invalid_input', field);
  }
  return value || null;
}

/** What update() may change, by JSON:API attribute name; undefined members stay as they are. */
export interface UserChanges {
  email?: string;
  /** Customers only; empty clears the name. */
  firstName?: string;
  lastName?: string;
  enabled?: boolean;
  /** Back office only. */
  locked?: boolean;
  /** Back office only: the admin right. */
  admin?: boolean;
  /** An admin's reset, as setPassword. */
  password?: string;
}

/**
 * What a non-admin may change of their own account, per side (the rest is for admins): a
 * customer their email and names; a back-office user, who manages only themselves, their email.
 */
const SELF_SERVICE: Readonly<Record<SideName, ReadonlySet<keyof UserChanges>>> = {
  storefront: new Set(['email', 'firstName', 'lastName']),
  backoffice: new Set(['email']),
};

/** The flag changes that make a back-office user stop being an active admin, and the refusal to make them oneself. */
const DEACTIVATIONS = [
  { field: 'enabled', cannot: 'be disabled', deactivates: (c: UserChanges) => c.enabled === false, self: 'you cannot disable yourself' },
  { field: 'locked', cannot: 'be locked', deactivates: (c: UserChanges) => c.locked === true, self: 'you cannot lock yourself' },
  { field: 'admin', cannot: 'lose the admin right', deactivates: (c: UserChanges) => c.admin === false, self: 'you cannot remove your own admin right; another admin can' },
] as const;

export type AnyUser = BackofficeUser | CustomerUser;

/**
 * The refusal to make the last active admin (admin, enabled, not locked) inactive. The
 * repository checks and changes in one serialised step (removeAdminStanding, delete), so two
 * admins demoting each other at the same moment cannot both succeed.
 */
const lastAdmin = (user: BackofficeUser, cannot: string, field?: string) =>
  new ManagementError(`"${user.username}" is the last active admin and cannot ${cannot}; make another user an admin first`, 'invalid_input', field);

/** No such user, or (for a non-admin) one they may not know of: the same answer. */
const notFound = (side: SideName, ref: string) => new ManagementError(`no ${side} user "${ref}"`, 'not_found');

const now = () => Math.floor(Date.now() / 1000);

const tooManyTakenEmails = (retryAfter: number) =>
  new TooManyAttempts(`too many attempts to use an email address another user has; try again in ${retryAfter} seconds`, retryAfter);

export class UserManager {
  constructor(
    private readonly users: UserRepository,
    private readonly sessions: SessionRepository,
    private readonly grants: GrantRepository,
    /** Counts a non-admin's attempts at email addresses other users have (emailTaken). */
    private readonly throttle: Throttle,
    private readonly audit: AuditTrail,
    /** The setting password_min_length. */
    private readonly passwordMinLength: number = DEFAULT_MIN_PASSWORD_LENGTH,
  ) {}

  async createBackofficeUser(ctx: ActionContext, input: { username: string; email: string; password: string; isAdmin?: boolean }): Promise<BackofficeUser> {
    requireAdmin(ctx, 'manage users');
    // ASCII only, so the username is shown as typed and its normalised form is its lower case.
    if (!USERNAME.test(input.username) || /^\d+$/.test(input.username)) {
      throw new ManagementError('the username must be 1 to 255 letters, digits, ".", "_" or "-", not digits only', 'invalid_input', 'username');
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
    const firstName = checkedName(input.firstName ?? '', 'firstName');
    const lastName = checkedName(input.lastName ?? '', 'lastName');
    const email = normalizedEmail(input.email);
    checkPassword(input.password, this.passwordMinLength, [email]);
    try {
      const user = await this.users.createCustomerUser({
        email,
        firstName,
        lastName,
        passwordHash: await hashPassword(input.password),
      });
      this.audit.action(ctx, { kind: 'user.created', side: 'storefront', userId: user.id });
      return user;
    } catch (e) {
      if (isUniqueViolation(e)) throw new ManagementError('a storefront user with that email already exists', 'conflict');
      throw e;
    }
  }

  /** A user by id, username (back office) or email: admins see anyone, other users only themselves (anyone else is not_found). */
  async get(ctx: ActionContext, side: SideName, ref: string): Promise<AnyUser> {
    return this.visible(ctx, side, ref);
  }

  /**
   * One page of a side's users, oldest first, optionally searched by name or email. A non-admin
   * back-office user's list of the back office holds only themselves (when the search matches
   * them), like what they may read; listing customers is for admins.
   */
  async list(ctx: ActionContext, side: SideName, query: { search?: string; page: number; size: number }): Promise<{ items: AnyUser[]; total: number }> {
    const { page, size } = checkedPage(query.page, query.size);
    const search = checkedSearch(query.search?.trim() || undefined);
    const offset = (page - 1) * size;
    if (!isAdmin(ctx)) {
      const principal = ctx.principal.kind === 'user' && ctx.principal.side === 'backoffice' && side === 'backoffice' ? ctx.principal : undefined;
      if (!principal) requireAdmin(ctx, 'list users');
      const me = await this.find('backoffice', String(principal?.userId));
      // The search of listBackofficeUsers: a substring of the normalised username or email.
      const matches = search === undefined || [(me as BackofficeUser).username, me.email].some((name) => normalizeLogin(name).includes(normalizeLogin(search)));
      return { items: matches && offset === 0 ? [me] : [], total: matches ? 1 : 0 };
    }
    return side === 'backoffice' ? this.users.listBackofficeUsers(offset, size, search) : this.users.listCustomerUsers(offset, size, search);
  }

  /**
   * The user `ref` names, if the principal may know of them: admins (and the CLI) anyone, other
   * users only themselves. Anyone else is not_found, word for word as a user who does not exist.
   */
  private async visible(ctx: ActionContext, side: SideName, ref: string): Promise<AnyUser> {
    const user = await this.find(side, ref);
    if (!isAdmin(ctx) && !isSelf(ctx, side, user.id)) throw notFound(side, ref);
    return user;
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
    if (!user) throw notFound(side, ref);
    return user;
  }

  async setFlag(ctx: ActionContext, side: SideName, ref: string, flag: 'enabled' | 'locked', value: boolean): Promise<AnyUser> {
    const user = await this.visible(ctx, side, ref);
    requireAdmin(ctx, 'manage users');
    if (side === 'storefront' && flag === 'locked') throw new ManagementError('storefront users cannot be locked; disable them instead', 'invalid_input', 'locked');
    const deactivates = (flag === 'enabled' && !value) || (flag === 'locked' && value);
    if (deactivates && side === 'backoffice') {
      if (isSelf(ctx, side, user.id)) throw new ManagementError(`you cannot ${flag === 'enabled' ? 'disable' : 'lock'} yourself`, 'invalid_input', flag);
      const loss = flag === 'enabled' ? 'disabled' : 'locked';
      this.check(await this.users.removeAdminStanding(user.id, loss), side, ref, () => lastAdmin(user as BackofficeUser, `be ${loss}`, flag));
    } else {
      await this.users.setFlag(side, user.id, flag, value);
    }
    // Their tokens already fail (the API checks the user); their sign-in sessions end too, so
    // that nothing is done in their name from a browser left signed in (account pages, consent).
    if (deactivates) await this.sessions.deleteForUser(side, user.id);
    this.audit.action(ctx, { kind: 'user.updated', side, userId: user.id, details: { [flag]: value } });
    return this.find(side, String(user.id));
  }

  /** Grants or removes the back-office admin right. */
  async setAdmin(ctx: ActionContext, ref: string, value: boolean): Promise<BackofficeUser> {
    const user = (await this.visible(ctx, 'backoffice', ref)) as BackofficeUser;
    requireAdmin(ctx, 'manage users');
    if (!value) {
      if (isSelf(ctx, 'backoffice', user.id)) throw new ManagementError('you cannot remove your own admin right; another admin can', 'invalid_input', 'admin');
      this.check(await this.users.removeAdminStanding(user.id, 'admin_right'), 'backoffice', ref, () => lastAdmin(user, 'lose the admin right', 'admin'));
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
    const user = await this.visible(ctx, side, ref);
    requireAdmin(ctx, 'manage users');
    checkPassword(password, this.passwordMinLength, ['username' in user ? user.username : undefined, user.email]);
    await this.users.setPasswordHash(side, user.id, await hashPassword(password));
    const sessions = await this.sessions.deleteForUser(side, user.id);
    const grants = await this.grants.revokeAllGrants({ side, userId: user.id }, now());
    this.audit.action(ctx, { kind: 'user.password_set', side, userId: user.id, details: { sessions_ended: sessions, grants_revoked: grants } });
    return this.find(side, String(user.id));
  }

  /**
   * Changes several things of one user at once (the API's PATCH). Everything is checked before
   * anything changes, so a refused request changes nothing (short of a race with another admin,
   * where the atomic last-admin check of each change still holds); then each change is made by
   * the method the console and the CLI use, with its own audit event, the password last (it ends
   * the user's sessions and grants). Values equal to the current ones are left alone.
   *
   * Admins change anything; a customer changes their own email and names, a non-admin
   * back-office user their own email. Their password is not changed here: that needs the current
   * one (AccountManager.changePassword).
   */
  async update(ctx: ActionContext, side: SideName, ref: string, changes: UserChanges): Promise<AnyUser> {
    const user = await this.visible(ctx, side, ref);
    const given = (Object.keys(changes) as (keyof UserChanges)[]).filter((name) => changes[name] !== undefined);
    // visible() let a non-admin reach only themselves. A back-office user's other attributes
    // (enabled, locked, admin, password) are an admin's to change: forbidden, as they always were.
    if (!isAdmin(ctx)) {
      if (side === 'backoffice' && given.some((name) => !SELF_SERVICE.backoffice.has(name))) requireAdmin(ctx, 'change more of a back-office user than your own email address');
      if (changes.password !== undefined) {
        throw new ManagementError('your password can be changed only with your current password, on your account page', 'invalid_input', 'password');
      }
      if (given.some((name) => !SELF_SERVICE[side].has(name))) requireAdmin(ctx, 'enable, disable, lock or give the admin right to users');
    }
    const backoffice = side === 'backoffice' ? (user as BackofficeUser) : undefined;
    for (const field of ['locked', 'admin'] as const) {
      if (!backoffice && changes[field] !== undefined) throw new ManagementError(field === 'locked' ? 'storefront users cannot be locked; disable them instead' : 'storefront users cannot be admins', 'invalid_input', field);
    }
    for (const field of ['firstName', 'lastName'] as const) {
      if (backoffice && changes[field] !== undefined) throw new ManagementError('back-office users have no first or last name', 'invalid_input', field);
    }

    // What changes, checked as at creation.
    const profile: ProfileChanges = {};
    if (changes.email !== undefined) {
      const email = normalizedEmail(changes.email);
      if (email !== user.email) profile.email = email;
    }
    for (const field of ['firstName', 'lastName'] as const) {
      const value = changes[field] === undefined ? undefined : checkedName(changes[field], field);
      if (value !== undefined && value !== (user as CustomerUser)[field]) profile[field] = value;
    }
    if (changes.password !== undefined) checkPassword(changes.password, this.passwordMinLength, [backoffice?.username, user.email, profile.email]);
    const flags = (['enabled', 'locked'] as const).filter((flag) => changes[flag] !== undefined && changes[flag] !== (user as BackofficeUser)[flag]);
    const admin = backoffice && changes.admin !== undefined && changes.admin !== backoffice.isAdmin ? changes.admin : undefined;

    // The refusals that depend on who and what: oneself, the last active admin, a taken email.
    const deactivation = DEACTIVATIONS.find((d) => d.deactivates(changes) && (d.field === 'admin' ? admin !== undefined : flags.includes(d.field)));
    if (backoffice && deactivation) {
      if (isSelf(ctx, side, user.id)) throw new ManagementError(deactivation.self, 'invalid_input', deactivation.field);
      if (backoffice.isAdmin && backoffice.enabled && !backoffice.locked && (await this.users.countActiveAdmins()) <= 1) {
        throw lastAdmin(backoffice, deactivation.cannot, deactivation.field);
      }
    }
    // A non-admin changes only their own email (visible() saw to that); while they are over the
    // limit of taken addresses, any new address waits, taken or not, or the answers would differ.
    const counted = profile.email !== undefined && !isAdmin(ctx) ? Throttle.profileKeys(side, user.id) : undefined;
    if (counted) {
      const { retryAfter } = await this.throttle.check(counted, now());
      if (retryAfter > 0) throw tooManyTakenEmails(retryAfter);
    }
    if (profile.email !== undefined) {
      const holder = backoffice ? await this.users.findBackofficeUserByLogin(profile.email) : await this.users.findCustomerUserByEmail(profile.email);
      if (holder && holder.id !== user.id) throw await this.emailTaken(side, counted);
    }

    const id = String(user.id);
    if (Object.keys(profile).length > 0) {
      try {
        await this.users.updateProfile(side, user.id, profile);
      } catch (e) {
        if (isUniqueViolation(e)) throw await this.emailTaken(side, counted);
        throw e;
      }
      // Which fields changed, not their values: names and addresses stay out of the audit trail.
      this.audit.action(ctx, { kind: 'user.updated', side, userId: user.id, details: { changed: Object.keys(profile).join(',') } });
    }
    for (const flag of flags) await this.setFlag(ctx, side, id, flag, changes[flag] as boolean);
    if (admin !== undefined) await this.setAdmin(ctx, id, admin);
    if (changes.password !== undefined) await this.setPassword(ctx, side, id, changes.password);
    return this.find(side, id);
  }

  /**
   * The refusal of an email address another user has: a conflict, told to admins as is. To a
   * non-admin (`counted`: their keys) it tells that the address is registered, so it is counted
   * first, and past the limit they are told to wait instead.
   */
  private async emailTaken(side: SideName, counted: string[] | undefined): Promise<ManagementError> {
    const retryAfter = counted ? await this.throttle.reserve(counted, now()) : 0;
    if (retryAfter > 0) return tooManyTakenEmails(retryAfter);
    return new ManagementError(`another ${side} user has that email address`, 'conflict', 'email');
  }

  /** Revokes every grant of the user, with all their tokens; returns how many grants. */
  async revokeTokens(ctx: ActionContext, side: SideName, ref: string): Promise<{ user: AnyUser; grants: number }> {
    const user = await this.visible(ctx, side, ref);
    requireAdmin(ctx, 'manage users');
    const grants = await this.grants.revokeAllGrants({ side, userId: user.id }, now());
    this.audit.action(ctx, { kind: 'tokens.revoked', side, userId: user.id, details: { grants } });
    return { user, grants };
  }

  /** Deletes the user with their sessions, grants and tokens; refused while they own clients. */
  async delete(ctx: ActionContext, side: SideName, ref: string): Promise<AnyUser> {
    const user = await this.visible(ctx, side, ref);
    requireAdmin(ctx, 'manage users');
    if (side === 'backoffice') {
      if (isSelf(ctx, side, user.id)) throw new ManagementError('you cannot delete yourself; another admin can');
    }
    const result = await this.users.delete(side, user.id);
    if (result === false) throw notFound(side, ref);
    if (result === 'last_admin') throw lastAdmin(user as BackofficeUser, 'be deleted');
    if (result !== true) {
      throw new ManagementError(`${side} user ${user.id} owns ${result.ownsClients} client(s); delete them or give them another owner first`, 'conflict');
    }
    this.audit.action(ctx, { kind: 'user.deleted', side, userId: user.id, details: 'username' in user ? { username: user.username } : {} });
    return user;
  }

  /** Throws when the repository found no such user, or refused because they are the last active admin. */
  private check(result: boolean | 'last_admin', side: SideName, ref: string, refusal: () => ManagementError): void {
    if (result === false) throw notFound(side, ref);
    if (result === 'last_admin') throw refusal();
  }
}
