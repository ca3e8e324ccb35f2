/**
 * Grantry's Kysely driver for SQLite: one better-sqlite3 connection, group commit, and waits for
 * other processes' locks that do not block this one.
 *
 * Group commit. A commit is the dearest part of a token request on SQLite: the WAL write (and
 * now and then a checkpoint) costs several times the inserts it makes durable (about 60 µs
 * against 6 µs on this project's ext4 machines). So the writes made during one turn of the
 * event loop share one write transaction (a batch): the first write opens it with BEGIN
 * IMMEDIATE, every transaction runs inside it as a SAVEPOINT (so each still commits or rolls
 * back alone), a write outside a transaction runs in it as it is (one statement is atomic by
 * itself), and the batch commits once when the turn is over. No caller learns of its write
 * before that commit: it resolves only after the shared COMMIT, and every member fails if the
 * COMMIT fails.
 *
 * Locks. BEGIN IMMEDIATE takes SQLite's single write lock as the batch opens, so every read
 * inside a write transaction sees what its writes then go over (Kysely's own DEFERRED
 * transactions could fail at once with SQLITE_BUSY when another process wrote between their
 * read and their write). SQLite's busy_timeout would wait for another process's lock by
 * sleeping in the calling thread, the whole Node process (and two connections of one process,
 * as in tests, would wait for each other until the timeout). So the connection has
 * busy_timeout 0, and a statement refused SQLITE_BUSY outside a transaction (BEGIN IMMEDIATE
 * above all; a read only rarely) is tried again after a short timer, up to `lockTimeoutMs`,
 * with the connection free meanwhile for this process's other queries, reads above all (WAL:
 * they need no lock). Past the timeout the SQLITE_BUSY error reaches the caller alone (503,
 * isDatabaseBusy in database.ts).
 *
 * Reads outside a transaction run at once. When a batch is open they run inside it and see its
 * writes, so they too are answered only after its COMMIT (and fail if it fails): nothing is ever
 * answered from writes that might not last. A read-only transaction
 * (`setAccessMode('read only')`) is a plain DEFERRED one when no batch is open: a consistent
 * snapshot without the lock.
 *
 * Change stamps. The change stamp is a number that moves whenever what this connection reads may
 * have changed: with each of its own writes, as the write runs, and when SQLite's data_version
 * says another connection (another process, the CLI) has committed since the last look. Reads
 * whose answers are kept while the stamp stands (unchanged-reads.ts) rest on it. While a batch
 * holds uncommitted writes there is no stamp: those reads then go to the database and wait for
 * the COMMIT, as any read does, so nothing is ever answered from writes that might not last;
 * and a rollback only undoes writes that already moved the stamp, under which nothing was kept.
 * A stamp is handed out only from a data_version read made after it was asked for
 * (changeStampAfterNow), so it covers every commit made before the request that asks was
 * received; one read serves all that are asked in one turn of the event loop.
 *
 * Write problems. A write that fails because the disk refuses it (full, read-only, I/O errors,
 * files that cannot be opened) is remembered until a commit succeeds again: readiness reports
 * it (writeProblem()), since reads still work and a load balancer would otherwise keep sending
 * writes to a node that can only refuse them. While a problem is remembered, asking for it
 * tries a write now and then (rewriting the file's user_version, a change of nothing), so that
 * a node no longer sent any traffic still notices that the disk is back. That write needs no new
 * space: on a disk still full it may pass, and the next write that needs space sets the problem
 * again (readiness may then go back and forth while the disk stays full).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type SQLite from 'better-sqlite3';
import { CompiledQuery, type DatabaseConnection, type Driver, type QueryResult, type TransactionSettings } from 'kysely';
import { isWriteProblem, type Unavailability, unavailabilityOf } from './database-errors.js';
import type { ChangeStamp } from './kysely/unchanged-reads.js';

/** One caller at a time on the one connection, in the order asked. */
class Mutex {
  private held = false;
  private readonly waiting: Array<() => void> = [];

