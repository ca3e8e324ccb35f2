/**
 * Kysely takes no migration lock on SQLite: two connections migrating one fresh file at the same
 * time race on the same CREATE TABLE / ALTER TABLE. The loser waits and retries until the
 * winner has finished, so both succeed and every migration is applied once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Migrator, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/database.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';

const root = mkdtempSync(path.join(tmpdir(), 'grantry-migrate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('concurrent migrations on SQLite', () => {
  it('four connections migrating one fresh file at once all succeed; each migration is applied once', async () => {
    const file = path.join(root, 'grantry.sqlite');
    const databases = Array.from({ length: 4 }, () => openDatabase(`sqlite:${file}`));
    try {
      const results = await Promise.allSettled(databases.map((d) => migrateToLatest(d.db, d.dialect)));
      const failures = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
      expect(failures).toEqual([]);
      const applied = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
      expect([...applied].sort()).toEqual(['001-initial', '002-token-lifecycle', '003-brute-force', '004-normalized-logins', '005-code-redirect-uri-sent', '006-audit-trail', '007-consents', '008-sessions-by-user', '009-openid-connect']);
      const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(databases[0]!.db);
      expect(rows.rows.map((r) => r.name)).toEqual(['001-initial', '002-token-lifecycle', '003-brute-force', '004-normalized-logins', '005-code-redirect-uri-sent', '006-audit-trail', '007-consents', '008-sessions-by-user', '009-openid-connect']);
      // And a later start finds nothing to do.
      expect(await migrateToLatest(databases[1]!.db, 'sqlite')).toEqual([]);
    } finally {
      await Promise.all(databases.map((d) => d.close()));
    }
  });
});

describe('atomic migrations on SQLite', () => {
  it('a migration that fails halfway leaves no table, column or record behind', async () => {
    const database = openDatabase(`sqlite:${path.join(root, 'atomic.sqlite')}`);
    try {
      const migrator = new Migrator({
        db: database.db,
        provider: {
          getMigrations: async () => ({
            '001-ok': { up: async (db) => void (await db.schema.createTable('first').addColumn('id', 'integer').execute()) },
            '002-halfway': {
              up: async (db) => {
                await db.schema.createTable('second').addColumn('id', 'integer').execute();
                await db.schema.alterTable('first').addColumn('extra', 'text').execute();
                throw new Error('killed halfway');
              },
            },
          }),
        },
      });
      const { error } = await migrator.migrateToLatest();
      expect(String(error)).toContain('killed halfway');
      const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name in ('first', 'second')`.execute(database.db);
      expect(tables.rows).toEqual([]);
      const recorded = await sql<{ name: string }>`select name from kysely_migration`.execute(database.db);
      expect(recorded.rows).toEqual([]);
    } finally {
      await database.close();
    }
  });
});
