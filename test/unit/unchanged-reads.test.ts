/**
 * The SQLite driver's change stamp and the answers kept under it (unchanged-reads.ts): an answer
 * is used again only while a fresh read would return the same, never from writes not yet
 * committed, and never past a commit of another connection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnchangedReads } from '../../src/storage/kysely/unchanged-reads.js';
import { GroupCommitSqliteDriver } from '../../src/storage/sqlite-driver.js';

interface Schema {
  items: { id: number; name: string };
}

const root = mkdtempSync(path.join(tmpdir(), 'grantry-unchanged-reads-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The next turn of the event loop. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('change stamp and unchanged reads (SQLite)', () => {
  let sqlite: SQLite.Database;
  let other: SQLite.Database;
  let driver: GroupCommitSqliteDriver;
  let db: Kysely<Schema>;
  let kept: UnchangedReads<string | undefined>;
  let reads: number;
  let counter = 0;

  /** The name of item 1, through the kept answers; counts the reads that reach the database. */
  const nameOfOne = () =>
    kept.get('1', async () => {
      reads += 1;
      return (await db.selectFrom('items').select('name').where('id', '=', 1).executeTakeFirst())?.name;
    });

  beforeEach(() => {
    const file = path.join(root, `db-${++counter}.sqlite`);
    sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 0');
    sqlite.exec("create table items (id integer primary key, name text not null); insert into items values (1, 'first')");
    other = new SQLite(file);
    driver = new GroupCommitSqliteDriver(sqlite, 5000);
    db = new Kysely<Schema>({
      dialect: {
        createAdapter: () => new SqliteAdapter(),
        createDriver: () => driver,
        createIntrospector: (k) => new SqliteIntrospector(k),
        createQueryCompiler: () => new SqliteQueryCompiler(),
      },
    });
    kept = new UnchangedReads(driver.changeStamp);
    reads = 0;
  });
  afterEach(async () => {
    other.close();
    await db.destroy();
  });

  it('an answer is used again while nothing changes', async () => {
    expect(await nameOfOne()).toBe('first');
    await nextTurn();
    expect(await nameOfOne()).toBe('first');
    expect(reads).toBe(1);
  });

  it('a write of this connection, committed, ends it', async () => {
    expect(await nameOfOne()).toBe('first');
    await db.updateTable('items').set({ name: 'renamed here' }).where('id', '=', 1).execute();
    expect(await nameOfOne()).toBe('renamed here');
    expect(reads).toBe(2);
  });

  it("another connection's commit ends it for the very next read, even within the same turn", async () => {
    expect(await nameOfOne()).toBe('first');
    other.prepare("update items set name = 'renamed elsewhere' where id = 1").run();
    expect(await nameOfOne()).toBe('renamed elsewhere');
    expect(reads).toBe(2);
  });

  it('reads asked in one turn are answered from a data_version read made after they were asked', async () => {
    expect(await nameOfOne()).toBe('first');
    const asked = [nameOfOne(), nameOfOne(), nameOfOne()];
    // Committed elsewhere after the reads were asked, before the turn's data_version read.
    other.prepare("update items set name = 'committed before the read' where id = 1").run();
    expect(await Promise.all(asked)).toEqual(['committed before the read', 'committed before the read', 'committed before the read']);
    expect(await nameOfOne()).toBe('committed before the read');
  });

  it('one data_version read serves every read asked in one turn', async () => {
    expect(await nameOfOne()).toBe('first');
    // The driver's prepared pragma, counted (a private member: what this test is about).
    const pragma = (driver as unknown as { dataVersionStatement: { get: () => unknown } }).dataVersionStatement;
    const get = pragma.get.bind(pragma);
    let pragmaReads = 0;
    pragma.get = () => {
      pragmaReads += 1;
      return get();
    };
    expect(await Promise.all(Array.from({ length: 5 }, () => nameOfOne()))).toEqual(Array(5).fill('first'));
    expect(pragmaReads).toBe(1);
    expect(reads).toBe(1);
  });

  it('inside an open batch the stamp is read at once, without waiting a turn', async () => {
    await db.transaction().execute(async (trx) => {
      await trx.selectFrom('items').selectAll().execute();
      // The turn's end is asked for first, so a stamp that waited for it would come second.
      const turn = nextTurn().then(() => 'waited a turn');
      const first = await Promise.race([driver.changeStampAfterNow(), turn]);
      expect(first).toEqual(expect.any(Number));
    });
  });

  it('reads waiting for the turn\'s data_version read when the connection closes get no stamp, and do not hang', async () => {
    const waiting = driver.changeStampAfterNow();
    sqlite.close();
    expect(await waiting).toBeUndefined();
  });

  it('a stamp does not stand past a write of this connection made before its waiter used it', async () => {
    expect(await nameOfOne()).toBe('first');
    const stamp = (await driver.changeStampAfterNow()) as number;
    expect(driver.changeStampStands(stamp)).toBe(true);
    await db.updateTable('items').set({ name: 'written meanwhile' }).where('id', '=', 1).execute();
    expect(driver.changeStampStands(stamp)).toBe(false);
    // And the answer kept under the old stamp is not handed out: the read goes to the database.
    expect(await nameOfOne()).toBe('written meanwhile');
    expect(reads).toBe(2);
  });

  it('no stamp while this connection has uncommitted writes, and none kept from them', async () => {
    const before = await driver.changeStampAfterNow();
    expect(before).toEqual(expect.any(Number));
    const write = db.updateTable('items').set({ name: 'pending' }).where('id', '=', 1).execute();
    // Once the microtasks have run, the write has run in the open batch; its COMMIT comes later in the turn.
    await new Promise((resolve) => process.nextTick(resolve));
    expect(await driver.changeStampAfterNow()).toBeUndefined();
    expect(await nameOfOne()).toBe('pending');
    await write;
    expect(await driver.changeStampAfterNow()).toBeGreaterThan(before as number);
    expect(await nameOfOne()).toBe('pending');
    expect(reads).toBe(2);
  });

  it("a read made while this connection's write waits for another connection's lock is not kept past that write", async () => {
    await nextTurn();
    other.exec('begin immediate');
    const write = db.updateTable('items').set({ name: 'after the wait' }).where('id', '=', 1).execute();
    // The write met SQLITE_BUSY and waits on a timer, the connection free for reads meanwhile:
    // this read goes to the database and is kept.
    await new Promise((resolve) => process.nextTick(resolve));
    expect(await nameOfOne()).toBe('first');
    expect(reads).toBe(1);
    other.exec('commit');
    await write;
    expect(await nameOfOne()).toBe('after the wait');
    expect(reads).toBe(2);
  });

  it('a transaction rolled back: its write moved the stamp, and the answer is the committed one', async () => {
    const before = (await driver.changeStampAfterNow()) as number;
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.updateTable('items').set({ name: 'rolled back' }).where('id', '=', 1).execute();
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await driver.changeStampAfterNow()).toBeGreaterThan(before);
    expect(await nameOfOne()).toBe('first');
  });

  it('no stamp inside a read-only transaction, whose snapshot may be older than a commit elsewhere', async () => {
    expect(await nameOfOne()).toBe('first');
    await nextTurn();
    let keptRead: Promise<string | undefined> | undefined;
    await db
      .transaction()
      .setAccessMode('read only')
      .execute(async (trx) => {
        await trx.selectFrom('items').selectAll().execute();
        // Committed elsewhere after the snapshot began: the snapshot's data_version is the old one.
        other.prepare("update items set name = 'renamed during the snapshot' where id = 1").run();
        expect(await driver.changeStampAfterNow()).toBeUndefined();
        // A read asked now is not answered from the kept answer: it waits for the connection.
        keptRead = nameOfOne();
      });
    expect(await keptRead).toBe('renamed during the snapshot');
    expect(reads).toBe(2);
    expect(await driver.changeStampAfterNow()).toEqual(expect.any(Number));
  });

  it('no stamp while a streamed read holds its snapshot', async () => {
    for await (const row of db.selectFrom('items').select('name').stream()) {
      expect(row.name).toBe('first');
      expect(await driver.changeStampAfterNow()).toBeUndefined();
    }
    expect(await driver.changeStampAfterNow()).toEqual(expect.any(Number));
  });

  it('does not use a kept answer when the stamp it was handed no longer stands by the time it is used', async () => {
    let standing = true;
    const rows = new UnchangedReads<string>({ afterNow: async () => 7, stands: () => standing });
    expect(await rows.get('1', async () => 'kept')).toBe('kept');
    expect(await rows.get('1', async () => 'read again')).toBe('kept');
    standing = false;
    expect(await rows.get('1', async () => 'read again')).toBe('read again');
  });

  it('keeps its answers frozen, so that no caller changes what the next one gets', async () => {
    const rows = new UnchangedReads<{ name: string }>(driver.changeStamp);
    const first = await rows.get('1', async () => ({ name: 'first' }));
    expect(Object.isFrozen(first)).toBe(true);
    expect(await rows.get('1', async () => ({ name: 'read again' }))).toBe(first);
  });

  it('keeps at most its limit of answers', async () => {
    const small = new UnchangedReads<number>(driver.changeStamp, 2);
    let loads = 0;
    const load = async () => ++loads;
    await small.get('a', load);
    await small.get('b', load);
    await small.get('c', load);
    expect(await small.get('c', load)).toBe(3);
    expect(await small.get('a', load)).toBe(4);
  });
});
