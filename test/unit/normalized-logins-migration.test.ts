/**
 * Migration 004-normalized-logins on SQLite and PostgreSQL: users created before it (schema at
 * 003) get their normalised username and email keys, and lookups find them by any spelling; if
 * two existing accounts normalise to the same name the migration stops, names both accounts and
 * changes nothing, and it succeeds once the operator has told them apart.
 */
import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type OpenDatabase } from '../../src/storage/database.js';
import { createRepositories } from '../../src/storage/index.js';
import { createMigrator, migrateToLatest } from '../../src/storage/migrations/index.js';
import { fullwidth } from '../helpers/authorize-pages.js';
import { BACKENDS } from '../helpers/backends.js';
import { type DataDir, freshDataDir } from '../helpers/server.js';

describe.each(BACKENDS)('migration 004-normalized-logins (%s)', (backend) => {
  let data: DataDir | undefined;
  let database: OpenDatabase | undefined;
  afterEach(async () => {
    await database?.close();
    await data?.remove();
    database = undefined;
    data = undefined;
  });

  /** A database migrated up to 003, as it was before normalised logins. */
  async function databaseAt003(): Promise<{ db: Kysely<any>; dialect: OpenDatabase['dialect'] }> {
    data = await freshDataDir(backend, 'grantry-migrate-004-');
    database = openDatabase(data.databaseUrl);
    const { error } = await createMigrator(database.db, database.dialect).migrateTo('003-brute-force');
    expect(error).toBeUndefined();
    return { db: database.db as Kysely<any>, dialect: database.dialect };
  }

  const staff = (username: string, email: string) => ({ username, email, password_hash: 'x', enabled: 1, locked: 0, is_admin: 0, created_at: 1, updated_at: 1 });
  const customer = (email: string) => ({ email, password_hash: 'x', enabled: 1, created_at: 1, updated_at: 1 });

  it('backfills the keys of existing users; the displayed names stay as they were; lookups find any spelling', async () => {
    const { db, dialect } = await databaseAt003();
    await db.insertInto('backoffice_users').values([staff('Alice', 'Alice@Example.COM.'), staff('bob', fullwidth('bob@example.com'))]).execute();
    await db.insertInto('customer_users').values([customer('Carol@Example.com'), customer('dave@example.com.')]).execute();

    const applied = await migrateToLatest(db, dialect);
    expect(applied).toContain('004-normalized-logins');
    const staffRows = await db.selectFrom('backoffice_users').select(['username', 'email', 'username_key', 'email_key']).orderBy('id').execute();
    expect(staffRows).toEqual([
      { username: 'Alice', email: 'Alice@Example.COM.', username_key: 'alice', email_key: 'alice@example.com' },
      { username: 'bob', email: fullwidth('bob@example.com'), username_key: 'bob', email_key: 'bob@example.com' },
    ]);
    const customerRows = await db.selectFrom('customer_users').select(['email', 'email_key']).orderBy('id').execute();
    expect(customerRows).toEqual([
      { email: 'Carol@Example.com', email_key: 'carol@example.com' },
      { email: 'dave@example.com.', email_key: 'dave@example.com' },
    ]);

    const users = createRepositories(db).users;
    expect((await users.findBackofficeUserByLogin('ALICE'))?.username).toBe('Alice');
    expect((await users.findBackofficeUserByLogin('alice@example.com'))?.username).toBe('Alice');
    expect((await users.findLoginAccount('backoffice', 'BOB@example.com.'))?.id).toBe(2);
    expect((await users.findCustomerUserByEmail(fullwidth('carol@example.com')))?.email).toBe('Carol@Example.com');
    expect((await users.findLoginAccount('storefront', 'Dave@Example.com'))?.id).toBe(2);
    // The unique indexes hold from now on.
    await expect(db.insertInto('customer_users').values({ ...customer('CAROL@example.com.'), email_key: 'carol@example.com' }).execute()).rejects.toThrow();
  });

  it('stops with a message naming the colliding accounts, changes nothing, and succeeds once they differ', async () => {
    const { db, dialect } = await databaseAt003();
    await db.insertInto('backoffice_users').values([staff('alice', 'alice@example.com'), staff('ALICE', 'alice2@example.com'), staff('erin', 'Erin@example.com.')]).execute();
    await db.insertInto('customer_users').values([customer('carol@example.com'), customer(fullwidth('carol@example.com'))]).execute();

    const failure = await migrateToLatest(db, dialect).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(failure).toBeInstanceOf(Error);
    const message = failure?.message ?? '';
    expect(message).toContain('004-normalized-logins');
    expect(message).toContain('back-office users 1 "alice" and 2 "ALICE" have the same username');
    expect(message).toContain(`storefront users 1 "carol@example.com" and 2 "${fullwidth('carol@example.com')}" have the same email`);
    expect(message).not.toContain('erin');
    // Nothing was changed: no new column, 004 not recorded.
    const columns = (await db.introspection.getTables()).find((t) => t.name === 'backoffice_users')?.columns.map((c) => c.name);
    expect(columns).not.toContain('username_key');

    await db.updateTable('backoffice_users').set({ username: 'alice-two' }).where('id', '=', 2).execute();
    await db.deleteFrom('customer_users').where('id', '=', 2).execute();
    expect(await migrateToLatest(db, dialect)).toContain('004-normalized-logins');
    expect((await createRepositories(db).users.findBackofficeUserByLogin('ERIN@EXAMPLE.COM'))?.username).toBe('erin');
  });
});
