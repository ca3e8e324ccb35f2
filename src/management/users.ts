/**
 * Creating and managing users of both sides, for the CLI, first start and (later) the admin
 * console. Input is validated here so every entry point refuses the same things.
 */
import { normalizeLogin } from '../security/logins.js';
import { parseId, textProblem } from '../security/input.js';
import { hashPassword, MIN_PASSWORD_LENGTH } from '../security/passwords.js';
import type { SideName } from '../oauth/sides.js';
import type { BackofficeUser, CustomerUser, UserRepository } from '../storage/repositories.js';
import { isUniqueViolation, ManagementError } from './errors.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// Back-office users sign in with username or email, and the CLI takes ids too: a username with
// "@" could be someone else's email, and an all-digit one someone else's id.
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new ManagementError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > 1024) throw new ManagementError('the password must have at most 1024 characters');
  // The login form and the password grant refuse such text (src/security/input.ts): it could never sign in.
  if (textProblem(password)) throw new ManagementError('the password must not contain control characters');
}

/**
 * The email as it is stored and shown: its normalised form (normalizeLogin), which is also what
 * makes it unique. Validated after normalising, so what is checked is what is stored.
 */
function normalizedEmail(email: string): string {
  const normalized = normalizeLogin(email);
  const domain = normalized.slice(normalized.lastIndexOf('@') + 1);
  if (normalized.length > 254 || !EMAIL.test(normalized) || domain.split('.').includes('')) throw new ManagementError(`"${email}" is not a valid email address`);
  return normalized;
}

export class UserManager {
  constructor(private readonly users: UserRepository) {}

  async createBackofficeUser(input: { username: string; email: string; password: string; isAdmin?: boolean }): Promise<BackofficeUser> {
    // ASCII only, so the username is shown as typed and its normalised form is its lower case.
    if (!USERNAME.test(input.username) || /^\d+$/.test(input.username)) {
      throw new ManagementError('the username must be 1 to 255 letters, digits, ".", "_" or "-", not digits only');
    }
    const email = normalizedEmail(input.email);
    checkPassword(input.password);
    try {
      return await this.users.createBackofficeUser({
        username: input.username,
        email,
        isAdmin: input.isAdmin ?? false,
        passwordHash: await hashPassword(input.password),
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new ManagementError('a back-office user with that username or email already exists', 'conflict');
      throw e;
    }
  }

  async createCustomerUser(input: { email: string; password: string; firstName?: string; lastName?: string }): Promise<CustomerUser> {
    const email = normalizedEmail(input.email);
    checkPassword(input.password);
    try {
      return await this.users.createCustomerUser({
        email,
        firstName: input.firstName ?? null,
        lastName: input.lastName ?? null,
        passwordHash: await hashPassword(input.password),
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new ManagementError('a storefront user with that email already exists', 'conflict');
      throw e;
    }
  }

  /** Finds a user by id, username (back office) or email. */
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

  async setFlag(side: SideName, ref: string, flag: 'enabled' | 'locked', value: boolean): Promise<BackofficeUser | CustomerUser> {
    if (side === 'storefront' && flag === 'locked') throw new ManagementError('storefront users cannot be locked; disable them instead');
    const user = await this.find(side, ref);
    await this.users.setFlag(side, user.id, flag, value);
    return this.find(side, String(user.id));
  }
}
