import { type Kysely, PostgresAdapter, type Selectable, sql, type Transaction } from 'kysely';
import type { SideName } from '../../oauth/sides.js';
import { normalizeLogin } from '../../security/logins.js';
import type {
  AdminLoss,
  BackofficeUser,
  CustomerUser,
  LoginAccount,
  NewBackofficeUser,
  NewCustomerUser,
  Page,
  ProfileChanges,
  UserRepository,
} from '../repositories.js';
import type { BackofficeUserTable, CustomerUserTable, Database } from '../schema.js';
import { likePattern } from './like.js';
import { PreparedQuery } from './prepared.js';
import { type ChangeStamp, UnchangedReads } from './unchanged-reads.js';

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

/** The PostgreSQL advisory lock that serialises changes which may remove an active admin (an arbitrary constant: "GRAd"). */
const ACTIVE_ADMINS_LOCK = 0x47524164;

export class KyselyUserRepository implements UserRepository {
  // Read at every issuance (the user's role) and by the API's users/{id}: compiled once (prepared.ts).
  private readonly backofficeById: PreparedQuery<{ id: number }, Selectable<BackofficeUserTable>>;
  private readonly customerById: PreparedQuery<{ id: number }, Selectable<CustomerUserTable>>;

  /** Those two reads' rows for findBackofficeUser and findCustomerUser (the API, UserInfo, pages), kept while nothing changes (unchanged-reads.ts); activeAccount reads afresh. */
  private readonly backofficeRows: UnchangedReads<Selectable<BackofficeUserTable> | undefined>;
  private readonly customerRows: UnchangedReads<Selectable<CustomerUserTable> | undefined>;

