/**
 * `grantry doctor` on SQLite and PostgreSQL: a healthy database passes; each invariant, broken
 * on purpose with direct SQL, fails its own check and no other. The checks run in process for
 * each break (cheap); the compiled CLI is spawned for the healthy database and for one with
 * every invariant broken at once (text, --json, exit codes).
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CheckResult, examineDatabase } from '../../src/management/doctor.js';
import { Sealer } from '../../src/security/encryption.js';
import { findSecret } from '../../src/security/server-secret.js';
import { sqliteFileOf } from '../../src/storage/database-url.js';
import type { Database } from '../../src/storage/schema.js';
import { type Backend, BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { cliEnv, expectFailure, okJson, onlyJson, runCli } from './run.js';

const EXIT_CHECK_FAILED = 3;
const ALL_CHECKS = ['migrations_applied', 'migrations_known', 'codes_redeemed_once', 'refresh_one_successor', 'refresh_revokes_access', 'signing_key_current', 'signing_keys_open', 'active_admin'];
const checksOf = (backend: Backend) => (backend === 'sqlite' ? ['sqlite_integrity', 'sqlite_foreign_keys', ...ALL_CHECKS] : ALL_CHECKS);

const now = Math.floor(Date.now() / 1000);
const LAST_MIGRATION = '008-sessions-by-user';

/** One way to break an invariant, its undoing, and what doctor must then report. */
interface Break {
  check: string;
  how: string;
  backends?: Backend[];
  apply(db: Kysely<Database>, ctx: BreakContext): Promise<void>;
  repair(db: Kysely<Database>, ctx: BreakContext): Promise<void>;
  examples(ctx: BreakContext): Array<string | RegExp>;
}

interface BreakContext {
  kid: string;
  secret: string;
  sqliteFile: string | undefined;
}

/** What a break changed, for its repair. */
const saved = { migrationTimestamp: '', sealedKey: '' };

