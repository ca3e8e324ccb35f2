/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run against the schema as it was, not as it is typed now */
/**
 * Versioned schema migrations, kept in code so the compiled build carries them. They run at
 * start and with `grantry migrate`. On PostgreSQL, Kysely's migrator takes a lock, so several
 * processes starting at once apply each migration exactly once; on SQLite it takes none, and a
 * process that loses the race retries until the other one has finished (migrateToLatest).
 */
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { MigrationContext } from './context.js';
import * as initial from './001-initial.js';
import * as tokenLifecycle from './002-token-lifecycle.js';
import * as bruteForce from './003-brute-force.js';
import * as normalizedLogins from './004-normalized-logins.js';
import * as codeRedirectUriSent from './005-code-redirect-uri-sent.js';
import * as auditTrail from './006-audit-trail.js';
import * as consents from './007-consents.js';
import * as sessionsByUser from './008-sessions-by-user.js';
import * as openIdConnect from './009-openid-connect.js';

type Step = { up: (db: Kysely<any>, ctx: MigrationContext) => Promise<void> };
const STEPS: Record<string, Step> = {
  '001-initial': initial,
  '002-token-lifecycle': tokenLifecycle,
  '003-brute-force': bruteForce,
  '004-normalized-logins': normalizedLogins,
  '005-code-redirect-uri-sent': codeRedirectUriSent,
  '006-audit-trail': auditTrail,
  '007-consents': consents,
  '008-sessions-by-user': sessionsByUser,
  '009-openid-connect': openIdConnect,
};

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

/**
 * Whether Grantry created its tables in this database: its first migration is recorded. A
 * database without them is someone else's or a new one, which only start and migrate set up.
 */
export async function hasGrantrySchema(db: Kysely<any>): Promise<boolean> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === 'kysely_migration')) return false;
  const first = await db.selectFrom('kysely_migration').select('name').where('name', '=', Object.keys(STEPS)[0] as string).executeTakeFirst();
  return first !== undefined;
}

/** How long a SQLite migration that failed is retried while another process migrates. */
const SQLITE_RETRY_MS = 5000;

/** An error from SQLite itself (better-sqlite3 sets code SQLITE_...), not from the migrator. */
const isSqliteError = (error: unknown) => typeof (error as { code?: unknown } | null)?.code === 'string' && (error as { code: string }).code.startsWith('SQLITE_');

/** Applies the pending migrations; returns the names of those this call applied. */
export async function migrateToLatest(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<string[]> {
  const started = Date.now();
  const applied: string[] = [];
  for (let attempt = 1; ; attempt += 1) {
    const { error, results } = await createMigrator(db, dialect).migrateToLatest();
    applied.push(...(results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName));
    if (!error) return applied;
    // Kysely takes no migration lock on SQLite, but the pending migrations and their records run
    // in one transaction (storage/database.ts): another process migrating the same file at the
    // same time makes this one fail (busy, or "table ... already exists" when it read the state
    // just before the other committed) and roll back, having changed nothing. Wait until the
    // other one has committed, then try again: the migrations are recorded by then.
    if (dialect === 'sqlite' && isSqliteError(error) && Date.now() - started < SQLITE_RETRY_MS) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(50 * attempt, 500) + Math.random() * 50));
      continue;
    }
    throw error instanceof Error ? error : new Error(String(error));
  }
}

/** Where a database stands against the migrations this build carries. */
export interface MigrationStatus {
  /** Applied, in order. */
  applied: string[];
  /** Not applied yet, in the order migrateToLatest would apply them. */
  pending: string[];
  /**
   * Recorded in the database but unknown to this build: a newer Grantry migrated it (this one
   * must not run there), or someone else's. Kysely's migrator refuses to migrate such a database.
   */
  unknown: string[];
}

/**
 * Reads the migrations recorded in the database and compares them with this build's, changing
 * nothing (`grantry migrate --dry-run`, `grantry doctor`): unlike Kysely's Migrator, it neither
 * creates the bookkeeping tables nor takes the migration lock.
 */
export async function migrationStatus(db: Kysely<any>): Promise<MigrationStatus> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  const recorded = tables.some((t) => t.name === 'kysely_migration')
    ? new Set((await db.selectFrom('kysely_migration').select('name').execute()).map((r: { name: string }) => r.name))
    : new Set<string>();
  const known = Object.keys(STEPS);
  return {
    applied: known.filter((name) => recorded.has(name)),
    pending: known.filter((name) => !recorded.has(name)),
    unknown: [...recorded].filter((name) => !(name in STEPS)).sort(),
  };
}
