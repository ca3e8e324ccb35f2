/**
 * `grantry migrate --dry-run` on SQLite and PostgreSQL, on a database migrated only up to an
 * earlier migration (as an older Grantry left it): it lists what would run and changes nothing;
 * a real `grantry migrate` then applies exactly those.
 */
import { existsSync } from 'node:fs';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/database.js';
import { createMigrator } from '../../src/storage/migrations/index.js';
import { BACKENDS } from '../helpers/backends.js';
import { type DataDir, freshDataDir } from '../helpers/server.js';
import { cliEnv, expectFailure, okJson, onlyJson, runCli } from './run.js';

const OLD_VERSION_LAST = '005-code-redirect-uri-sent';
const NEWER = ['006-audit-trail', '007-consents', '008-sessions-by-user', '009-openid-connect'];

describe.each(BACKENDS)('grantry migrate --dry-run (%s)', (backend) => {
  let data: DataDir;
  let env: Record<string, string>;

  /** The tables, their columns and the recorded migrations: what a dry run must leave as it is. */
  async function schemaSnapshot() {
    const database = openDatabase(data.databaseUrl, { mustExist: true });
    try {
      const tables = await database.db.introspection.getTables({ withInternalKyselyTables: true });
      const recorded = await sql<{ name: string; timestamp: string }>`select name, timestamp from kysely_migration order by name`.execute(database.db);
      return { tables: tables.map((t) => ({ name: t.name, columns: t.columns.map((c) => c.name).sort() })).sort((a, b) => a.name.localeCompare(b.name)), recorded: recorded.rows };
    } finally {
      await database.close();
    }
  }

  beforeAll(async () => {
    data = await freshDataDir(backend, 'grantry-dry-run-');
    env = cliEnv(data.dir, data.databaseUrl, { GRANTRY_SECRET: 'a-server-secret-of-at-least-32-characters' });
    const database = openDatabase(data.databaseUrl);
    try {
      const { error } = await createMigrator(database.db, database.dialect).migrateTo(OLD_VERSION_LAST);
      expect(error).toBeUndefined();
    } finally {
      await database.close();
    }
  });
  afterAll(() => data?.remove());

  it('lists the pending migrations in order and applies none; migrate then applies exactly those', async () => {
    const before = await schemaSnapshot();
    expect(before.recorded.map((r) => r.name)).toHaveLength(5);

    expect(okJson(await runCli(['migrate', '--dry-run', '--json'], env))).toEqual({ pending: NEWER });
    const text = await runCli(['migrate', '--dry-run'], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe(`Would apply ${NEWER.length} migration(s) to the ${backend} database, in this order:\n${NEWER.map((n) => `  ${n}\n`).join('')}`);
    expect(await schemaSnapshot()).toEqual(before);

    expect(okJson(await runCli(['migrate', '--json'], env))).toEqual({ applied: NEWER });
    const after = await schemaSnapshot();
    expect(after.recorded.map((r) => r.name)).toEqual([...before.recorded.map((r) => r.name), ...NEWER]);
    expect(after.tables.map((t) => t.name)).toContain('audit_events');

    expect(okJson(await runCli(['migrate', '--dry-run', '--json'], env))).toEqual({ pending: [] });
    const upToDate = await runCli(['migrate', '--dry-run'], env);
    expect(upToDate.code, upToDate.stderr).toBe(0);
    expect(upToDate.stdout).toBe(`The ${backend} database is up to date: nothing to do.\n`);
  });

  it('refuses a database migrated by a newer version, naming its unknown migration', async () => {
    const database = openDatabase(data.databaseUrl, { mustExist: true });
    try {
      await sql`insert into kysely_migration (name, timestamp) values ('999-from-the-future', ${new Date().toISOString()})`.execute(database.db);
      const refused = await runCli(['migrate', '--dry-run', '--json'], env);
      expectFailure(refused, 1, /does not know \(999-from-the-future\): a newer version migrated it/);
      expect(onlyJson(refused)).toEqual({ error: 'unknown_migrations', message: expect.stringContaining('999-from-the-future') });
    } finally {
      await sql`delete from kysely_migration where name = '999-from-the-future'`.execute(database.db);
      await database.close();
    }
  });

  it('does not create a database that is not there', async () => {
    const missing = await runCli(['migrate', '--dry-run'], cliEnv(`${data.dir}/nowhere`, backend === 'sqlite' ? `sqlite:${data.dir}/nowhere/grantry.sqlite` : `${data.databaseUrl}_nowhere`));
    expectFailure(missing, 2, /no Grantry database|does not exist/);
    expect(existsSync(`${data.dir}/nowhere`)).toBe(false);
  });
});
