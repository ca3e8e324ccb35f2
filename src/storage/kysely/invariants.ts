import { type Kysely, type SelectQueryBuilder, sql } from 'kysely';
import type { InvariantQueries, Violations } from '../invariants.js';
import type { Database } from '../schema.js';
import { countActiveAdmins } from './users.js';

/** The count of what `query` selects and its first `limit` ids (the `id` column). */
async function violations<O extends { id: string | number }>(db: Kysely<Database>, query: SelectQueryBuilder<Database, any, O>, limit: number): Promise<Violations> {
  const [counted, rows] = await Promise.all([
    db.selectFrom(query.as('found')).select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
    query.orderBy('id').limit(limit).execute(),
  ]);
  return { count: Number(counted.n), examples: rows.map((r) => String(r.id)) };
}

export class KyselyInvariantQueries implements InvariantQueries {
  constructor(private readonly db: Kysely<Database>) {}

  async sqliteIntegrity(limit: number): Promise<Violations> {
    const { rows } = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(this.db);
    const problems = rows.map((r) => r.integrity_check).filter((line) => line !== 'ok');
    return { count: problems.length, examples: problems.slice(0, limit) };
  }

  async sqliteForeignKeys(limit: number): Promise<Violations> {
    const { rows } = await sql<{ table: string; rowid: number | null; parent: string }>`pragma foreign_key_check`.execute(this.db);
    return { count: rows.length, examples: rows.slice(0, limit).map((r) => `${r.table} row ${r.rowid ?? '?'} (no ${r.parent} row)`) };
  }

  /**
   * Every grant issues its first tokens once: by redeeming its authorization code, or at once
   * for the grants that need none. Every later access token comes from a rotation, which revokes
   * the access token issued before it. So a grant has at most one access token that is neither
   * revoked nor the one of a rotated refresh token (that one is the next check's). Cleanup and
   * revocation only remove candidates: no false alarm however the lifetimes are set.
   */
  grantsIssuedTwice(limit: number): Promise<Violations> {
    const query = this.db
      .selectFrom('access_tokens as a')
      .select('a.grant_id as id')
      .where('a.revoked_at', 'is', null)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('refresh_tokens as r').select('r.token_hash').whereRef('r.access_jti', '=', 'a.jti').where('r.used_at', 'is not', null))))
      .groupBy('a.grant_id')
      .having((eb) => eb.fn.countAll(), '>', 1);
    return violations(this.db, query, limit);
  }

  /**
   * A rotation marks the presented token used and adds its one successor in one transaction, so
   * a grant's refresh tokens form a chain whose only unused link is the last one.
   */
  grantsWithSeveralUnusedRefreshTokens(limit: number): Promise<Violations> {
    const query = this.db
      .selectFrom('refresh_tokens')
      .select('grant_id as id')
      .where('used_at', 'is', null)
      .groupBy('grant_id')
      .having((eb) => eb.fn.countAll(), '>', 1);
    return violations(this.db, query, limit);
  }

  /** A rotation revokes the access token issued with the old refresh token, in the same transaction. */
  grantsWithRotatedButLiveAccess(limit: number): Promise<Violations> {
    const query = this.db
      .selectFrom('refresh_tokens as r')
      .innerJoin('access_tokens as a', 'a.jti', 'r.access_jti')
      .select('r.grant_id as id')
      .where('r.used_at', 'is not', null)
      .where('a.revoked_at', 'is', null)
      .distinct();
    return violations(this.db, query, limit);
  }

  activeAdminCount(): Promise<number> {
    return countActiveAdmins(this.db);
  }
}
