import type { Kysely, Selectable } from 'kysely';
import type { RefreshToken, RefreshTokenRepository } from '../repositories.js';
import type { Database, GrantTable, RefreshTokenTable } from '../schema.js';
import { PreparedQuery } from './prepared.js';
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
  // Every refresh: compiled once (prepared.ts).
  private readonly byHash;
  private readonly grantById;
  private readonly markUsed;
  private readonly revokeAccess;

  constructor(private readonly db: Kysely<Database>) {
    this.issued = new IssuedTokenStatements(db);
    this.byHash = new PreparedQuery<{ tokenHash: string }, Selectable<RefreshTokenTable>>(db, (d, arg) => d.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', arg('tokenHash')));
    this.grantById = new PreparedQuery<{ id: string }, Selectable<GrantTable>>(db, (d, arg) => d.selectFrom('grants').selectAll().where('id', '=', arg('id')));
    this.markUsed = new PreparedQuery<{ oldHash: string; clientPk: number; now: number; replacement: string | null }, { access_jti: string }>(db, (d, arg) =>
      d
        .updateTable('refresh_tokens')
        .set({ used_at: arg('now'), replacement: arg('replacement') })
        .where('token_hash', '=', arg('oldHash'))
        .where('client_pk', '=', arg('clientPk'))
        .where('used_at', 'is', null)
        .where(liveGrant('refresh_tokens'))
        .returning(['access_jti']),
    );
    this.revokeAccess = new PreparedQuery<{ jti: string; now: number }, never>(db, (d, arg) =>
      d.updateTable('access_tokens').set({ revoked_at: arg('now') }).where('jti', '=', arg('jti')).where('revoked_at', 'is', null),
    );
  }

  async find(tokenHash: string) {
    const token = await this.byHash.first(this.db, { tokenHash });
    if (!token) return undefined;
    const grant = await this.grantById.first(this.db, { id: token.grant_id });
    return grant && { ...toRefreshToken(token), grant: toGrant(grant) };
  }

  async rotate(input: Parameters<RefreshTokenRepository['rotate']>[0]): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // The conditional UPDATE is the lock: of concurrent rotations exactly one matches.
      const old = await this.markUsed.first(trx, input);
      if (!old) return false;
      await this.revokeAccess.execute(trx, { jti: old.access_jti, now: input.now });
      await this.issued.insert(trx, input.nextAccess, input.next);
      return true;
    });
  }
}
