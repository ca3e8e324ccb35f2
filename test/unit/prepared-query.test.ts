/**
 * PreparedQuery (src/storage/kysely/prepared.ts) compiles a query once and binds each call's
 * values where the markers were: on both databases, the results must be those of the same query
 * built the ordinary way, whatever the order of arguments and constants in the SQL.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type OpenDatabase } from '../../src/storage/database.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { PreparedQuery } from '../../src/storage/kysely/prepared.js';
import { BACKENDS } from '../helpers/backends.js';
import { type DataDir, freshDataDir } from '../helpers/server.js';

describe.each(BACKENDS)('PreparedQuery (%s)', (backend) => {
  let data: DataDir;
  let database: OpenDatabase;
  beforeAll(async () => {
    data = await freshDataDir(backend, 'grantry-prepared-');
    database = openDatabase(data.databaseUrl);
    await migrateToLatest(database.db, database.dialect);
    const at = 1_700_000_000;
    await database.db
      .insertInto('customer_users')
      .values(['a@example.com', 'b@example.com', 'c@example.com'].map((email, i) => ({ email, email_key: email, password_hash: 'x', enabled: i === 1 ? 0 : 1, created_at: at + i, updated_at: at + i })))
      .execute();
  });
  afterAll(async () => {
    await database?.close();
    await data?.remove();
  });

  it('binds each call its own values, around the constants the builder wrote', async () => {
    // A constant (enabled = 1) between two arguments, and an argument used twice.
    const query = new PreparedQuery<{ from: number; email: string }, { email: string }>(database.db, (d, arg) =>
      d
        .selectFrom('customer_users')
        .select('email')
        .where('created_at', '>=', arg('from'))
        .where('enabled', '=', 1)
        .where((eb) => eb.or([eb('email', '=', arg('email')), eb('email_key', '=', arg('email'))]))
        .orderBy('email'),
    );
    expect((await query.execute(database.db, { from: 0, email: 'a@example.com' })).rows).toEqual([{ email: 'a@example.com' }]);
    // b is disabled: the constant is still in place.
    expect(await query.first(database.db, { from: 0, email: 'b@example.com' })).toBeUndefined();
    expect(await query.first(database.db, { from: 1_700_000_001, email: 'a@example.com' })).toBeUndefined();
    expect(await query.first(database.db, { from: 1_700_000_001, email: 'c@example.com' })).toEqual({ email: 'c@example.com' });
    // A value that looks like SQL is only a value.
    expect(await query.first(database.db, { from: 0, email: "' or 1=1 --" })).toBeUndefined();
  });

  it('runs inside a transaction, and its writes roll back with it', async () => {
    const disable = new PreparedQuery<{ email: string }, never>(database.db, (d, arg) => d.updateTable('customer_users').set({ enabled: 0 }).where('email', '=', arg('email')));
    await expect(
      database.db.transaction().execute(async (trx) => {
        const result = await disable.execute(trx, { email: 'c@example.com' });
        expect(result.numAffectedRows).toBe(1n);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const row = await database.db.selectFrom('customer_users').select('enabled').where('email', '=', 'c@example.com').executeTakeFirstOrThrow();
    expect(row.enabled).toBe(1);
  });
});

describe.each(BACKENDS.filter((b) => b === 'postgres'))('PreparedQuery on PostgreSQL (%s): named prepared statements', (backend) => {
  let data: DataDir;
  let database: OpenDatabase;
  beforeAll(async () => {
    data = await freshDataDir(backend, 'grantry-prepared-pg-');
    // One connection, so that pg_prepared_statements (per session) is the one the queries used.
    database = openDatabase(data.databaseUrl, { poolSize: 1 });
    await migrateToLatest(database.db, database.dialect);
    await database.db.insertInto('customer_users').values({ email: 'a@example.com', email_key: 'a@example.com', password_hash: 'x', enabled: 1, created_at: 1, updated_at: 1 }).execute();
  });
  afterAll(async () => {
    await database?.close();
    await data?.remove();
  });

  const prepared = async () =>
    (await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(database.db)).rows;

  it('runs a hot query as one named statement, prepared once per connection; other queries stay unnamed', async () => {
    const query = new PreparedQuery<{ email: string }, { id: number }>(database.db, (d, arg) => d.selectFrom('customer_users').select('id').where('email', '=', arg('email')));
    for (let i = 0; i < 3; i++) expect(await query.first(database.db, { email: 'a@example.com' })).toEqual({ id: expect.any(Number) });
    await database.db.selectFrom('customer_users').select('email').where('id', '=', 1).execute();
    const mine = (await prepared()).filter((p) => p.statement.includes('from "customer_users"'));
    expect(mine).toHaveLength(1);
    expect(mine[0]?.name).toMatch(/^grantry_\d+$/);
    expect(mine[0]?.statement).toContain('where "email" = $1');
  });

  it('still answers when the table changed under a prepared "select *" (a migration while serving), and prepares it anew', async () => {
    const query = new PreparedQuery<{ email: string }, Record<string, unknown>>(database.db, (d, arg) => d.selectFrom('customer_users').selectAll().where('email', '=', arg('email')));
    const named = async () => (await prepared()).filter((p) => p.statement.includes('select * from "customer_users"')).map((p) => p.name);
    expect(await query.first(database.db, { email: 'a@example.com' })).not.toHaveProperty('nickname');
    await sql`alter table customer_users add column nickname text`.execute(database.db);
    try {
      expect(await query.first(database.db, { email: 'a@example.com' })).toHaveProperty('nickname', null);
      expect(await query.first(database.db, { email: 'a@example.com' })).toHaveProperty('nickname', null);
      // The refused statement and its successor, under a new name: later calls use the new one.
      const names = await named();
      expect(names).toHaveLength(2);
      expect(names.some((n) => /^grantry_\d+_1$/.test(n))).toBe(true);
    } finally {
      await sql`alter table customer_users drop column nickname`.execute(database.db);
    }
  });

  it('inside a transaction, a refused prepared plan fails with its own error, and the next call answers', async () => {
    const query = new PreparedQuery<{ email: string }, Record<string, unknown>>(database.db, (d, arg) => d.selectFrom('customer_users').selectAll().where('email', '>=', arg('email')));
    expect(await query.first(database.db, { email: 'a' })).not.toHaveProperty('nickname');
    await sql`alter table customer_users add column nickname text`.execute(database.db);
    try {
      // Not "current transaction is aborted" from a retry: the error that happened.
      await expect(database.db.transaction().execute((trx) => query.first(trx, { email: 'a' }))).rejects.toThrow('cached plan must not change result type');
      expect(await query.first(database.db, { email: 'a' })).toHaveProperty('nickname', null);
      expect(await database.db.transaction().execute((trx) => query.first(trx, { email: 'a' }))).toHaveProperty('nickname', null);
    } finally {
      await sql`alter table customer_users drop column nickname`.execute(database.db);
    }
  });
});
