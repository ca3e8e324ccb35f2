/**
 * Queries of the hot paths, built and compiled once. Kysely builds an operation tree and
 * compiles it to SQL on every call; profiles of the token endpoint and the API put that at about
 * a tenth of a request, more than the small indexed queries themselves. A hot query has the same
 * shape every time, so it is compiled once with marker values in place of its arguments, and
 * each call binds the actual values where the markers were. The same builder code serves both
 * dialects, and any query may still be written the ordinary way.
 */
import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { Database } from '../schema.js';

/**
 * The name of each hot query's SQL, for PostgreSQL's named prepared statements (database.ts):
 * one per SQL text, so the set is as small as the code's hot queries, whatever the number of
 * Grantry instances in a process.
 */
const statementNames = new Map<string, string>();

/** The statement name of `sql` when it is a hot query's, else undefined (run as a one-off statement). */
export const preparedStatementName = (sql: string): string | undefined => statementNames.get(sql);

/** A value no caller passes: a NUL-prefixed name. */
const MARKER = '\u0000grantry-argument:';

export class PreparedQuery<Args extends object, Row> {
  private readonly compiled: CompiledQuery<Row>;
  /** For each bound parameter: the argument it takes, or the constant the builder put there. */
  private readonly slots: Array<{ argument: keyof Args & string } | { constant: unknown }>;

  constructor(db: Kysely<Database>, build: (db: Kysely<Database>, arg: <K extends keyof Args & string>(name: K) => Args[K]) => Compilable<Row>) {
    this.compiled = build(db, (name) => `${MARKER}${name}` as never).compile();
    if (!statementNames.has(this.compiled.sql)) statementNames.set(this.compiled.sql, `grantry_${statementNames.size + 1}`);
    this.slots = this.compiled.parameters.map((value) =>
      typeof value === 'string' && value.startsWith(MARKER) ? { argument: value.slice(MARKER.length) as keyof Args & string } : { constant: value },
    );
  }

  /** Runs the query with `args` on `db`, or on the transaction given as `db`. */
  execute(db: Kysely<Database>, args: Args): Promise<QueryResult<Row>> {
    const parameters = this.slots.map((slot) => ('argument' in slot ? args[slot.argument] : slot.constant));
    return db.executeQuery({ ...this.compiled, parameters });
  }

  async first(db: Kysely<Database>, args: Args): Promise<Row | undefined> {
    return (await this.execute(db, args)).rows[0];
  }
}
