/**
 * Everything of the benchmark that writes Grantry's token tables directly, with SQL, in one
 * file: change it here when those tables change (src/storage/schema.ts).
 *
 * - fill(): the --growth run's 1,000,000 grants with their access and refresh tokens, a share of
 *   them expired and waiting for the cleanup, by bulk INSERT … SELECT;
 * - insertCodes(): the fresh authorization codes of a code-exchange run, stored as the code
 *   issuer stores them (src/oauth/authorization-codes.ts), in batches in one transaction: one
 *   at a time through the issuer, the tens of thousands a run can use took longer than the run.
 *
 * fill() has a connection of its own; insertCodes() goes through the Kysely instance of the
 * bench's in-process Grantry (grantry.database), on the same database as the server.
 */
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { CODE_PURPOSE } from '../dist/oauth/authorization-codes.js';
import { rowId, timedSecret } from '../dist/security/tokens.js';

/** Of every five rows, one expired (its grant, access and refresh token) and one rotated refresh token (used, still stored). */
const SHARE_NOTE = '20% expired and waiting for the cleanup, 20% used (rotated) refresh tokens';

/**
 * A connection of its own to the database at `databaseUrl` (sqlite:PATH or postgres://…), with
 * exec(sql) and count(sql): the fill's long statements go around the server's driver and its
 * batching, and hold nothing of the bench's in-process Grantry.
 */
