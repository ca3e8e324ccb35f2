import type { Kysely, Selectable } from 'kysely';
import type { RefreshToken, RefreshTokenRepository } from '../repositories.js';
import type { Database, RefreshTokenTable } from '../schema.js';
import { IssuedTokenStatements, liveGrant, toGrant } from './grants.js';

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

export class KyselyRefreshTokenRepository implements RefreshTokenRepository {
  private readonly issued: IssuedTokenStatements;

  constructor(private readonly db: Kysely<Database>) {
    this.issued = new IssuedTokenStatements(db);
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
        .where(liveGrant('refresh_tokens'))
        .returning(['access_jti'])
        .executeTakeFirst();
      if (!old) return false;
      await trx.updateTable('access_tokens').set({ revoked_at: input.now }).where('jti', '=', old.access_jti).where('revoked_at', 'is', null).execute();
      await this.issued.insert(trx, input.nextAccess, input.next);
      return true;
    });
  }
}
