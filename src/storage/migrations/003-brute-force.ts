/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run against the schema as it was */
import type { Kysely } from 'kysely';

/**
 * Failed attempts at passwords and client secrets, counted per key in a fixed window, in the
 * database so every server process shares them. The key is a keyed hash of what is counted
 * (login and IP address, client_id and IP address, IP address): never a raw username or IP.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('failed_attempts')
    .addColumn('key', 'varchar(200)', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    // Epoch seconds of the first failure of the current window.
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('failed_attempts_window_idx').on('failed_attempts').column('window_start').execute();
}
