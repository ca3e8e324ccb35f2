/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run against the schema as it was */
import type { Kysely } from 'kysely';

/**
 * A user's sessions are ended together (a password set by an admin or changed on the account
 * page, a deleted user): found by side and user, without reading every shopper's session.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('sessions_user_idx').on('sessions').columns(['side', 'user_id']).execute();
}
