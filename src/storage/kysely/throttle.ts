import type { Kysely } from 'kysely';
import { PreparedQuery } from './prepared.js';
import type { FailureWindow, ThrottleRepository } from '../repositories.js';
import type { Database } from '../schema.js';

type FailuresQuery = PreparedQuery<Record<string, string | number>, { key: string; failures: number; window_start: number }>;

export class KyselyThrottleRepository implements ThrottleRepository {
  // Every client authentication and sign-in asks: compiled once per number of keys (prepared.ts).
  private readonly failuresQueries = new Map<number, FailuresQuery>();

  constructor(private readonly db: Kysely<Database>) {}

  async failures(keys: string[], since: number): Promise<FailureWindow[]> {
    if (keys.length === 0) return [];
    let query = this.failuresQueries.get(keys.length);
    if (!query) {
      query = new PreparedQuery(this.db, (d, arg) =>
        d
          .selectFrom('failed_attempts')
          .select(['key', 'failures', 'window_start'])
          .where('key', 'in', keys.map((_, i) => arg(`key${i}`) as string))
          .where('window_start', '>', arg('since') as number),
      );
      // Callers pass a few keys (a name and an address): the map stays small.
      this.failuresQueries.set(keys.length, query);
    }
    const { rows } = await query.execute(this.db, { since, ...Object.fromEntries(keys.map((key, i) => [`key${i}`, key])) });
    return rows.map((r) => ({ key: r.key, failures: Number(r.failures), windowStart: Number(r.window_start) }));
  }

  async recordFailure(key: string, now: number, windowSeconds: number): Promise<{ failures: number; windowStart: number }> {
    const over = now - windowSeconds;
    // One upsert, so concurrent failures in any number of processes are all counted. Columns
    // are qualified: PostgreSQL would find a bare name ambiguous beside `excluded`.
    const row = await this.db
      .insertInto('failed_attempts')
      .values({ key, failures: 1, window_start: now })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet((eb) => ({
          failures: eb
            .case()
            .when('failed_attempts.window_start', '<=', over)
            .then(1)
            .else(eb('failed_attempts.failures', '+', 1))
            .end(),
          window_start: eb.case().when('failed_attempts.window_start', '<=', over).then(now).else(eb.ref('failed_attempts.window_start')).end(),
        })),
      )
      .returning(['failures', 'window_start'])
      .executeTakeFirstOrThrow();
    return { failures: Number(row.failures), windowStart: Number(row.window_start) };
  }

  async forgive(key: string): Promise<void> {
    await this.db.updateTable('failed_attempts').set((eb) => ({ failures: eb('failures', '-', 1) })).where('key', '=', key).where('failures', '>', 0).execute();
  }

  async reset(key: string): Promise<void> {
    await this.db.deleteFrom('failed_attempts').where('key', '=', key).execute();
  }
}
