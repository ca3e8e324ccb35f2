/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run against the schema as it was */
import type { Kysely } from 'kysely';

/**
 * OpenID Connect. A grant made at the authorize endpoint remembers the sign-in it came from
 * (nonce, auth_time, session id, requested claims) as one JSON value, since ID tokens issued on
 * refresh must repeat auth_time and sid. Clients gain their OIDC settings: post-logout redirect
 * URIs, the ID token algorithm (null: the server's signing key) and the subject type.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('grants').addColumn('oidc', 'text').execute();
  await db.schema.alterTable('clients').addColumn('post_logout_redirect_uris', 'text', (c) => c.notNull().defaultTo('[]')).execute();
  await db.schema.alterTable('clients').addColumn('id_token_signed_response_alg', 'varchar(16)').execute();
  await db.schema.alterTable('clients').addColumn('subject_type', 'varchar(16)', (c) => c.notNull().defaultTo('public')).execute();
}