  lock(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  unlock(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held = false;
  }
}

/** The write transaction shared by the writes of one turn of the event loop. */
interface Batch {
  committed: Promise<void>;
  /** Whether a write of it succeeded: only then does its commit show that the disk takes writes. */
  wrote: boolean;
  resolve(): void;
  reject(error: unknown): void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const committed = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Every member awaits it; this only keeps a failure nobody is left to hear from being "unhandled".
  committed.catch(() => {});
  return { committed, wrote: false, resolve, reject };
}

const SAVEPOINT = 'grantry_transaction';

/**
 * The error of a write in a batch SQLite rolled back by itself. Its cause is the disk's refusal
 * that made SQLite do so, when one was seen, so that the request is answered as that (a 503).
 */
const lostBatch = (cause: unknown) => new Error('the database rolled back a write transaction after an earlier error', cause === undefined ? {} : { cause });

const isSqliteBusy = (error: unknown) => /^SQLITE_BUSY(_|$)/.test(String((error as { code?: unknown } | null)?.code));

/** The pause before the next try at a lock another connection holds: 1, 2, 4, 8, 16, then 20 ms, give or take half. */
const busyPause = (attempt: number) => Math.min(2 ** attempt, 20) * (0.5 + Math.random());

/**
 * Prepared statements kept per SQL text: Kysely would prepare every query anew, and preparing
 * costs more than running the small queries of the hot paths. Bounded: queries are built from a
 * fixed set of shapes, values are bound.
 */
class StatementCache {
  private readonly cache = new Map<string, SQLite.Statement>();

  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly limit = 500,
  ) {}

  get(sql: string): SQLite.Statement {
    let statement = this.cache.get(sql);
    if (!statement) {
      statement = this.sqlite.prepare(sql);
      if (this.cache.size >= this.limit) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(sql, statement);
    }
    return statement;
  }
}

class GroupCommitConnection implements DatabaseConnection {
  /** The batch the current caller wrote in: it is released only once that batch has committed. */
  batch: Batch | undefined;
  /** Inside a transaction: a savepoint of the batch, or a plain read-only transaction. */
  transaction: 'savepoint' | 'read only' | undefined;

  constructor(
    private readonly driver: GroupCommitSqliteDriver,
    private readonly statements: StatementCache,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const statement = this.statements.get(query.sql);
    if (this.transaction === 'read only') return this.driver.runStamped<R>(statement, query);
    if (this.transaction === 'savepoint') return this.driver.runInBatch<R>(statement, query);
    if (!statement.readonly) {
      await this.driver.joinBatch(this);
      return this.driver.runInBatch<R>(statement, query);
    }
    return this.driver.whenNotBusy(() => {
      this.driver.waitForOpenBatch(this);
      return run<R>(statement, query);
    });
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const statement = this.statements.get(query.sql);
    // Outside the batch logic: reads only, and outside any batch.
    if (!statement.reader || !statement.readonly || this.transaction !== undefined) throw new Error('only reads outside a transaction can be streamed');
    await this.driver.whenNotBusy(() => this.driver.waitForOpenBatch(this));
    // An open iterator holds a read snapshot that inTransaction does not show: no stamp meanwhile.
    this.driver.streams += 1;
    try {
      for (const row of statement.iterate(query.parameters as unknown[])) yield { rows: [row as R] };
    } finally {
      this.driver.streams -= 1;
    }
  }
}

function run<R>(statement: SQLite.Statement, query: CompiledQuery): QueryResult<R> {
  const parameters = query.parameters as unknown[];
  if (statement.reader) return { rows: statement.all(parameters) as R[] };
  const { changes, lastInsertRowid } = statement.run(parameters);
  return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
}

export class GroupCommitSqliteDriver implements Driver {
  private readonly mutex = new Mutex();
  private readonly statements: StatementCache;
  private readonly connection: GroupCommitConnection;
  private batch: Batch | undefined;
  /** The last write the disk refused, until a commit succeeds. */
  private problem: { why: Unavailability; error: unknown } | undefined;
  private lastProbe = 0;
  /** Counts this connection's writes and the data_version changes seen. */
  private changes = 0;
  private dataVersion: number | undefined;
  /** Those waiting for the next data_version read (changeStampAfterNow). */
  private stampWaiters: Array<(stamp: number | undefined) => void> = [];
  /** Streamed reads in progress (streamQuery). */
  streams = 0;
  /** This connection's change stamp, as the repositories' kept answers take it. */
  readonly changeStamp: ChangeStamp = { afterNow: () => this.changeStampAfterNow(), stands: (stamp) => this.changeStampStands(stamp) };
  private readonly dataVersionStatement: SQLite.Statement;

