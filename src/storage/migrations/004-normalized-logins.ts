/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run against the schema as it was */
import type { Kysely } from 'kysely';
import { normalizeLogin } from '../../security/logins.js';

/**
 * Usernames and emails are unique, and looked up, in their normalised form (normalizeLogin:
 * NFKC, case folded, no trailing dot on an email's domain), so look-alike accounts (`Alice`
 * beside `alice`, a fullwidth or trailing-dot email) cannot exist. The key columns are filled
 * from the existing rows here, in code, so that they are exactly what normalizeLogin gives on
 * both databases; the displayed username and email stay as they were.
 *
 * Existing accounts that normalise to the same name cannot both keep it, and which one should
 * is the operator's call: the migration then stops before changing anything and names the
 * accounts, so they can be renamed or deleted, and the migration run again.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const staff: Row[] = await db.selectFrom('backoffice_users').select(['id', 'username', 'email']).orderBy('id').execute();
  const customers: Row[] = await db.selectFrom('customer_users').select(['id', 'email']).orderBy('id').execute();
  const collisions = [
    ...findCollisions(staff, 'username', 'back-office users'),
    ...findCollisions(staff, 'email', 'back-office users'),
    ...findCollisions(customers, 'email', 'storefront users'),
  ];
  if (collisions.length > 0) {
    throw new Error(
      `cannot apply migration 004-normalized-logins: ${collisions.join('; ')} once normalised (case, Unicode compatibility forms, a trailing dot). ` +
        'Change the name of all but one of each in the database (or delete them), then migrate again.',
    );
  }

  // The first statement that changes anything fails if the migration already ran (see migrateToLatest).
  await db.schema.alterTable('backoffice_users').addColumn('username_key', 'text', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('backoffice_users').addColumn('email_key', 'text', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('customer_users').addColumn('email_key', 'text', (c) => c.notNull().defaultTo('')).execute();
  for (const row of staff) {
    await db
      .updateTable('backoffice_users')
      .set({ username_key: normalizeLogin(row.username as string), email_key: normalizeLogin(row.email) })
      .where('id', '=', row.id)
      .execute();
  }
  for (const row of customers) await db.updateTable('customer_users').set({ email_key: normalizeLogin(row.email) }).where('id', '=', row.id).execute();
  await db.schema.createIndex('backoffice_users_username_key_unique').on('backoffice_users').column('username_key').unique().execute();
  await db.schema.createIndex('backoffice_users_email_key_unique').on('backoffice_users').column('email_key').unique().execute();
  await db.schema.createIndex('customer_users_email_key_unique').on('customer_users').column('email_key').unique().execute();
}

type Row = { id: number; username?: string; email: string };

/** "back-office users 1 "alice" and 2 "ALICE" have the same username", per group of rows whose `column` normalises alike. */
function findCollisions(rows: Row[], column: 'username' | 'email', what: string): string[] {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = normalizeLogin(row[column] as string);
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()]
    .filter((group) => group.length > 1)
    .map((group) => {
      const names = group.map((row) => `${row.id} ${JSON.stringify(row[column])}`);
      return `${what} ${names.slice(0, -1).join(', ')} and ${names.at(-1)} have the same ${column}`;
    });
}
