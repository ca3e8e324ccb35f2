/**
 * Opens the database named by DATABASE_URL: the embedded SQLite file (the default) or
 * PostgreSQL. Everything above this file is the same code for both.
 */
import { accessSync, chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { type DialectAdapter, type Driver, Kysely, type LogEvent, type PostgresCursor, PostgresDialect, type PostgresPool, type PostgresPoolClient, SqliteAdapter, SqliteDialect } from 'kysely';
import pg from 'pg';
import { ConfigError } from '../config/index.js';
import { describeDatabase, sqliteFileOf } from './database-url.js';
import { describeUnavailability, describeWriteProblem, isWriteProblem, unavailabilityOf } from './database-errors.js';
import { preparedStatementName } from './kysely/prepared.js';
import type { ChangeStamp } from './kysely/unchanged-reads.js';
import { GroupCommitSqliteDriver } from './sqlite-driver.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface OpenDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  /**
   * Why writes are failing, learned from the last failed write (a read-only file, a full disk),
   * or undefined while they work: readiness (GET /readyz) reports it.
   */
  writeProblem(): string | undefined;
  /** PostgreSQL: the pool's connections, open and idle, and the queries waiting for one. */
  poolUse?(): { total: number; idle: number; waiting: number };
  /** SQLite: what may change when the database does, for reads whose answers are kept meanwhile (unchanged-reads.ts). */
  changeStamp?: ChangeStamp;
  close(): Promise<void>;
}

/** Told the duration of every query, and whether it failed (the metrics' database latency). */
export type QueryObserver = (durationMs: number, failed: boolean) => void;

/** How long a statement waits for another process's write lock before SQLITE_BUSY reaches its caller. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

/**
 * Grantry's SQLite dialect: its driver (sqlite-driver.ts: group commit, write transactions that
 * take the lock as they begin, waits for locks that do not block the process), and schema
 * changes in one transaction. SQLite's schema changes are transactional, but Kysely's SQLite
 * adapter says they are not, so its migrator would run each migration statement by statement: a
 * process killed halfway would leave a half-applied schema that every later start trips over.
 * Saying so makes the migrator run the whole pending set and its bookkeeping in one transaction
 * (the adapter flag is read by nothing else): all of it is applied, or none.
 */
class GrantrySqliteDialect extends SqliteDialect {
  /** Made here rather than in createDriver(), so that writeProblem() can ask it. */
  readonly driver: GroupCommitSqliteDriver;

  constructor(sqlite: SQLite.Database) {
    super({ database: sqlite });
    this.driver = new GroupCommitSqliteDriver(sqlite, SQLITE_BUSY_TIMEOUT_MS);
  }

  override createDriver(): Driver {
    return this.driver;
  }

  override createAdapter(): DialectAdapter {
    return new (class extends SqliteAdapter {
      override get supportsTransactionalDdl(): boolean {
        return true;
      }
    })();
  }
}

/**
 * Whether a database error says only that the database was too busy to answer in time
 * (database-errors.ts): the statement did nothing.
 */
export const isDatabaseBusy = (error: unknown): boolean => unavailabilityOf(error) === 'busy';

/**
 * The database holds password hashes and sealed signing keys: only its owner may read it. SQLite
 * creates the file with the process umask (usually world-readable) and its -wal and -shm files
 * with the mode of the database file, so a new file is created 0600 before SQLite opens it, and
 * existing files are restricted after opening (and switching to WAL).
 */
function createPrivately(file: string): void {
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
}

function restrictToOwner(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if ((statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
    } catch (e) {
      // -wal and -shm exist only while a connection is open; a file of another owner, or on a
      // read-only file system, is left as it is.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EPERM' && code !== 'EROFS') throw e;
    }
  }
}

/**
 * There is no Grantry database where the configuration points: no SQLite file, or a database
 * without Grantry's tables. Management commands stop here instead of creating one.
 */
export class MissingDatabaseError extends ConfigError {
  constructor(message: string) {
    super(message);
    this.name = 'MissingDatabaseError';
  }
}

/** What a MissingDatabaseError says when the database exists but Grantry never created its tables there. */
export const notGrantryDatabase = (databaseUrl: string) =>
  new MissingDatabaseError(`the ${describeDatabase(databaseUrl)} has no Grantry tables (DATABASE_URL / database_url)`);

