import type { Kysely, Selectable } from 'kysely';
import type { SideName } from '../../oauth/sides.js';
import { normalizeLogin } from '../../security/logins.js';
import type {
  BackofficeUser,
  CustomerUser,
  LoginAccount,
  NewBackofficeUser,
  NewCustomerUser,
  Page,
  UserRepository,
} from '../repositories.js';
import type { BackofficeUserTable, CustomerUserTable, Database } from '../schema.js';

const toBackofficeUser = (row: Selectable<BackofficeUserTable>): BackofficeUser => ({
  id: row.id,
  username: row.username,
  email: row.email,
  enabled: row.enabled === 1,
  locked: row.locked === 1,
  isAdmin: row.is_admin === 1,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toCustomerUser = (row: Selectable<CustomerUserTable>): CustomerUser => ({
  id: row.id,
  email: row.email,
  firstName: row.first_name,
  lastName: row.last_name,
  enabled: row.enabled === 1,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const now = () => Math.floor(Date.now() / 1000);

export class KyselyUserRepository implements UserRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async createBackofficeUser(user: NewBackofficeUser): Promise<BackofficeUser> {
    const at = now();
    const row = await this.db
      .insertInto('backoffice_users')
      .values({
        username: user.username,
        email: normalizeLogin(user.email),
        username_key: normalizeLogin(user.username),
        email_key: normalizeLogin(user.email),
        password_hash: user.passwordHash,
        is_admin: user.isAdmin ? 1 : 0,
        enabled: 1,
        locked: 0,
        created_at: at,
        updated_at: at,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toBackofficeUser(row);
  }

  async createCustomerUser(user: NewCustomerUser): Promise<CustomerUser> {
    const at = now();
    const row = await this.db
      .insertInto('customer_users')
      .values({
        email: normalizeLogin(user.email),
        email_key: normalizeLogin(user.email),
        first_name: user.firstName,
        last_name: user.lastName,
        password_hash: user.passwordHash,
        enabled: 1,
        created_at: at,
        updated_at: at,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toCustomerUser(row);
  }

  // Every lookup by name compares normalised keys (normalizeLogin), so any spelling of a login
  // finds its account, and only that one. A username has no "@" and an email has one: the two
  // keys of different accounts never match the same login.
  async findLoginAccount(side: SideName, login: string): Promise<LoginAccount | undefined> {
    const key = normalizeLogin(login);
    if (side === 'backoffice') {
      const row = await this.db
        .selectFrom('backoffice_users')
        .select(['id', 'password_hash', 'enabled', 'locked'])
        .where((eb) => eb.or([eb('username_key', '=', key), eb('email_key', '=', key)]))
        .executeTakeFirst();
      return row && { id: row.id, passwordHash: row.password_hash, refusal: row.enabled !== 1 ? 'disabled' : row.locked === 1 ? 'locked' : undefined };
    }
    const row = await this.db
      .selectFrom('customer_users')
      .select(['id', 'password_hash', 'enabled'])
      .where('email_key', '=', key)
      .executeTakeFirst();
    return row && { id: row.id, passwordHash: row.password_hash, refusal: row.enabled !== 1 ? 'disabled' : undefined };
  }

  async findBackofficeUser(id: number): Promise<BackofficeUser | undefined> {
    const row = await this.db.selectFrom('backoffice_users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toBackofficeUser(row);
  }

  async findBackofficeUserByLogin(login: string): Promise<BackofficeUser | undefined> {
    const key = normalizeLogin(login);
    const row = await this.db
      .selectFrom('backoffice_users')
      .selectAll()
      .where((eb) => eb.or([eb('username_key', '=', key), eb('email_key', '=', key)]))
      .executeTakeFirst();
    return row && toBackofficeUser(row);
  }

  async findCustomerUser(id: number): Promise<CustomerUser | undefined> {
    const row = await this.db.selectFrom('customer_users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toCustomerUser(row);
  }

  async findCustomerUserByEmail(email: string): Promise<CustomerUser | undefined> {
    const row = await this.db.selectFrom('customer_users').selectAll().where('email_key', '=', normalizeLogin(email)).executeTakeFirst();
    return row && toCustomerUser(row);
  }

  async listBackofficeUsers(offset: number, limit: number): Promise<Page<BackofficeUser>> {
    const [rows, total] = await Promise.all([
      this.db.selectFrom('backoffice_users').selectAll().orderBy('id').offset(offset).limit(limit).execute(),
      this.countBackofficeUsers(),
    ]);
    return { items: rows.map(toBackofficeUser), total };
  }

  async listCustomerUsers(offset: number, limit: number): Promise<Page<CustomerUser>> {
    const [rows, count] = await Promise.all([
      this.db.selectFrom('customer_users').selectAll().orderBy('id').offset(offset).limit(limit).execute(),
      this.db.selectFrom('customer_users').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { items: rows.map(toCustomerUser), total: Number(count.n) };
  }

  async countBackofficeUsers(): Promise<number> {
    const row = await this.db.selectFrom('backoffice_users').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async isActive(side: SideName, id: number): Promise<boolean> {
    const row =
      side === 'backoffice'
        ? await this.db.selectFrom('backoffice_users').select(['enabled', 'locked']).where('id', '=', id).executeTakeFirst()
        : await this.db.selectFrom('customer_users').select(['enabled', (eb) => eb.lit(0).as('locked')]).where('id', '=', id).executeTakeFirst();
    return row !== undefined && row.enabled === 1 && Number(row.locked) === 0;
  }

  async setFlag(side: SideName, id: number, flag: 'enabled' | 'locked', value: boolean): Promise<boolean> {
    const v = value ? 1 : 0;
    const result =
      side === 'backoffice'
        ? await this.db.updateTable('backoffice_users').set({ [flag]: v, updated_at: now() }).where('id', '=', id).executeTakeFirst()
        : flag === 'enabled'
          ? await this.db.updateTable('customer_users').set({ enabled: v, updated_at: now() }).where('id', '=', id).executeTakeFirst()
          : undefined;
    if (!result) throw new Error('storefront customer users cannot be locked');
    return result.numUpdatedRows > 0n;
  }
}
