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

/** The next turn of the event loop: another process's commit is seen from one on. */
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
    kept = new UnchangedReads(() => driver.changeStamp());
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

  it("another connection's commit ends it from the next turn on", async () => {
    expect(await nameOfOne()).toBe('first');
    other.prepare("update items set name = 'renamed elsewhere' where id = 1").run();
    await nextTurn();
    expect(await nameOfOne()).toBe('renamed elsewhere');
    expect(reads).toBe(2);
  });

  it('no stamp while this connection has uncommitted writes, and none kept from them', async () => {
    const before = driver.changeStamp();
    expect(before).toEqual(expect.any(Number));
    const write = db.updateTable('items').set({ name: 'pending' }).where('id', '=', 1).execute();
    // Once the microtasks have run, the write has run in the open batch; its COMMIT comes later in the turn.
    await new Promise((resolve) => process.nextTick(resolve));
    expect(driver.changeStamp()).toBeUndefined();
    expect(await nameOfOne()).toBe('pending');
    await write;
    expect(driver.changeStamp()).toBeGreaterThan(before as number);
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
    const before = driver.changeStamp() as number;
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.updateTable('items').set({ name: 'rolled back' }).where('id', '=', 1).execute();
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(driver.changeStamp()).toBeGreaterThan(before);
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
        expect(driver.changeStamp()).toBeUndefined();
        // A read asked now is not answered from the kept answer: it waits for the connection.
        keptRead = nameOfOne();
      });
    expect(await keptRead).toBe('renamed during the snapshot');
    expect(reads).toBe(2);
    expect(driver.changeStamp()).toEqual(expect.any(Number));
  });

  it('no stamp while a streamed read holds its snapshot', async () => {
    for await (const row of db.selectFrom('items').select('name').stream()) {
      expect(row.name).toBe('first');
      expect(driver.changeStamp()).toBeUndefined();
    }
    expect(driver.changeStamp()).toEqual(expect.any(Number));
  });

  it('keeps its answers frozen, so that no caller changes what the next one gets', async () => {
    const rows = new UnchangedReads<{ name: string }>(() => driver.changeStamp());
    const first = await rows.get('1', async () => ({ name: 'first' }));
    expect(Object.isFrozen(first)).toBe(true);
    expect(await rows.get('1', async () => ({ name: 'read again' }))).toBe(first);
  });

  it('keeps at most its limit of answers', async () => {
    const small = new UnchangedReads<number>(() => driver.changeStamp(), 2);
    let loads = 0;
    const load = async () => ++loads;
    await small.get('a', load);
    await small.get('b', load);
    await small.get('c', load);
    expect(await small.get('c', load)).toBe(3);
    expect(await small.get('a', load)).toBe(4);
  });
});
