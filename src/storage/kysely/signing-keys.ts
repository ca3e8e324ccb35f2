import type { Kysely } from 'kysely';
import type { SigningAlgorithm } from '../../config/index.js';
import type { SigningKeyRepository, StoredSigningKey } from '../repositories.js';
import type { Database } from '../schema.js';

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
    });
  }
}
