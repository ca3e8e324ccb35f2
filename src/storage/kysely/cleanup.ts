/* eslint-disable @typescript-eslint/no-explicit-any -- one generic batch delete over several tables */
import type { Kysely } from 'kysely';
import type { CleanupRepository } from '../repositories.js';
import type { Database } from '../schema.js';

/**
 * What is garbage, per table: rows whose `column` is in the past. Used refresh tokens stay until
 * they expire, because reuse is detected only while the row exists. Deleting a grant cascades
 * to whatever is left of its codes and tokens.
 */
const EXPIRING = [
  { table: 'authorization_codes', key: 'code_hash', column: 'expires_at' },
  { table: 'access_tokens', key: 'jti', column: 'expires_at' },
  { table: 'refresh_tokens', key: 'token_hash', column: 'expires_at' },
  { table: 'grants', key: 'id', column: 'expires_at' },
  { table: 'sessions', key: 'id_hash', column: 'expires_at' },
  { table: 'signing_keys', key: 'kid', column: 'published_until' },
] as const;

export class KyselyCleanupRepository implements CleanupRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async deleteExpired(now: number, batchSize: number): Promise<Record<string, number>> {
    const db = this.db as Kysely<any>;
    const deleted: Record<string, number> = {};
    for (const { table, key, column } of EXPIRING) {
      deleted[table] = 0;
      // Small batches keep each statement's locks short; concurrent runs just find less to do.
      for (;;) {
        const batch = db.selectFrom(table).select(key).where(column, '<', now).limit(batchSize);
        const result = await db.deleteFrom(table).where(key, 'in', batch).executeTakeFirst();
        const n = Number(result.numDeletedRows);
        deleted[table] += n;
        if (n < batchSize) break;
      }
    }
    return deleted;
  }
}
