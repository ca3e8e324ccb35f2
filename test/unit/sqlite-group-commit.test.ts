/**
 * The SQLite driver's group commit (src/storage/sqlite-driver.ts): writes of one turn of the
 * event loop share one commit, yet each caller learns of its write only once it is durable,
 * each transaction still commits or rolls back alone, and a connection waiting for another's
 * write lock does not block the event loop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCommitSqliteDriver } from '../../src/storage/sqlite-driver.js';

interface Schema {
  items: { id: number; name: string };
}

const root = mkdtempSync(path.join(tmpdir(), 'grantry-group-commit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function open(file: string, lockTimeoutMs = 5000) {
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 0');
  const commits = { count: 0 };
  const exec = sqlite.exec.bind(sqlite);
  // Counts the commits the driver makes.
  sqlite.exec = (sql: string) => {
    if (sql === 'commit') commits.count++;
    return exec(sql);
  };
  const db = new Kysely<Schema>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new GroupCommitSqliteDriver(sqlite, lockTimeoutMs),
      createIntrospector: (k) => new SqliteIntrospector(k),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
  return { db, commits, sqlite };
}

describe('SQLite group commit', () => {
  let file: string;
  let db: Kysely<Schema>;
  let commits: { count: number };
  let sqlite: SQLite.Database;
  let reader: SQLite.Database;
  let counter = 0;
  beforeEach(async () => {
    file = path.join(root, `db${counter++}.sqlite`);
    ({ db, commits, sqlite } = open(file));
    await db.schema.createTable('items').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'text', (c) => c.notNull().unique()).execute();
    // Another connection: what it sees is what is committed.
    reader = new SQLite(file, { readonly: true });
    commits.count = 0;
  });
  afterEach(async () => {
    reader.close();
    await db.destroy();
  });

  const committedNames = () => (reader.prepare('select name from items order by id').all() as Array<{ name: string }>).map((r) => r.name);

  it('concurrent writes share commits, and each caller resolves only once its row is committed', async () => {
    const seenAtResolve: boolean[] = [];
    const writes = Array.from({ length: 100 }, async (_, i) => {
      if (i % 2 === 0) await db.insertInto('items').values({ id: i, name: `n${i}` }).execute();
      else await db.transaction().execute((trx) => trx.insertInto('items').values({ id: i, name: `n${i}` }).execute());
      seenAtResolve[i] = reader.prepare('select 1 from items where id = ?').get(i) !== undefined;
    });
    await Promise.all(writes);
    expect(seenAtResolve.filter(Boolean)).toHaveLength(100);
    expect(committedNames()).toHaveLength(100);
    expect(commits.count).toBeGreaterThan(0);
    expect(commits.count).toBeLessThan(10);
  });

  it('a transaction that fails rolls back alone; a failing statement fails alone', async () => {
    const results = await Promise.allSettled([
      db.insertInto('items').values({ id: 1, name: 'kept' }).execute(),
      db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ id: 2, name: 'undone' }).execute();
        throw new Error('give up');
      }),
      db.insertInto('items').values({ id: 3, name: 'kept' }).execute(),
      db.transaction().execute((trx) => trx.insertInto('items').values({ id: 4, name: 'also kept' }).execute()),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toContain('give up');
    expect(String((results[2] as PromiseRejectedResult).reason)).toContain('UNIQUE');
    expect(committedNames()).toEqual(['kept', 'also kept']);
  });

  it('reads inside a write transaction see the writes before them, and reads outside need no commit', async () => {
    await db.insertInto('items').values({ id: 1, name: 'a' }).execute();
    const before = commits.count;
    expect(await db.selectFrom('items').select('name').execute()).toEqual([{ name: 'a' }]);
    expect(commits.count).toBe(before);
    const names = await db.transaction().execute(async (trx) => {
      await trx.insertInto('items').values({ id: 2, name: 'b' }).execute();
      return (await trx.selectFrom('items').select('name').orderBy('id').execute()).map((r) => r.name);
    });
    expect(names).toEqual(['a', 'b']);
  });

  it('two connections of one process writing at once both succeed: the second waits for the lock without blocking the event loop', async () => {
    const other = open(file);
    try {
      // With SQLite's blocking busy wait, the second connection would wait out busy_timeout
      // (5 s) while the first one's commit, due on the next turn of the loop, could never come.
      const started = Date.now();
      await Promise.all(
        Array.from({ length: 60 }, (_, i) => ((i % 2 === 0 ? db : other.db) as Kysely<Schema>).insertInto('items').values({ id: i, name: `n${i}` }).execute()),
      );
      expect(committedNames()).toHaveLength(60);
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      await other.db.destroy();
    }
  });

  it('a write lock held elsewhere past the timeout fails the write with SQLITE_BUSY; the event loop kept turning meanwhile', async () => {
    const short = open(file, 200);
    const holder = new SQLite(file);
    holder.exec('begin immediate');
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      const started = Date.now();
      const error = await short.db.insertInto('items').values({ id: 1, name: 'x' }).execute().then(
        () => undefined,
        (e: unknown) => e,
      );
      clearInterval(timer);
      expect((error as { code?: string }).code).toBe('SQLITE_BUSY');
      expect(Date.now() - started).toBeGreaterThanOrEqual(200);
      expect(ticks).toBeGreaterThan(5);
      holder.exec('rollback');
      // Once the lock is free, the same connection writes again.
      await short.db.insertInto('items').values({ id: 1, name: 'x' }).execute();
      expect(committedNames()).toEqual(['x']);
    } finally {
      if (holder.inTransaction) holder.exec('rollback');
      holder.close();
      await short.db.destroy();
    }
  });

  it('a read made while writes are pending is answered only once they are committed', async () => {
    const order: string[] = [];
    await Promise.all([
      db.insertInto('items').values({ id: 1, name: 'pending' }).execute().then(() => order.push('write')),
      // Runs in the open batch and sees the pending row: it must not be answered before the commit.
      db.selectFrom('items').select('name').execute().then((rows) => {
        order.push(`read ${rows.length}`);
        expect(committedNames()).toEqual(['pending']);
      }),
    ]);
    expect(order).toEqual(['write', 'read 1']);
  });

  it('when the database rolls the whole batch back (a full disk), every member fails with that error and nothing runs outside it', async () => {
    await db.insertInto('items').values({ id: 1, name: 'before' }).execute();
    // A database that cannot grow: the next large insert fails with SQLITE_FULL, and SQLite
    // rolls the whole write transaction back.
    sqlite.pragma(`max_page_count = ${Number(sqlite.pragma('page_count', { simple: true })) + 2}`);
    const big = 'x'.repeat(3000);
    const results = await Promise.allSettled([
      db.insertInto('items').values({ id: 2, name: 'small write in the same batch' }).execute(),
      db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ id: 3, name: 'first of the transaction' }).execute();
        try {
          for (let i = 0; i < 20; i++) await trx.insertInto('items').values({ id: 10 + i, name: `${big}${i}` }).execute();
        } catch {
          // A caller that catches the error and goes on must not write outside its transaction.
        }
        await trx.insertInto('items').values({ id: 4, name: 'after the error' }).execute();
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_FULL' });
    expect(committedNames()).toEqual(['before']);
    // Room again: the connection writes as before.
    sqlite.pragma('max_page_count = 1073741823');
    await db.insertInto('items').values({ id: 5, name: 'after' }).execute();
    expect(committedNames()).toEqual(['before', 'after']);
  });
});
