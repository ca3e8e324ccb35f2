import { type Kysely, type Selectable, sql } from 'kysely';
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
import { likePattern } from './like.js';

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

  async listBackofficeUsers(offset: number, limit: number, search?: string): Promise<Page<BackofficeUser>> {
    let query = this.db.selectFrom('backoffice_users');
    if (search) {
      // The keys are normalised (lower case among others): search them in that form too.
      const pattern = likePattern(normalizeLogin(search));
      query = query.where(sql<boolean>`(username_key like ${pattern} escape '\\' or email_key like ${pattern} escape '\\')`);
    }
    const [rows, count] = await Promise.all([
      query.selectAll().orderBy('id').offset(offset).limit(limit).execute(),
      query.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { items: rows.map(toBackofficeUser), total: Number(count.n) };
  }

  async listCustomerUsers(offset: number, limit: number, search?: string): Promise<Page<CustomerUser>> {
    let query = this.db.selectFrom('customer_users');
    if (search) {
      const key = likePattern(normalizeLogin(search));
      const name = likePattern(search.trim().toLowerCase());
      query = query.where(
        sql<boolean>`(email_key like ${key} escape '\\' or lower(coalesce(first_name, '')) like ${name} escape '\\' or lower(coalesce(last_name, '')) like ${name} escape '\\')`,
      );
    }
    const [rows, count] = await Promise.all([
      query.selectAll().orderBy('id').offset(offset).limit(limit).execute(),
      query.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { items: rows.map(toCustomerUser), total: Number(count.n) };
  }

  async countBackofficeUsers(): Promise<number> {
    const row = await this.db.selectFrom('backoffice_users').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async countActiveAdmins(): Promise<number> {
    const row = await this.db
      .selectFrom('backoffice_users')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('is_admin', '=', 1)
      .where('enabled', '=', 1)
      .where('locked', '=', 0)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async setAdmin(id: number, value: boolean): Promise<boolean> {
    const result = await this.db.updateTable('backoffice_users').set({ is_admin: value ? 1 : 0, updated_at: now() }).where('id', '=', id).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async setPasswordHash(side: SideName, id: number, passwordHash: string): Promise<boolean> {
    const result =
      side === 'backoffice'
        ? await this.db.updateTable('backoffice_users').set({ password_hash: passwordHash, updated_at: now() }).where('id', '=', id).executeTakeFirst()
        : await this.db.updateTable('customer_users').set({ password_hash: passwordHash, updated_at: now() }).where('id', '=', id).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async delete(side: SideName, id: number): Promise<true | false | { ownsClients: number }> {
    return this.db.transaction().execute(async (trx) => {
      // Client-credentials clients act as their owner: deleting the owner would leave them
      // acting as nobody, so the operator decides about the clients first.
      const owned = await trx
        .selectFrom('clients')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('side', '=', side)
        .where('owner_user_id', '=', id)
        .executeTakeFirstOrThrow();
      if (Number(owned.n) > 0) return { ownsClients: Number(owned.n) };
      await trx.deleteFrom('sessions').where('side', '=', side).where('user_id', '=', id).execute();
      // Codes, access and refresh tokens go with their grants (ON DELETE CASCADE).
      await trx.deleteFrom('grants').where('side', '=', side).where('user_id', '=', id).execute();
      const result =
        side === 'backoffice'
          ? await trx.deleteFrom('backoffice_users').where('id', '=', id).executeTakeFirst()
          : await trx.deleteFrom('customer_users').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
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
