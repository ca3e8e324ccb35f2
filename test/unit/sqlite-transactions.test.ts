/**
 * SQLite with several writers (several processes, here several connections): transactions take
 * the write lock as they begin (BEGIN IMMEDIATE), so a transaction that reads and then writes
 * never loses another's write nor fails for it; a statement waits for a lock held elsewhere
 * without blocking the process; readers are never blocked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDatabaseBusy, type OpenDatabase, openDatabase } from '../../src/storage/database.js';

const root = mkdtempSync(path.join(tmpdir(), 'grantry-sqlite-tx-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;

describe('SQLite transactions with several connections', () => {
  let file: string;
  let a: OpenDatabase;
  let b: OpenDatabase;
  /** A third connection, driven directly, as another program on the same file would. */
  let other: SQLite.Database;

  beforeEach(async () => {
    file = path.join(root, `tx-${++counter}.sqlite`);
    a = openDatabase(`sqlite:${file}`);
    await sql`create table counters (id integer primary key, value integer not null)`.execute(a.db);
    await sql`insert into counters (id, value) values (1, 0)`.execute(a.db);
    b = openDatabase(`sqlite:${file}`);
    other = new SQLite(file);
    other.pragma('busy_timeout = 0');
  });
  afterEach(async () => {
    other.close();
    await b.close();
    await a.close();
  });

  const value = async (db: OpenDatabase) => (await sql<{ value: number }>`select value from counters where id = 1`.execute(db.db)).rows[0]?.value;
  const busyCode = (fn: () => unknown) => {
    try {
      fn();
      return 'no error';
    } catch (e) {
      return (e as { code?: string }).code;
    }
  };

  it('a transaction holds the write lock from its first statement, a read', async () => {
    await a.db.transaction().execute(async (trx) => {
      expect((await sql<{ value: number }>`select value from counters where id = 1`.execute(trx)).rows[0]?.value).toBe(0);
      // Begun DEFERRED, it would hold no lock yet and the other program could write here.
      expect(busyCode(() => other.exec('begin immediate'))).toBe('SQLITE_BUSY');
      await sql`update counters set value = 1 where id = 1`.execute(trx);
    });
    expect(busyCode(() => other.exec('begin immediate'))).toBe('no error');
    other.exec('rollback');
    expect(await value(a)).toBe(1);
  });

  it('read, then write: a concurrent increment by another connection waits its turn and is not lost', async () => {
    let concurrent: Promise<unknown> | undefined;
    await a.db.transaction().execute(async (trx) => {
      const read = (await sql<{ value: number }>`select value from counters where id = 1`.execute(trx)).rows[0]?.value as number;
      // The other connection's write is asked for between this read and this write.
      concurrent = sql`update counters set value = value + 1 where id = 1`.execute(b.db);
      await new Promise((resolve) => setTimeout(resolve, 30));
      await sql`update counters set value = ${read + 1} where id = 1`.execute(trx);
    });
    await concurrent;
    expect(await value(a)).toBe(2);
    expect(await value(b)).toBe(2);
  });

  it('DEFERRED, the same read-then-write fails at once when another connection wrote in between (what IMMEDIATE avoids)', () => {
    const deferred = new SQLite(file);
    try {
      deferred.pragma('busy_timeout = 5000');
      deferred.exec('begin deferred');
      expect(deferred.prepare('select value from counters where id = 1').get()).toEqual({ value: 0 });
      other.exec('update counters set value = 5 where id = 1');
      // No busy wait helps a stale snapshot: SQLite refuses at once.
      expect(busyCode(() => deferred.exec('update counters set value = 1 where id = 1'))).toBe('SQLITE_BUSY_SNAPSHOT');
      deferred.exec('rollback');
    } finally {
      deferred.close();
    }
  });

  it('a read-only transaction takes no lock', async () => {
    await a.db
      .transaction()
      .setAccessMode('read only')
      .execute(async (trx) => {
        expect((await sql<{ value: number }>`select value from counters where id = 1`.execute(trx)).rows[0]?.value).toBe(0);
        expect(busyCode(() => other.exec('begin immediate'))).toBe('no error');
        other.exec('rollback');
      });
  });

  it('while another program holds the lock: reads are answered, a write waits without blocking the process, then goes through', async () => {
    other.exec('begin immediate');
    let settled = false;
    const write = sql`update counters set value = 7 where id = 1`.execute(a.db).finally(() => (settled = true));
    // Reads need no lock (WAL); on the other connection, and on the waiting one's own process.
    expect(await value(b)).toBe(0);
    // The process is not blocked: timers run while the write waits.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(settled).toBe(false);
    expect(await value(a)).toBe(0);
    other.exec('commit');
    await write;
    expect(await value(b)).toBe(7);
  });

  it('a transaction waits for the lock the same way, and then sees what was committed meanwhile', async () => {
    other.exec('begin immediate');
    other.exec('update counters set value = 10 where id = 1');
    const transaction = a.db.transaction().execute(async (trx) => {
      const read = (await sql<{ value: number }>`select value from counters where id = 1`.execute(trx)).rows[0]?.value as number;
      await sql`update counters set value = ${read + 1} where id = 1`.execute(trx);
      return read;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    other.exec('commit');
    expect(await transaction).toBe(10);
    expect(await value(b)).toBe(11);
  });
});

describe('isDatabaseBusy', () => {
  it.each([
    ['SQLITE_BUSY', true],
    ['SQLITE_BUSY_SNAPSHOT', true],
    ['SQLITE_LOCKED', true],
    ['SQLITE_LOCKED_SHAREDCACHE', true],
    ['40001', true],
    ['40P01', true],
    ['55P03', true],
    ['SQLITE_CONSTRAINT_UNIQUE', false],
    ['SQLITE_BUSYNESS', false],
    ['23505', false],
    ['ECONNREFUSED', false],
  ])('%s: %s', (code, busy) => {
    expect(isDatabaseBusy(Object.assign(new Error('x'), { code }))).toBe(busy);
  });

  it('is false for errors without a code', () => {
    expect(isDatabaseBusy(new Error('x'))).toBe(false);
    expect(isDatabaseBusy(undefined)).toBe(false);
  });
});
