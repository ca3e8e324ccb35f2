/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run against the schema as it was */
import type { Kysely } from 'kysely';
import type { MigrationContext } from './context.js';

/**
 * The audit trail: one row per security-relevant event (sign-ins, consents, tokens issued,
 * reuse detected, revocations, changes to clients, users and keys). No column ever holds a
 * secret; details is a small JSON object of facts. The cleanup deletes rows older than
 * audit_retention days, by `at`.
 */
export async function up(db: Kysely<any>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('audit_events')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'varchar(64)', (c) => c.notNull())
    // "cli", the acting username, or for protocol events the user or client involved.
    .addColumn('actor', 'varchar(255)', (c) => c.notNull())
    .addColumn('address', 'varchar(64)')
    .addColumn('side', 'varchar(16)')
    .addColumn('user_id', 'integer')
    .addColumn('client_id', 'varchar(64)')
    .addColumn('details', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
  await db.schema.createIndex('audit_events_at_idx').on('audit_events').column('at').execute();
  await db.schema.createIndex('audit_events_kind_idx').on('audit_events').column('kind').execute();
  await db.schema.createIndex('audit_events_user_idx').on('audit_events').columns(['side', 'user_id']).execute();
  await db.schema.createIndex('audit_events_client_idx').on('audit_events').column('client_id').execute();
}
