/**
 * The read-only queries behind `grantry doctor` (management/doctor.ts): each finds the rows that
 * break one of Grantry's own invariants, on SQLite and PostgreSQL alike
 * (src/storage/kysely/invariants.ts). None of them changes anything.
 */

/** The rows that break an invariant: how many, and a few ids to look at (never a secret). */
export interface Violations {
  count: number;
  examples: string[];
}

export interface InvariantQueries {
  /** SQLite's PRAGMA integrity_check: its findings, or none when the file is sound. SQLite only. */
  sqliteIntegrity(limit: number): Promise<Violations>;
  /** SQLite's PRAGMA foreign_key_check: rows whose parent row is missing. SQLite only. */
  sqliteForeignKeys(limit: number): Promise<Violations>;
  /** Grants whose first tokens were issued more than once (an authorization code redeemed twice). */
  grantsIssuedTwice(limit: number): Promise<Violations>;
  /** Grants holding more than one unused refresh token (a token rotated into two successors). */
  grantsWithSeveralUnusedRefreshTokens(limit: number): Promise<Violations>;
  /** Grants with a used (rotated) refresh token whose access token was not revoked with it. */
  grantsWithRotatedButLiveAccess(limit: number): Promise<Violations>;
  /** How many back-office administrators may sign in (enabled, not locked). */
  activeAdminCount(): Promise<number>;
}
