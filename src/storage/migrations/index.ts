/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run against the schema as it was, not as it is typed now */
/**
 * Versioned schema migrations, kept in code so the compiled build carries them. They run at
 * start and with `grantry migrate`; Kysely's migrator takes a lock, so several processes
 * starting at once apply each migration exactly once.
 */
import { Migrator, type ColumnDefinitionBuilder, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import * as initial from './001-initial.js';
import * as tokenLifecycle from './002-token-lifecycle.js';
import * as bruteForce from './003-brute-force.js';

export interface MigrationContext {
  /** Auto-incrementing integer primary key, spelled the way each database wants it. */
  idColumn: { type: 'integer' | 'serial'; build: (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder };
}

type Step = { up: (db: Kysely<any>, ctx: MigrationContext) => Promise<void> };
const STEPS: Record<string, Step> = { '001-initial': initial, '002-token-lifecycle': tokenLifecycle, '003-brute-force': bruteForce };

export function createMigrator(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Migrator {
  const ctx: MigrationContext = {
    idColumn:
      dialect === 'sqlite'
        ? { type: 'integer', build: (c) => c.primaryKey().autoIncrement() }
        : { type: 'serial', build: (c) => c.primaryKey() },
  };
  const provider: MigrationProvider = {
    async getMigrations() {
      const migrations: Record<string, Migration> = {};
      for (const [name, step] of Object.entries(STEPS)) migrations[name] = { up: (d) => step.up(d, ctx) };
      return migrations;
    },
  };
  return new Migrator({ db, provider });
}

export async function migrateToLatest(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<string[]> {
  const { error, results } = await createMigrator(db, dialect).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
