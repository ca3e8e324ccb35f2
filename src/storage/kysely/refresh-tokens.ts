import type { Kysely, Selectable } from 'kysely';
import type { RefreshToken, RefreshTokenRepository } from '../repositories.js';
import type { Database, RefreshTokenTable } from '../schema.js';
import { extendGrant, recordAccessToken, toGrant } from './grants.js';

const toRefreshToken = (row: Selectable<RefreshTokenTable>): RefreshToken => ({
  tokenHash: row.token_hash,
  grantId: row.grant_id,
  clientPk: row.client_pk,
  scope: row.scope,
  accessJti: row.access_jti,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  usedAt: row.used_at,
  replacement: row.replacement,
});

const toRow = (t: Omit<RefreshToken, 'usedAt' | 'replacement'>) => ({
  token_hash: t.tokenHash,
  grant_id: t.grantId,
  client_pk: t.clientPk,
  scope: t.scope,
  access_jti: t.accessJti,
  created_at: t.createdAt,
  expires_at: t.expiresAt,
});

export class KyselyRefreshTokenRepository implements RefreshTokenRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async add(token: Omit<RefreshToken, 'usedAt' | 'replacement'>): Promise<void> {
    await this.db.insertInto('refresh_tokens').values(toRow(token)).execute();
    await extendGrant(this.db, token.grantId, token.expiresAt);
  }

  async find(tokenHash: string) {
    const token = await this.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    if (!token) return undefined;
    const grant = await this.db.selectFrom('grants').selectAll().where('id', '=', token.grant_id).executeTakeFirst();
    return grant && { ...toRefreshToken(token), grant: toGrant(grant) };
  }

  async rotate(input: Parameters<RefreshTokenRepository['rotate']>[0]): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // The conditional UPDATE is the lock: of concurrent rotations exactly one matches.
      const old = await trx
        .updateTable('refresh_tokens')
        .set({ used_at: input.now, replacement: input.replacement })
        .where('token_hash', '=', input.oldHash)
        .where('client_pk', '=', input.clientPk)
        .where('used_at', 'is', null)
        .where('grant_id', 'in', (eb) => eb.selectFrom('grants').select('id').where('revoked_at', 'is', null))
        .returning(['access_jti'])
        .executeTakeFirst();
      if (!old) return false;
      await trx.updateTable('access_tokens').set({ revoked_at: input.now }).where('jti', '=', old.access_jti).where('revoked_at', 'is', null).execute();
      await recordAccessToken(trx, input.nextAccess);
      await trx.insertInto('refresh_tokens').values(toRow(input.next)).execute();
      await extendGrant(trx, input.next.grantId, input.next.expiresAt);
      return true;
    });
  }
}
