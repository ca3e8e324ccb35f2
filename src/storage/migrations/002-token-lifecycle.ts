/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run against the schema as it was */
import type { Kysely } from 'kysely';

/**
 * Refresh tokens, client scopes/owner/guests, guest subjects on grants, and signing keys kept
 * in the database so every server process signs and verifies with the same keys.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('clients').addColumn('scopes', 'text', (c) => c.notNull().defaultTo('[]')).execute();
  await db.schema.alterTable('clients').addColumn('owner_user_id', 'integer').execute();
  await db.schema.alterTable('clients').addColumn('allow_guests', 'integer', (c) => c.notNull().defaultTo(0)).execute();

  // The `sub` of a grant without a user (storefront guests: "visitor:<random id>").
  await db.schema.alterTable('grants').addColumn('subject', 'varchar(100)').execute();

  await db.schema
    .createTable('refresh_tokens')
    .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('grant_id', 'varchar(64)', (c) => c.notNull().references('grants.id').onDelete('cascade'))
    .addColumn('client_pk', 'integer', (c) => c.notNull().references('clients.id').onDelete('cascade'))
    .addColumn('scope', 'text', (c) => c.notNull())
    // The access token issued together with this refresh token; revoked when it is rotated.
    .addColumn('access_jti', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    // The response that replaced this token, encrypted, kept only for the grace period.
    .addColumn('replacement', 'text')
    .execute();
  await db.schema.createIndex('refresh_tokens_grant_idx').on('refresh_tokens').column('grant_id').execute();
  await db.schema.createIndex('refresh_tokens_expires_idx').on('refresh_tokens').column('expires_at').execute();

  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('alg', 'varchar(16)', (c) => c.notNull())
    // PKCS#8 PEM, encrypted with a key derived from the server secret (AES-256-GCM).
    .addColumn('private_key', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    // Published from creation; used for signing from activates_at.
    .addColumn('activates_at', 'bigint', (c) => c.notNull())
    // Set when a newer key takes over: the key stays published until its last token expired.
    .addColumn('published_until', 'bigint')
    .execute();
}