/** PostgreSQL's SQLSTATE invalid_catalog_name: the database the URL names does not exist. */
const POSTGRES_NO_SUCH_DATABASE = '3D000';

/**
 * The MissingDatabaseError that an error of the first query on a database means, if any: a
 * PostgreSQL database that does not exist is no Grantry database either (an unreachable server
 * stays the system error it is).
 */
export function missingDatabaseOf(error: unknown, databaseUrl: string): MissingDatabaseError | undefined {
  if ((error as { code?: unknown } | null)?.code !== POSTGRES_NO_SUCH_DATABASE) return undefined;
  return new MissingDatabaseError(`the ${describeDatabase(databaseUrl)} does not exist (DATABASE_URL / database_url)`);
}

export interface OpenOptions {
  /**
   * Open only an existing database: a missing SQLite file is a MissingDatabaseError, and no
   * folder, file or persistent setting is created (a file that turns out not to be Grantry's
   * is left as it was). By default the SQLite file and its folder are created.
   */
  mustExist?: boolean;
  /** Most PostgreSQL connections of this process (database_pool_size; default 10). */
  poolSize?: number;
  onQuery?: QueryObserver;
}

/** Kysely's log option for an observer: every query, with its duration, failed or not. */
function logTo(onQuery: QueryObserver | undefined) {
  return onQuery && ((event: LogEvent) => onQuery(event.queryDurationMillis, event.level === 'error'));
}

/**
 * Opens (and by default creates) the SQLite file with Grantry's settings. A file or folder that
 * cannot be written (a read-only file system, a full disk, no permission) fails here, at start,
 * with words naming the file and the cause (unopenable), rather than SQLite's "unable to open
 * database file" or a stack.
 */
function openSqlite(file: string, options: OpenOptions): SQLite.Database {
  const onDisk = file !== ':memory:' && file !== '';
  const create = onDisk && !options.mustExist;
  if (options.mustExist && !(onDisk && existsSync(file))) {
    throw new MissingDatabaseError(`no Grantry database at ${path.resolve(file)} (DATABASE_URL / database_url, data_dir / GRANTRY_DATA_DIR)`);
  }
  try {
    if (create) {
      mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
      createPrivately(file);
      // SQLite opens a file it cannot write without a word when its -wal and -shm files are
      // there (a process killed on a disk remounted read-only since): it would then serve reads
      // and fail every write. A server is better refused at start.
      accessSync(file, constants.W_OK);
    }
    const sqlite = new SQLite(file, { fileMustExist: Boolean(options.mustExist) });
    // WAL lets readers run beside the single writer. The journal mode is stored in the file: the
    // process that created it set it, and a file opened as existing keeps its own. Opening waits
    // for another process's lock as SQLite does (busy_timeout); once open, statements wait
    // without blocking the process (GroupCommitSqliteDriver), so busy_timeout is then 0.
    sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    if (!options.mustExist) sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    // SQLite's default page cache is 2 MiB. With a million stored tokens, the indexes that
    // lookups and inserts go through no longer fit, and pages are read back from the file: code
    // exchange and refresh ran at three quarters of their empty-database rate (when refresh-token
    // and code keys were still random; keys are now written in time order, rowId and
    // timedSecret). 64 MiB holds the indexes of a few million rows.
    sqlite.pragma('cache_size = -65536');
    sqlite.pragma('busy_timeout = 0');
    if (create) restrictToOwner(file);
    return sqlite;
  } catch (e) {
    throw unopenable(e, path.resolve(file)) ?? e;
  }
}

/** The file-system errors that say a file cannot be written, and why. */
const WRITE_REFUSED: Record<string, string> = {
  EROFS: 'its file system is read-only',
  EACCES: 'this user may not write to it or to its folder',
  EPERM: 'this user may not write to it or to its folder',
  ENOSPC: 'its disk is full',
};

/** Why a SQLite file cannot be opened for writing, in words, when the cause is its disk or folder. */
function unopenable(error: unknown, file: string): Error | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  let why = typeof code === 'string' ? WRITE_REFUSED[code] : undefined;
  if (why === undefined) {
    const problem = unavailabilityOf(error);
    if (!isWriteProblem(problem)) return undefined;
    // SQLite does not say why it could not open (SQLITE_CANTOPEN: the -wal or -shm file could
    // not be made); the folder does.
    try {
      accessSync(path.dirname(file), constants.W_OK);
    } catch (e) {
      why = WRITE_REFUSED[(e as NodeJS.ErrnoException).code ?? ''];
    }
    why ??= describeWriteProblem(problem);
  }
  return Object.assign(new Error(`cannot open the SQLite database ${file} for writing: ${why}`), { code });
}