async function openDirect(databaseUrl) {
  if (databaseUrl.startsWith('sqlite:')) {
    const sqlite = new SQLite(databaseUrl.slice('sqlite:'.length));
    sqlite.pragma('busy_timeout = 30000');
    // A page cache that holds the indexes being filled: with the default 2 MB, random keys make a
    // million rows take minutes. This connection's only; the server's is untouched.
    sqlite.pragma('cache_size = -524288');
    return {
      dialect: 'sqlite',
      exec: async (text) => void sqlite.exec(text),
      count: async (text) => Number(sqlite.prepare(text).pluck().get()),
      close: async () => sqlite.close(),
    };
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  return {
    dialect: 'postgres',
    exec: async (text) => void (await client.query(text)),
    count: async (text) => Number(Object.values((await client.query(text)).rows[0])[0]),
    close: () => client.end(),
  };
}

/**
 * Fills the database at `databaseUrl` with `rows` grants of the bench client (`clientPk`) for
 * `rows / 50` made-up users of the back office, each with one access token and one refresh
 * token: rows × 3 rows in all. Live rows were issued within the last hour (access tokens still
 * valid); every fifth is 40 days old and expired, as rows are between two cleanup runs; of the
 * live ones, every fifth refresh token was already used (rotated), as those stay until they
 * expire. Keys are made as Grantry's are (grant ids, jtis and refresh-token keys: the time, then
 * random), so the indexes grow as they would. Returns the
 * rows the tables then hold, and how long it took.
 */
export async function fill(databaseUrl, { clientPk, rows }) {
  const started = performance.now();
  const now = Math.floor(Date.now() / 1000);
  const day = 86400;
  const db = await openDirect(databaseUrl);
  try {
    const sqlite = db.dialect === 'sqlite';
    /** `chars` random hex digits (at most 64). */
    const hex = (chars) => (sqlite ? `substr(lower(hex(randomblob(${Math.ceil(chars / 2)}))), 1, ${chars})` : `substr(md5(random()::text || i::text) || md5(random()::text || i::text), 1, ${chars})`);
    const series = sqlite ? `(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows}) SELECT i FROM n)` : `(SELECT generate_series(1, ${rows}) AS i)`;
    const users = Math.max(1, Math.floor(rows / 50));
    const createdAt = `CASE WHEN i % 5 = 0 THEN ${now - 40 * day} - i % ${day} ELSE ${now} - i % 3000 END`;
    // Grant ids and jtis as rowId() makes them, refresh-token keys as SecretHasher.storageKey makes
    // them: the time in milliseconds in 12 hex digits, then random (as long as theirs: 22 and 43).
    const timeHex = sqlite ? `printf('%012x', (${createdAt}) * 1000 + i % 1000)` : `lpad(to_hex((${createdAt})::bigint * 1000 + i % 1000), 12, '0')`;
    await db.exec(
      `CREATE TEMPORARY TABLE bench_fill AS SELECT i, ${timeHex} || ${hex(22)} AS grant_id, ${timeHex} || ${hex(22)} AS jti, ${timeHex} || ${hex(43)} AS token_hash,
         ${createdAt} AS created_at
       FROM ${series} AS s`,
    );
    await db.exec(sqlite ? 'BEGIN IMMEDIATE' : 'BEGIN');
    await db.exec(
      `INSERT INTO grants (id, client_pk, side, user_id, subject, scope, created_at, expires_at, revoked_at)
       SELECT grant_id, ${clientPk}, 'backoffice', ${1_000_000} + i % ${users}, NULL, 'api', created_at, created_at + ${30 * day}, NULL FROM bench_fill`,
    );
    await db.exec(
      `INSERT INTO access_tokens (jti, grant_id, client_pk, issued_at, expires_at, revoked_at)
       SELECT jti, grant_id, ${clientPk}, created_at, created_at + 3600, NULL FROM bench_fill`,
    );
    await db.exec(
      `INSERT INTO refresh_tokens (token_hash, grant_id, client_pk, scope, access_jti, created_at, expires_at, used_at, replacement)
       SELECT token_hash, grant_id, ${clientPk}, 'api', jti, created_at, created_at + ${30 * day}, CASE WHEN i % 5 = 1 THEN created_at + 60 ELSE NULL END, NULL FROM bench_fill`,
    );
    await db.exec('COMMIT');
    await db.exec('DROP TABLE bench_fill');
    // As a database that grew over days would be: SQLite's WAL written back; PostgreSQL's tables
    // vacuumed and analysed, as autovacuum keeps them (left to it, its vacuum of three million
    // fresh rows would run during the measurements, on the same cores).
    await db.exec(sqlite ? 'PRAGMA wal_checkpoint(TRUNCATE)' : 'VACUUM (ANALYZE) grants, access_tokens, refresh_tokens');
    return {
      grants: await db.count('SELECT count(*) FROM grants'),
      access_tokens: await db.count('SELECT count(*) FROM access_tokens'),
      refresh_tokens: await db.count('SELECT count(*) FROM refresh_tokens'),
      expired_access_tokens: await db.count(`SELECT count(*) FROM access_tokens WHERE expires_at < ${now}`),
      note: SHARE_NOTE,
      seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    };
  } finally {
    await db.close();
  }
}

/**
 * `count` fresh authorization codes for `userId` at `clientPk`, each with its own grant (scope
 * api, redirect_uri sent), stored as AuthorizationCodeIssuer.issue stores them: the code as the
 * key `hasher` makes with CODE_PURPOSE. Returns the codes.
 */
export async function insertCodes({ db }, hasher, { clientPk, userId, redirectUri, ttl = 600 }, count) {
  const now = Math.floor(Date.now() / 1000);
  const codes = [];
  const batch = 500;
  await db.transaction().execute(async (trx) => {
    for (let start = 0; start < count; start += batch) {
      const grants = [];
      const rows = [];
      for (let i = start; i < Math.min(count, start + batch); i++) {
        const code = timedSecret();
        const grantId = rowId();
        codes.push(code);
        grants.push({ id: grantId, client_pk: clientPk, side: 'backoffice', user_id: userId, subject: null, scope: 'api', created_at: now, expires_at: now + ttl });
        rows.push({
          code_hash: hasher.storageKey(CODE_PURPOSE, code),
          grant_id: grantId,
          client_pk: clientPk,
          redirect_uri: redirectUri,
          redirect_uri_requested: 1,
          code_challenge: null,
          created_at: now,
          expires_at: now + ttl,
        });
      }
      await trx.insertInto('grants').values(grants).execute();
      await trx.insertInto('authorization_codes').values(rows).execute();
    }
  });
  return codes;
}
