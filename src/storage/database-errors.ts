/**
 * Which database errors mean "the database cannot answer now" rather than "this request is
 * wrong" or "Grantry has a bug": one place for both backends, read by the HTTP error handler (503
 * with Retry-After instead of a 500) and by the SQLite driver (what readiness reports).
 */

/**
 * Why the database is unavailable:
 * - `busy`: SQLite's write lock held by another process past the wait, or PostgreSQL giving up on
 *   a lock or a serialisation; the statement did nothing.
 * - `unreachable`: no connection to PostgreSQL (refused, reset, timed out, closed by a server
 *   shutting down or restarting, a pooled connection that broke).
 * - `disk full`, `read-only`, `I/O error`, `cannot open`: the disk under the database refuses
 *   writes (SQLite, or PostgreSQL's own disk full / read-only standby).
 */
export type Unavailability = 'busy' | 'unreachable' | 'disk full' | 'read-only' | 'I/O error' | 'cannot open';

/** Node's codes for a connection that could not be made or was lost. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * node-postgres and its pool say a connection is gone only in words: a server that closed it
 * ("Connection terminated unexpectedly"), a client whose connection broke earlier ("... is not
 * queryable"), a connect that took longer than connectionTimeoutMillis ("timeout exceeded when
 * trying to connect", "Connection terminated due to connection timeout").
 */
const CONNECTION_MESSAGES = /^(Connection terminated|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|timeout exceeded when trying to connect)/;

/** PostgreSQL SQLSTATEs: 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up), 53300 too_many_connections. */
const POSTGRES_GONE = new Set(['57P01', '57P02', '57P03', '53300']);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function unavailabilityOfCode(code: string): Unavailability | undefined {
  if (/^SQLITE_(BUSY|LOCKED)(_|$)/.test(code) || code === '40001' || code === '40P01' || code === '55P03') return 'busy';
  if (CONNECTION_CODES.has(code) || POSTGRES_GONE.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return 'unreachable';
  if (code === 'SQLITE_FULL' || code === '53100') return 'disk full';
  if (/^SQLITE_READONLY(_|$)/.test(code) || code === '25006') return 'read-only';
  if (/^SQLITE_IOERR(_|$)/.test(code)) return 'I/O error';
  if (/^SQLITE_CANTOPEN(_|$)/.test(code)) return 'cannot open';
  return undefined;
}

/**
 * Why a database error means the database is unavailable, or undefined when it means something
 * else. Follows `cause` (a pool's timeout wraps the socket's error) and an AggregateError's
 * first error (Node's refused connection to several addresses).
 */
export function unavailabilityOf(error: unknown, depth = 0): Unavailability | undefined {
  if (error === null || typeof error !== 'object' || depth > 3) return undefined;
  const code = codeOf(error);
  const byCode = code === undefined ? undefined : unavailabilityOfCode(code);
  if (byCode) return byCode;
  if (error instanceof Error && CONNECTION_MESSAGES.test(error.message)) return 'unreachable';
  const inner = error instanceof AggregateError ? error.errors[0] : (error as { cause?: unknown }).cause;
  return unavailabilityOf(inner, depth + 1);
}

/**
 * The unavailabilities that say writes fail while reads may still work (SQLite on a bad disk):
 * the driver remembers them for readiness until a write succeeds again.
 */
export const isWriteProblem = (why: Unavailability | undefined): why is 'disk full' | 'read-only' | 'I/O error' | 'cannot open' =>
  why === 'disk full' || why === 'read-only' || why === 'I/O error' || why === 'cannot open';

/** What is wrong with a database's disk, as the end of a sentence about the database. */
export function describeWriteProblem(why: 'disk full' | 'read-only' | 'I/O error' | 'cannot open'): string {
  switch (why) {
    case 'disk full':
      return 'its disk is full';
    case 'read-only':
      return 'its file or file system is read-only';
    case 'I/O error':
      return 'its disk reports input/output errors';
    case 'cannot open':
      return 'its files cannot be opened';
  }
}

/** What a client and an operator are told, in words that do not leak the driver's message. */
export function describeUnavailability(why: Unavailability): string {
  if (why === 'busy') return 'the server is too busy to answer now; try again in a moment';
  if (why === 'unreachable') return 'the database cannot be reached now; try again in a moment';
  return `the database cannot store anything now: ${describeWriteProblem(why)}`;
}
