import { type Kysely, PostgresAdapter, sql, type Transaction } from 'kysely';
import type { SigningAlgorithm } from '../../config/index.js';
import type { SigningKeyRepository, StoredSigningKey } from '../repositories.js';
import type { Database } from '../schema.js';

/** The PostgreSQL advisory lock that serialises seeding an empty key table (an arbitrary constant: "GRsk"). */
const SEED_KEY_LOCK = 0x4752736b;

export class KyselySigningKeyRepository implements SigningKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<StoredSigningKey[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().orderBy('activates_at').orderBy('created_at').execute();
    return rows.map((r) => ({
      kid: r.kid,
      alg: r.alg as SigningAlgorithm,
      sealedPrivateKey: r.private_key,
      publicJwk: JSON.parse(r.public_jwk) as Record<string, string>,
      createdAt: r.created_at,
      activatesAt: r.activates_at,
      publishedUntil: r.published_until,
    }));
  }

  async add(key: StoredSigningKey, retireOthersAt: number | null): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      if (retireOthersAt !== null) {
        await trx.updateTable('signing_keys').set({ published_until: retireOthersAt }).where('published_until', 'is', null).execute();
      }
      await insertKey(trx, key);
    });
  }

  /**
   * Two transactions that both see an empty table would each store their own seed key: SQLite's
   * write transactions take the lock as they begin (sqlite-driver.ts), PostgreSQL takes an
   * advisory lock first.
   */
  async addFirst(key: StoredSigningKey): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (trx.getExecutor().adapter instanceof PostgresAdapter) await sql`select pg_advisory_xact_lock(${SEED_KEY_LOCK})`.execute(trx);
      if (await trx.selectFrom('signing_keys').select('kid').limit(1).executeTakeFirst()) return false;
      await insertKey(trx, key);
      return true;
    });
  }
}

async function insertKey(trx: Transaction<Database>, key: StoredSigningKey): Promise<void> {
  await trx
    .insertInto('signing_keys')
    .values({
      kid: key.kid,
      alg: key.alg,
      private_key: key.sealedPrivateKey,
      public_jwk: JSON.stringify(key.publicJwk),
      created_at: key.createdAt,
      activates_at: key.activatesAt,
      published_until: key.publishedUntil,
    })
    .onConflict((oc) => oc.column('kid').doNothing())
    .execute();
}