const BREAKS: Break[] = [
  {
    check: 'migrations_applied',
    how: 'the last migration is not recorded',
    async apply(db) {
      saved.migrationTimestamp = (await sql<{ timestamp: string }>`select timestamp from kysely_migration where name = ${LAST_MIGRATION}`.execute(db)).rows[0]!.timestamp;
      await sql`delete from kysely_migration where name = ${LAST_MIGRATION}`.execute(db);
    },
    repair: (db) => sql`insert into kysely_migration (name, timestamp) values (${LAST_MIGRATION}, ${saved.migrationTimestamp})`.execute(db).then(() => {}),
    examples: () => [LAST_MIGRATION],
  },
  {
    check: 'migrations_known',
    how: 'a migration of a newer version is recorded',
    apply: (db) => sql`insert into kysely_migration (name, timestamp) values ('999-from-the-future', ${new Date().toISOString()})`.execute(db).then(() => {}),
    repair: (db) => sql`delete from kysely_migration where name = '999-from-the-future'`.execute(db).then(() => {}),
    examples: () => ['999-from-the-future'],
  },
  {
    check: 'codes_redeemed_once',
    how: "a grant's code was exchanged a second time (a second first access token)",
    apply: (db) => sql`insert into access_tokens (jti, grant_id, client_pk, issued_at, expires_at) select 'jti-second-exchange', id, client_pk, ${now}, ${now + 3600} from grants where id = 'grant-code'`.execute(db).then(() => {}),
    repair: (db) => sql`delete from access_tokens where jti = 'jti-second-exchange'`.execute(db).then(() => {}),
    examples: () => ['grant-code'],
  },
  {
    check: 'refresh_one_successor',
    how: 'a refresh token has a second unused successor',
    apply: (db) =>
      sql`insert into refresh_tokens (token_hash, grant_id, client_pk, scope, access_jti, created_at, expires_at) select 'rt-twin', grant_id, client_pk, scope, access_jti, created_at, expires_at from refresh_tokens where token_hash = 'rt-2'`
        .execute(db)
        .then(() => {}),
    repair: (db) => sql`delete from refresh_tokens where token_hash = 'rt-twin'`.execute(db).then(() => {}),
    examples: () => ['grant-code'],
  },
  {
    check: 'refresh_revokes_access',
    how: "a rotated refresh token's access token is live again",
    apply: (db) => sql`update access_tokens set revoked_at = null where jti = 'jti-1'`.execute(db).then(() => {}),
    repair: (db) => sql`update access_tokens set revoked_at = ${now} where jti = 'jti-1'`.execute(db).then(() => {}),
    examples: () => ['grant-code'],
  },
  {
    check: 'signing_key_current',
    how: 'the only key activates in an hour',
    apply: (db) => sql`update signing_keys set activates_at = activates_at + 3600`.execute(db).then(() => {}),
    repair: (db) => sql`update signing_keys set activates_at = activates_at - 3600`.execute(db).then(() => {}),
    examples: () => ['no active signing key'],
  },
  {
    check: 'signing_key_current',
    how: 'two keys are unretired (two rotations raced)',
    apply: (db, { kid }) =>
      sql`insert into signing_keys (kid, alg, private_key, public_jwk, created_at, activates_at, published_until) select 'kid-twin', alg, private_key, public_jwk, created_at, activates_at, published_until from signing_keys where kid = ${kid}`
        .execute(db)
        .then(() => {}),
    repair: (db) => sql`delete from signing_keys where kid = 'kid-twin'`.execute(db).then(() => {}),
    examples: ({ kid }) => [kid, 'kid-twin'].sort(),
  },
  {
    check: 'signing_keys_open',
    how: 'the private key is sealed with another secret',
    async apply(db, { kid, secret }) {
      const row = (await sql<{ private_key: string }>`select private_key from signing_keys where kid = ${kid}`.execute(db)).rows[0]!;
      const pem = new Sealer(secret, 'signing-keys').open(row.private_key)!;
      const foreign = new Sealer('another-deployment-secret-of-32-characters', 'signing-keys').seal(pem);
      await sql`update signing_keys set private_key = ${foreign} where kid = ${kid}`.execute(db);
      saved.sealedKey = row.private_key;
    },
    repair: (db, { kid }) => sql`update signing_keys set private_key = ${saved.sealedKey} where kid = ${kid}`.execute(db).then(() => {}),
    examples: ({ kid }) => [kid],
  },
  {
    check: 'active_admin',
    how: 'the only administrator is locked',
    apply: (db) => sql`update backoffice_users set locked = 1 where is_admin = 1`.execute(db).then(() => {}),
    repair: (db) => sql`update backoffice_users set locked = 0 where is_admin = 1`.execute(db).then(() => {}),
    examples: () => ['no active administrator'],
  },
  {
    check: 'sqlite_foreign_keys',
    how: 'another tool wrote an access token of a grant that does not exist',
    backends: ['sqlite'],
    async apply(_db, { sqliteFile }) {
      // A connection of another tool: SQLite enforces foreign keys only where they are enabled.
      const other = new SQLite(sqliteFile!);
      try {
        other.pragma('foreign_keys = OFF');
        other.prepare(`insert into access_tokens (jti, grant_id, client_pk, issued_at, expires_at) select 'jti-orphan', 'no-such-grant', client_pk, ${now}, ${now + 60} from grants where id = 'grant-code'`).run();
      } finally {
        other.close();
      }
    },
    repair: (db) => sql`delete from access_tokens where jti = 'jti-orphan'`.execute(db).then(() => {}),
    examples: () => [/^access_tokens row \d+ \(no grants row\)$/],
  },
];