export function openDatabase(databaseUrl: string, options: OpenOptions = {}): OpenDatabase {
  const file = sqliteFileOf(databaseUrl);
  if (file !== undefined) {
    const sqlite = openSqlite(file, options);
    const dialect = new GrantrySqliteDialect(sqlite);
    const db = new Kysely<Database>({ dialect, log: logTo(options.onQuery) });
    const writeProblem = () => {
      const why = dialect.driver.writeProblem();
      return why && describeUnavailability(why);
    };
    return { db, dialect: 'sqlite', writeProblem, changeStamp: dialect.driver.changeStamp, close: () => db.destroy() };
  }
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.poolSize ?? 10,
    // A server that does not answer (down, restarting, a network gone) fails a query after 3 s
    // instead of leaving it waiting for a connection: the request is answered 503 (error-format.ts).
    connectionTimeoutMillis: 3000,
    // TCP keep-alive notices a pooled connection whose server vanished without closing it (a
    // host down, a dropped network), which would otherwise look idle and healthy in the pool
    // forever. It probes after 30 s of quiet, then at the system's interval (net.ipv4.tcp_keepalive_*).
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
    // Epoch-second columns are BIGINT; they fit a JS number, so read them as numbers.
    types: { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : pg.types.getTypeParser(oid, format as 'text')) } as pg.CustomTypesConfig,
  });
  // A connection lost while idle must not crash the process: the pool drops the client (and
  // reports it here). One lost while a request holds the client between two queries (the server
  // restarting during a transaction) is emitted on the client itself, where no pool listener is:
  // without this one it would crash the process. That client then fails its next query as "not
  // queryable" (503), and the pool discards it on release instead of handing it out again.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingHotQueries(pool) }), log: logTo(options.onQuery) });
  return {
    db,
    dialect: 'postgres',
    writeProblem: () => undefined,
    poolUse: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => db.destroy(),
  };
}

/**
 * The pool as Kysely sees it, with the hot queries (PreparedQuery) run as named prepared
 * statements: PostgreSQL parses and plans one on its first use on a connection and then only
 * binds and runs it, where an unnamed statement is parsed and planned on every call (about
 * 30 µs of the server's CPU for each of the few statements of a token request here). Other
 * queries go as they are.
 *
 * A table changed under a running server (a migration by a newer version during a rolling
 * upgrade) makes PostgreSQL refuse a prepared "select *" whose columns changed, on every later
 * call. The connection then prepares its statements again under new names; the refused query
 * is run again at once when no transaction was open (the refusal wrote nothing), else its
 * error stands and the transaction fails as any other would.
 */
function preparingHotQueries(pool: pg.Pool): PostgresPool {
  const wrapped = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const wrap = (client: pg.PoolClient): PostgresPoolClient => {
    let generation = 0;
    const run = (text: string, values: unknown[] | undefined, name: string, again = false): Promise<pg.QueryResult> =>
      client.query({ name: generation === 0 ? name : `${name}_${generation}`, text, values }).catch((e: unknown) => {
        if ((e as { routine?: string }).routine !== PLAN_RESULT_CHANGED || again) throw e;
        generation += 1;
        if (client.getTransactionStatus() !== 'I') throw e;
        return run(text, values, name, true);
      });
    return {
      query: ((sqlOrCursor: string | PostgresCursor<unknown>, parameters?: unknown[]) => {
        if (typeof sqlOrCursor !== 'string') return client.query(sqlOrCursor as never);
        const name = preparedStatementName(sqlOrCursor);
        return name === undefined ? client.query(sqlOrCursor, parameters) : run(sqlOrCursor, parameters, name);
      }) as unknown as PostgresPoolClient['query'],
      release: (destroy?: boolean) => client.release(destroy),
    };
  };
  return {
    async connect() {
      const client = await pool.connect();
      let connection = wrapped.get(client);
      if (!connection) wrapped.set(client, (connection = wrap(client)));
      return connection;
    },
    end: () => pool.end(),
  };
}

/** The PostgreSQL routine that reports "cached plan must not change result type". */
const PLAN_RESULT_CHANGED = 'RevalidateCachedQuery';
