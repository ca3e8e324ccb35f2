/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run against the schema as it was */
import type { Kysely } from 'kysely';
import type { MigrationContext } from './context.js';

/**
 * Remembered consent: the scopes a user of a side has allowed a client, one row per user and
 * client. Deleted with the client (cascade) and with the user (the user-delete path).
 */
export async function up(db: Kysely<any>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('consents')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('side', 'varchar(16)', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.notNull())
    .addColumn('client_pk', 'integer', (c) => c.notNull().references('clients.id').onDelete('cascade'))
    // Space-separated scope names, as in grants.scope.
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('consents_user_client_unique', ['side', 'user_id', 'client_pk'])
    .execute();
  await db.schema.createIndex('consents_client_idx').on('consents').column('client_pk').execute();
}
