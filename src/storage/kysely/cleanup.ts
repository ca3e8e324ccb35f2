/* eslint-disable @typescript-eslint/no-explicit-any -- one generic batch delete over several tables */
import type { Kysely } from 'kysely';
import type { CleanupRepository } from '../repositories.js';
import type { Database } from '../schema.js';

/**
 * What is garbage, per table: rows whose `column` is in the past. Used refresh tokens stay until
 * they expire, because reuse is detected only while the row exists. Deleting a grant cascades
 * to whatever is left of its codes and tokens. Failed attempts go when their window is over
 * (`window` marks the column as the window's start). Audit events go after the retention period
 * (`retention`).
 */
const EXPIRING = [
  { table: 'authorization_codes', key: 'code_hash', column: 'expires_at' },
  { table: 'access_tokens', key: 'jti', column: 'expires_at' },
  { table: 'refresh_tokens', key: 'token_hash', column: 'expires_at' },
  { table: 'grants', key: 'id', column: 'expires_at' },
  { table: 'sessions', key: 'id_hash', column: 'expires_at' },
  { table: 'signing_keys', key: 'kid', column: 'published_until' },
  { table: 'failed_attempts', key: 'key', column: 'window_start', window: true },
  { table: 'audit_events', key: 'id', column: 'at', retention: true },
] as const;

export class KyselyCleanupRepository implements CleanupRepository {
  constructor(
    private readonly db: Kysely<Database>,
    /** Seconds of the brute-force window. */
    private readonly bruteForceWindow: number,
    /** Seconds of the refresh grace period. */
    private readonly refreshGracePeriod: number,
    /** Seconds the audit trail keeps its events. */
    private readonly auditRetention: number,
  ) {}

  async deleteExpired(now: number, batchSize: number): Promise<Record<string, number>> {
    const db = this.db as Kysely<any>;
    const deleted: Record<string, number> = {};
    for (const entry of EXPIRING) {
      const { table, key, column } = entry;
      const before = 'window' in entry ? now - this.bruteForceWindow : 'retention' in entry ? now - this.auditRetention : now;
      deleted[table] = 0;
      // Small batches keep each statement's locks short; concurrent runs just find less to do.
      for (;;) {
        const batch = db.selectFrom(table).select(key).where(column, '<', before).limit(batchSize);
        // The condition is repeated outside the subquery so that a row changed meanwhile (a new
        // window of failed attempts) is checked again by PostgreSQL and kept.
        const result = await db.deleteFrom(table).where(key, 'in', batch).where(column, '<', before).executeTakeFirst();
        const n = Number(result.numDeletedRows);
        deleted[table] += n;
        if (n < batchSize) break;
      }
    }
    // The sealed pair a rotated refresh token was exchanged for holds live tokens: keep it only
    // for the grace period, not for the rest of the used token's life.
    await db
      .updateTable('refresh_tokens')
      .set({ replacement: null })
      .where('replacement', 'is not', null)
      .where('used_at', '<', now - this.refreshGracePeriod)
      .execute();
    return deleted;
  }
}
