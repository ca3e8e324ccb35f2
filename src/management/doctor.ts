/**
 * `grantry doctor`: checks a deployment's database against Grantry's own invariants, reading
 * only. Each check is one small named function that says why the invariant holds when Grantry
 * works as designed, so that a failure points at a bug, a crash mid-write or a hand edit.
 */
import { signingKeyFromPem } from '../oauth/keys.js';
import { Sealer } from '../security/encryption.js';
import type { Dialect, OpenDatabase } from '../storage/database.js';
import type { InvariantQueries, Violations } from '../storage/invariants.js';
import { KyselyInvariantQueries } from '../storage/kysely/invariants.js';
import { KyselySigningKeyRepository } from '../storage/kysely/signing-keys.js';
import { type MigrationStatus, migrationStatus } from '../storage/migrations/index.js';
import type { StoredSigningKey } from '../storage/repositories.js';

/** How many ids a failed check names. */
export const EXAMPLES = 5;

export interface CheckResult {
  name: string;
  /** What holds when the check passes. */
  description: string;
  ok: boolean;
  /** How many things break the invariant (0 when ok). */
  count: number;
  /** A few of them, by id. */
  examples: string[];
}

/** What the checks read, gathered by the caller from one database. */
export interface DoctorInput {
  dialect: Dialect;
  queries: InvariantQueries;
  migrations: () => Promise<MigrationStatus>;
  signingKeys: () => Promise<StoredSigningKey[]>;
  /** The server secret the signing keys are sealed with. */
  secret: string;
  now: number;
}

type Check = { name: string; description: string; sqliteOnly?: boolean; find: (input: DoctorInput) => Promise<Violations> };

const listed = (items: string[]): Violations => ({ count: items.length, examples: items.slice(0, EXAMPLES) });

/** SQLite's own check of its file: pages, indexes and records are sound (a crash or a bad disk). */
const sqliteIntegrity: Check = {
  name: 'sqlite_integrity',
  description: 'SQLite integrity_check finds the file sound',
  sqliteOnly: true,
  find: ({ queries }) => queries.sqliteIntegrity(EXAMPLES),
};

/**
 * Every reference has its row. PostgreSQL enforces foreign keys always; SQLite only on
 * connections that enable them, so a file edited by another tool may break them unseen.
 */
const sqliteForeignKeys: Check = {
  name: 'sqlite_foreign_keys',
  description: 'SQLite foreign_key_check finds every referenced row',
  sqliteOnly: true,
  find: ({ queries }) => queries.sqliteForeignKeys(EXAMPLES),
};

/** The server applies pending migrations as it starts: one left pending means the code and the schema disagree. */
const migrationsApplied: Check = {
  name: 'migrations_applied',
  description: 'every migration of this version is applied',
  find: async ({ migrations }) => listed((await migrations()).pending),
};

/** A migration this version does not know was applied by a newer Grantry: this one must not serve that database. */
const migrationsKnown: Check = {
  name: 'migrations_known',
  description: 'no migration unknown to this version is recorded',
  find: async ({ migrations }) => listed((await migrations()).unknown),
};

/** Consuming a code is a conditional update that exactly one exchange wins (storage/kysely/grants.ts). */
const codesRedeemedOnce: Check = {
  name: 'codes_redeemed_once',
  description: "each grant's first tokens were issued once (no authorization code redeemed twice)",
  find: ({ queries }) => queries.grantsIssuedTwice(EXAMPLES),
};

/** Rotation is a conditional update that exactly one request wins (storage/kysely/refresh-tokens.ts). */
const refreshOneSuccessor: Check = {
  name: 'refresh_one_successor',
  description: 'no refresh token was rotated into two successors (at most one unused refresh token per grant)',
  find: ({ queries }) => queries.grantsWithSeveralUnusedRefreshTokens(EXAMPLES),
};

/** The access token issued with a refresh token dies with its rotation, in the same transaction. */
const refreshRevokesAccess: Check = {
  name: 'refresh_revokes_access',
  description: "every rotated refresh token's access token is revoked",
  find: ({ queries }) => queries.grantsWithRotatedButLiveAccess(EXAMPLES),
};

const isPublished = (key: StoredSigningKey, now: number) => key.publishedUntil === null || key.publishedUntil > now;

/**
 * Tokens can be signed now: a published key has activated. And a rotation retires every other
 * key as it adds its own (storage/kysely/signing-keys.ts), so at most one key is unretired.
 */
const signingKeyCurrent: Check = {
  name: 'signing_key_current',
  description: 'a signing key is active now, and at most one key is not retired',
  find: async ({ signingKeys, now }) => {
    const keys = await signingKeys();
    const unretired = keys.filter((k) => k.publishedUntil === null).map((k) => k.kid).sort();
    if (!keys.some((k) => k.activatesAt <= now && isPublished(k, now))) return { count: 1, examples: ['no active signing key'] };
    return unretired.length > 1 ? listed(unretired) : listed([]);
  },
};

/** Every process opens every stored key at start: one sealed with another secret stops them all. */
const signingKeysOpen: Check = {
  name: 'signing_keys_open',
  description: 'every stored private key opens with the server secret',
  find: async ({ signingKeys, secret }) => {
    const sealer = new Sealer(secret, 'signing-keys');
    const opens = (key: StoredSigningKey) => {
      const pem = sealer.open(key.sealedPrivateKey);
      if (pem === undefined) return false;
      try {
        signingKeyFromPem(pem, key.alg);
        return true;
      } catch {
        return false;
      }
    };
    return listed((await signingKeys()).filter((k) => !opens(k)).map((k) => k.kid));
  },
};

/** Without an active back-office administrator nobody can manage clients and users but the CLI. */
const activeAdmin: Check = {
  name: 'active_admin',
  description: 'an enabled, unlocked back-office administrator exists',
  find: async ({ queries }) => ((await queries.activeAdminCount()) > 0 ? listed([]) : { count: 1, examples: ['no active administrator'] }),
};

const CHECKS: Check[] = [
  sqliteIntegrity,
  sqliteForeignKeys,
  migrationsApplied,
  migrationsKnown,
  codesRedeemedOnce,
  refreshOneSuccessor,
  refreshRevokesAccess,
  signingKeyCurrent,
  signingKeysOpen,
  activeAdmin,
];

/** Runs every check that applies to the database's dialect, one after the other. */
export async function runDoctor(input: DoctorInput): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of CHECKS) {
    if (check.sqliteOnly && input.dialect !== 'sqlite') continue;
    let found: Violations;
    try {
      found = await check.find(input);
    } catch (e) {
      // A damaged file makes SQLite refuse some reads (SQLITE_CORRUPT): that check failed, and
      // the others still report what they can read.
      found = { count: 1, examples: [`could not be checked: ${e instanceof Error ? e.message : String(e)}`] };
    }
    results.push({ name: check.name, description: check.description, ok: found.count === 0, count: found.count, examples: found.examples });
  }
  return results;
}

/** Runs the checks on an open database, whose signing keys are sealed with `secret`. */
export function examineDatabase(database: OpenDatabase, secret: string, now = Math.floor(Date.now() / 1000)): Promise<CheckResult[]> {
  let status: Promise<MigrationStatus> | undefined;
  const keys = new KyselySigningKeyRepository(database.db);
  return runDoctor({
    dialect: database.dialect,
    queries: new KyselyInvariantQueries(database.db),
    migrations: () => (status ??= migrationStatus(database.db)),
    signingKeys: () => keys.list(),
    secret,
    now,
  });
}