  /** `sqlite` must have busy_timeout 0: waits for locks are this driver's (see above). */
  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly lockTimeoutMs: number,
  ) {
    this.statements = new StatementCache(sqlite);
    this.connection = new GroupCommitConnection(this, this.statements);
    this.dataVersionStatement = sqlite.prepare('pragma data_version').pluck();
  }

  /**
   * See "Change stamps" above: the stamp once data_version has been read after this call;
   * undefined while this connection has uncommitted writes, or reads in a snapshot that may be
   * older than the latest commit, or cannot read data_version.
   *
   * The pragma costs a read transaction (a shared lock of the WAL index: two fcntl calls, some
   * 9 µs of an API request under load), so it is read once per turn of the event loop, in the
   * check phase (setImmediate), for everyone who asked since the last read. By then the poll
   * phase has taken in every request that asks: each was received before the read, and so was
   * everything its client learned of other processes' commits. When a write of this turn has run
   * by then, there is no stamp: those reads go to the database and wait for the batch's COMMIT,
   * as reads made after that write always did (their answers could not be kept anyway: every
   * write moves the stamp).
   */
  changeStampAfterNow(): Promise<number | undefined> {
    if (!this.mayStamp()) return Promise.resolve(undefined);
    // An open batch holds the write lock: no other connection can commit before it ends, and the
    // pragma runs in its transaction without a lock of its own. Read now, it is the latest, and
    // a read made inside a transaction (a page's, an ID token's claims) does not wait a turn.
    if (this.batch !== undefined) return Promise.resolve(this.readStamp());
    return new Promise((resolve) => {
      if (this.stampWaiters.push(resolve) === 1) setImmediate(this.readDataVersion);
    });
  }

  /**
   * Whether `stamp`, from changeStampAfterNow, still holds: no write of this connection since,
   * none uncommitted, no newer data_version read that moved it. Asked where the stamp is used:
   * between the read and its waiter's turn, another waiter may have written.
   */
  changeStampStands(stamp: number): boolean {
    return this.mayStamp() && this.changes === stamp;
  }

  private mayStamp(): boolean {
    if (this.batch?.wrote || this.streams > 0) return false;
    // data_version is read at the start of a read transaction. Outside one, the pragma starts its
    // own and sees the latest commit; in a batch, which holds the write lock, nobody else can have
    // committed since it began; but a read-only transaction's snapshot may be older than a
    // commit that the reads waiting behind it will see.
    return !(this.sqlite.inTransaction && this.batch === undefined);
  }

  private readonly readDataVersion = () => {
    const waiters = this.stampWaiters;
    this.stampWaiters = [];
    const stamp = this.mayStamp() ? this.readStamp() : undefined;
    for (const resolve of waiters) resolve(stamp);
  };

  /** The stamp after reading data_version now. */
  private readStamp(): number | undefined {
    let version: number;
    try {
      version = this.dataVersionStatement.get() as number;
    } catch {
      // The pragma met a lock (SQLite recovering the WAL index) or a closed connection: the
      // reads go to the database, which waits or answers as any read does.
      return undefined;
    }
    if (version !== this.dataVersion) {
      this.dataVersion = version;
      this.changes += 1;
    }
    return this.changes;
  }

  /**
   * Runs a statement; a write moves the change stamp as it runs, in the same synchronous step,
   * never before an await: a read that took the stamp while the write waited for the lock must
   * not keep its answer past the write.
   */
  runStamped<R>(statement: SQLite.Statement, query: CompiledQuery): QueryResult<R> {
    if (!statement.readonly) this.changes += 1;
    return run<R>(statement, query);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.mutex.lock();
    return this.connection;
  }

  async beginTransaction(_connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const connection = this.connection;
    if (settings.accessMode === 'read only' && this.batch === undefined) {
      await this.whenNotBusy(() => this.sqlite.exec('begin deferred'));
      connection.transaction = 'read only';
      return;
    }
    await this.joinBatch(connection);
    this.inBatch('savepoint');
    connection.transaction = 'savepoint';
  }

  async commitTransaction(): Promise<void> {
    const kind = this.connection.transaction;
    this.connection.transaction = undefined;
    if (kind === 'read only') this.sqlite.exec('commit');
    else this.inBatch('release');
  }

  async rollbackTransaction(): Promise<void> {
    const kind = this.connection.transaction;
    this.connection.transaction = undefined;
    if (kind === 'read only') {
      if (this.sqlite.inTransaction) this.sqlite.exec('rollback');
      return;
    }
    // Some errors (a full disk, an I/O error) make SQLite roll the whole transaction back by
    // itself: then the batch is lost, and with it every write it held (runInBatch has said so).
    if (!this.sqlite.inTransaction) return this.loseBatch(lostBatch(this.problem?.error));
    this.inBatch('rollback to');
    this.inBatch('release');
  }

  async releaseConnection(): Promise<void> {
    const batch = this.connection.batch;
    this.connection.batch = undefined;
    this.connection.transaction = undefined;
    this.mutex.unlock();
    // Only now, with the connection free for the next callers to write in the same batch.
    if (batch) await batch.committed;
  }

  async destroy(): Promise<void> {
    await this.flush();
    this.sqlite.close();
  }

  /**
   * A savepoint statement of the transaction in the batch, prepared once: every transaction runs
   * two, and exec() would parse them anew each time (a batch's BEGIN and COMMIT, once per batch,
   * are exec'd).
   */
  private inBatch(verb: 'savepoint' | 'release' | 'rollback to'): void {
    this.statements.get(`${verb} ${SAVEPOINT}`).run();
  }

  /** Makes the current caller's writes part of the open batch, opening one (BEGIN IMMEDIATE) if none is. */
  async joinBatch(connection: GroupCommitConnection): Promise<void> {
    // Another caller may open a batch while this one waits for the lock: then it joins that one.
    await this.whenNotBusy(() => {
      if (this.batch !== undefined) {
        if (this.sqlite.inTransaction) return;
        this.loseBatch(lostBatch(this.problem?.error));
      }
      this.noteFailureOf(() => this.sqlite.exec('begin immediate'));
      this.batch = newBatch();
      setImmediate(() => void this.flush());
    });
    connection.batch = this.batch;
  }

  /** A read while a batch is open sees the batch's writes: its caller waits for their commit too. */
  waitForOpenBatch(connection: GroupCommitConnection): void {
    if (this.batch !== undefined) connection.batch = this.batch;
  }

  /**
   * Runs a statement of the open batch. When a statement's error made SQLite roll the whole
   * transaction back (a full disk, an I/O error), the batch is lost: every member fails with that
   * error, and nothing more runs outside the transaction as though it were still inside.
   */
  runInBatch<R>(statement: SQLite.Statement, query: CompiledQuery): QueryResult<R> {
    if (!this.sqlite.inTransaction) {
      const error = lostBatch(this.problem?.error);
      this.loseBatch(error);
      throw error;
    }
    try {
      const result = this.noteFailureOf(() => this.runStamped<R>(statement, query));
      if (this.batch && !statement.readonly) this.batch.wrote = true;
      return result;
    } catch (e) {
      if (!this.sqlite.inTransaction) this.loseBatch(e);
      throw e;
    }
  }

  /**
   * Runs `work` (which must change nothing when it fails) for the caller holding the connection;
   * while it meets SQLITE_BUSY, tries again after short pauses, the connection free meanwhile.
   */
  async whenNotBusy<T>(work: () => T): Promise<T> {
    const deadline = Date.now() + this.lockTimeoutMs;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return work();
      } catch (e) {
        if (!isSqliteBusy(e) || Date.now() >= deadline) throw e;
      }
      this.mutex.unlock();
      try {
        await sleep(busyPause(attempt));
      } finally {
        await this.mutex.lock();
      }
    }
  }

  /** Commits the open batch, once the caller using the connection now is done with it. */
  private async flush(): Promise<void> {
    await this.mutex.lock();
    try {
      const batch = this.batch;
      if (batch === undefined) return;
      this.batch = undefined;
      try {
        this.noteFailureOf(() => this.sqlite.exec('commit'));
        if (batch.wrote) this.problem = undefined;
        batch.resolve();
      } catch (e) {
        batch.reject(e);
        try {
          if (this.sqlite.inTransaction) this.sqlite.exec('rollback');
        } catch {
          // The commit's error is the one that matters, and it has been passed on.
        }
      }
    } finally {
      this.mutex.unlock();
    }
  }

  /** Runs a write step; if the disk refused it, remembers why (and rethrows). */
  private noteFailureOf<T>(write: () => T): T {
    try {
      return write();
    } catch (e) {
      const why = unavailabilityOf(e);
      if (isWriteProblem(why)) this.problem = { why, error: e };
      throw e;
    }
  }

  /**
   * Why writes fail, learned from the last failed write, until a commit of writes succeeds. While a
   * problem lasts, each call starts a trial write (at most one a second) that clears it once the
   * disk takes writes again.
   */
  writeProblem(): Unavailability | undefined {
    if (this.problem !== undefined && Date.now() - this.lastProbe >= 1000) {
      this.lastProbe = Date.now();
      void this.tryWrite().catch(() => {});
    }
    return this.problem?.why;
  }

  /** One write that changes nothing (user_version rewritten with its own value), committed as any other. */
  private async tryWrite(): Promise<void> {
    const connection = (await this.acquireConnection()) as GroupCommitConnection;
    try {
      await this.joinBatch(connection);
      const version = Number(this.sqlite.pragma('user_version', { simple: true }));
      this.runInBatch(this.statements.get(`pragma user_version = ${version}`), CompiledQuery.raw(''));
    } finally {
      await this.releaseConnection();
    }
  }

  private loseBatch(error: unknown): void {
    this.batch?.reject(error);
    this.batch = undefined;
  }
}