  constructor(
    private readonly db: Kysely<Database>,
    changeStamp?: ChangeStamp,
  ) {
    this.backofficeRows = new UnchangedReads(changeStamp);
    this.customerRows = new UnchangedReads(changeStamp);
    this.backofficeById = new PreparedQuery(db, (d, arg) => d.selectFrom('backoffice_users').selectAll().where('id', '=', arg('id')));
    this.customerById = new PreparedQuery(db, (d, arg) => d.selectFrom('customer_users').selectAll().where('id', '=', arg('id')));
  }

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
        .select(['id', 'password_hash', 'enabled', 'locked', 'is_admin'])
        .where((eb) => eb.or([eb('username_key', '=', key), eb('email_key', '=', key)]))
        .executeTakeFirst();
      return row && { id: row.id, passwordHash: row.password_hash, refusal: row.enabled !== 1 ? 'disabled' : row.locked === 1 ? 'locked' : undefined, isAdmin: row.is_admin === 1 };
    }
    const row = await this.db
      .selectFrom('customer_users')
      .select(['id', 'password_hash', 'enabled'])
      .where('email_key', '=', key)
      .executeTakeFirst();
    return row && { id: row.id, passwordHash: row.password_hash, refusal: row.enabled !== 1 ? 'disabled' : undefined, isAdmin: false };
  }

  async findBackofficeUser(id: number): Promise<BackofficeUser | undefined> {
    const row = await this.backofficeRows.get(String(id), () => this.backofficeById.first(this.db, { id }));
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
    const row = await this.customerRows.get(String(id), () => this.customerById.first(this.db, { id }));
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
    return this.activeAdmins(this.db);
  }

  private activeAdmins(db: Kysely<Database>): Promise<number> {
    return countActiveAdmins(db);
  }

  /**
   * Runs `work` in a transaction that no other such transaction overlaps, on every process: its
   * check of the active admins and its change are one step. Counting, then changing in another
   * statement let two admins demoting each other at once both see two admins and both proceed.
   * PostgreSQL (READ COMMITTED) takes a transaction-level advisory lock, so the next one counts
   * only once this one has committed; SQLite's write transactions take its single write lock as
   * they begin (BEGIN IMMEDIATE, see sqlite-driver.ts), and reads from there on see every
   * committed change.
   */
  private serialisedAdminChange<T>(work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (trx: Transaction<Database>) => {
      if (trx.getExecutor().adapter instanceof PostgresAdapter) await sql`select pg_advisory_xact_lock(${ACTIVE_ADMINS_LOCK})`.execute(trx);
      return work(trx);
    });
  }

  /** Whether the back-office user is an active admin now, inside the serialised transaction; undefined when no such user. */
  private async isActiveAdmin(db: Kysely<Database>, id: number): Promise<boolean | undefined> {
    const row = await db.selectFrom('backoffice_users').select(['is_admin', 'enabled', 'locked']).where('id', '=', id).executeTakeFirst();
    return row && row.is_admin === 1 && row.enabled === 1 && row.locked === 0;
  }

  async removeAdminStanding(id: number, loss: AdminLoss): Promise<boolean | 'last_admin'> {
    return this.serialisedAdminChange(async (db) => {
      const active = await this.isActiveAdmin(db, id);
      if (active === undefined) return false;
      if (active && (await this.activeAdmins(db)) <= 1) return 'last_admin';
      const change = loss === 'admin_right' ? { is_admin: 0 } : loss === 'disabled' ? { enabled: 0 } : { locked: 1 };
      await db.updateTable('backoffice_users').set({ ...change, updated_at: now() }).where('id', '=', id).execute();
      return true;
    });
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

  async delete(side: SideName, id: number): Promise<true | false | 'last_admin' | { ownsClients: number }> {
    const remove = async (trx: Kysely<Database>) => {
      if (side === 'backoffice') {
        const active = await this.isActiveAdmin(trx, id);
        if (active === undefined) return false;
        if (active && (await this.activeAdmins(trx)) <= 1) return 'last_admin' as const;
      }
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
      await trx.deleteFrom('consents').where('side', '=', side).where('user_id', '=', id).execute();
      // Codes, access and refresh tokens go with their grants (ON DELETE CASCADE).
      await trx.deleteFrom('grants').where('side', '=', side).where('user_id', '=', id).execute();
      const result =
        side === 'backoffice'
          ? await trx.deleteFrom('backoffice_users').where('id', '=', id).executeTakeFirst()
          : await trx.deleteFrom('customer_users').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    };
    // A back-office user may be an admin: deleting them is checked and done like a demotion.
    return side === 'backoffice' ? this.serialisedAdminChange(remove) : this.db.transaction().execute(remove);
  }

  async activeAccount(side: SideName, id: number): Promise<{ isAdmin: boolean } | undefined> {
    if (side === 'backoffice') {
      const row = await this.backofficeById.first(this.db, { id });
      return row && row.enabled === 1 && row.locked !== 1 ? { isAdmin: row.is_admin === 1 } : undefined;
    }
    const row = await this.customerById.first(this.db, { id });
    return row && row.enabled === 1 ? { isAdmin: false } : undefined;
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

  async updateProfile(side: SideName, id: number, changes: ProfileChanges): Promise<boolean> {
    // The email and its key change together: the key is what makes it unique and finds the account.
    const email = changes.email === undefined ? {} : { email: normalizeLogin(changes.email), email_key: normalizeLogin(changes.email) };
    const result =
      side === 'backoffice'
        ? await this.db.updateTable('backoffice_users').set({ ...email, updated_at: now() }).where('id', '=', id).executeTakeFirst()
        : await this.db
            .updateTable('customer_users')
            .set({
              ...email,
              ...(changes.firstName !== undefined ? { first_name: changes.firstName } : {}),
              ...(changes.lastName !== undefined ? { last_name: changes.lastName } : {}),
              updated_at: now(),
            })
            .where('id', '=', id)
            .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}

/** Back-office users who can administer now: admin, enabled and not locked (the last one is kept). */
export async function countActiveAdmins(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('backoffice_users')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('is_admin', '=', 1)
    .where('enabled', '=', 1)
    .where('locked', '=', 0)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
