/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run against the schema as it was */
import type { Kysely } from 'kysely';

/**
 * Whether the authorization request carried redirect_uri: RFC 6749 §4.1.3 requires it at the
 * token endpoint only then. Codes issued before this column existed default to 1, the stricter
 * rule they were issued under.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('authorization_codes').addColumn('redirect_uri_requested', 'integer', (c) => c.notNull().defaultTo(1)).execute();
}