describe.each(BACKENDS)('grantry doctor (%s)', (backend) => {
  let server: TestServer;
  let env: Record<string, string>;
  let ctx: BreakContext;
  const db = () => server.grantry.database.db;
  const failedChecks = async (): Promise<CheckResult[]> => (await examineDatabase(server.grantry.database, ctx.secret)).filter((c) => !c.ok);

  beforeAll(async () => {
    // The server seeds the signing key and creates the administrator, as a deployment's first start does.
    server = await startTestServer(backend);
    env = cliEnv(server.dir, server.config.databaseUrl);
    const { clientId, redirectUri } = await server.createClient({ side: 'backoffice', type: 'public', grants: ['authorization_code', 'refresh_token'] });
    const clientPk = (await server.grantry.repos.clients.findByClientId(clientId))!.pk;
    const { grants, refreshTokens } = server.grantry.repos;
    // What the storage code writes for a code exchange followed by a rotation, and for a grant
    // issued at once (client credentials), through the repositories the token endpoint uses.
    const grant = { id: 'grant-code', clientPk, side: 'backoffice' as const, userId: 1, subject: null, scope: 'api', createdAt: now, expiresAt: now + 60 };
    await grants.createWithCode(grant, { codeHash: 'code-1', clientPk, redirectUri, redirectUriRequested: true, codeChallenge: null, expiresAt: now + 60 });
    expect(await grants.consumeCode('code-1', clientPk, now)).toBeDefined();
    const access = (jti: string, grantId = 'grant-code') => ({ jti, grantId, clientPk, issuedAt: now, expiresAt: now + 3600 });
    const refresh = (tokenHash: string, accessJti: string) => ({ tokenHash, grantId: 'grant-code', clientPk, scope: 'api', accessJti, createdAt: now, expiresAt: now + 86400 });
    await grants.recordIssued(access('jti-1'), refresh('rt-1', 'jti-1'));
    expect(await refreshTokens.rotate({ oldHash: 'rt-1', clientPk, now, replacement: null, next: refresh('rt-2', 'jti-2'), nextAccess: access('jti-2') })).toBe(true);
    await grants.recordIssued(access('jti-cc', 'grant-cc'), undefined, { ...grant, id: 'grant-cc', userId: null });
    const kid = (await server.grantry.repos.signingKeys.list())[0]!.kid;
    ctx = { kid, secret: findSecret(server.config.secret, server.config.dataDir)!, sqliteFile: sqliteFileOf(server.config.databaseUrl) };
  });
  afterAll(() => server?.close());

  it('passes a healthy database: every check ok, exit 0, as text and as JSON', async () => {
    const json = okJson(await runCli(['doctor', '--json'], env));
    expect(json.ok).toBe(true);
    expect(json.checks.map((c: CheckResult) => c.name)).toEqual(checksOf(backend));
    for (const c of json.checks) expect(c).toEqual({ name: c.name, description: expect.any(String), ok: true, count: 0, examples: [] });

    const text = await runCli(['doctor'], env);
    expect(text.code, text.stderr).toBe(0);
    for (const name of checksOf(backend)) expect(text.stdout).toMatch(new RegExp(`^ok +${name} `, 'm'));
    expect(text.stdout).toMatch(/All checks passed\.\n$/);
  });

  it.each(BREAKS.filter((b) => !b.backends || b.backends.includes(backend)))('$check fails, and no other check, when $how', async (brk) => {
    await brk.apply(db(), ctx);
    let failed: CheckResult[];
    try {
      failed = await failedChecks();
    } finally {
      await brk.repair(db(), ctx);
    }
    expect(failed.map((c) => c.name)).toEqual([brk.check]);
    const [result] = failed;
    const expected = brk.examples(ctx);
    expect(result!.count).toBe(expected.length);
    expect(result!.examples).toHaveLength(expected.length);
    expected.forEach((e, i) => (typeof e === 'string' ? expect(result!.examples[i]).toBe(e) : expect(result!.examples[i]).toMatch(e)));
    // Repaired: healthy again.
    expect(await failedChecks()).toEqual([]);
  });

  it('names every failed check with exit code 3, as text and as JSON', async () => {
    const broken = BREAKS.filter((b) => b.check === 'codes_redeemed_once' || b.check === 'active_admin' || b.check === 'migrations_known');
    for (const b of broken) await b.apply(db(), ctx);
    try {
      const json = onlyJson(await runCli(['doctor', '--json'], env));
      expect(json.ok).toBe(false);
      const failed = json.checks.filter((c: CheckResult) => !c.ok);
      expect(failed).toEqual([
        { name: 'migrations_known', description: expect.any(String), ok: false, count: 1, examples: ['999-from-the-future'] },
        { name: 'codes_redeemed_once', description: expect.any(String), ok: false, count: 1, examples: ['grant-code'] },
        { name: 'active_admin', description: expect.any(String), ok: false, count: 1, examples: ['no active administrator'] },
      ]);

      const text = await runCli(['doctor'], env);
      expectFailure(text, EXIT_CHECK_FAILED, '');
      expect(text.stdout).toMatch(/^FAILED +migrations_known +1: 999-from-the-future$/m);
      expect(text.stdout).toMatch(/^FAILED +codes_redeemed_once +1: grant-code$/m);
      expect(text.stdout).toMatch(/^FAILED +active_admin +1: no active administrator$/m);
      expect(text.stdout).toMatch(/^ok +refresh_one_successor /m);
      expect(text.stdout).toMatch(/3 check\(s\) failed: migrations_known, codes_redeemed_once, active_admin\.\n$/);
    } finally {
      for (const b of broken) await b.repair(db(), ctx);
    }
  });

  // Last: it damages the file underneath the server (and repairs it).
  if (backend === 'sqlite') {
    it('fails sqlite_integrity when a page of the file is damaged, with exit code 3', async () => {
      const file = ctx.sqliteFile!;
      const other = new SQLite(file);
      try {
        other.pragma('wal_checkpoint(TRUNCATE)');
        // One byte of an index entry changed on disk, as a bad sector or a torn write would:
        // the key of a refresh token's expiry no longer matches its row.
        const root = other.prepare("select rootpage from sqlite_master where name = 'refresh_tokens_expires_idx'").pluck().get() as number;
        const pageSize = other.pragma('page_size', { simple: true }) as number;
        const page = Buffer.alloc(pageSize);
        const fd = openSync(file, 'r+');
        try {
          readSync(fd, page, 0, pageSize, (root - 1) * pageSize);
          const key = Buffer.alloc(4);
          key.writeUInt32BE(now + 86400);
          const at = page.lastIndexOf(key);
          expect(at).toBeGreaterThan(0);
          writeSync(fd, Buffer.from([key[3]! ^ 1]), 0, 1, (root - 1) * pageSize + at + 3);
        } finally {
          closeSync(fd);
        }
        const damaged = await runCli(['doctor', '--json'], env);
        expect(damaged.code).toBe(EXIT_CHECK_FAILED);
        const json = onlyJson(damaged);
        const integrity = json.checks.find((c: CheckResult) => c.name === 'sqlite_integrity');
        expect(integrity).toMatchObject({ ok: false, count: expect.any(Number) });
        expect(integrity.examples[0]).toMatch(/^row \d+ missing from index refresh_tokens_expires_idx$/);
      } finally {
        other.exec('reindex refresh_tokens_expires_idx');
        other.close();
      }
      expect(await failedChecks()).toEqual([]);
    });
  }

  it('refuses a database that is not there, with exit code 2', async () => {
    const missing = await runCli(['doctor', '--json'], cliEnv(`${server.dir}/nowhere`, backend === 'sqlite' ? `sqlite:${server.dir}/nowhere/grantry.sqlite` : `${server.config.databaseUrl}_nowhere`));
    expectFailure(missing, 2, /no Grantry database|does not exist/);
    expect(onlyJson(missing)).toEqual({ error: 'no_database', message: expect.any(String) });
  });
});
