import type { Kysely, Selectable } from 'kysely';
import type { SideName } from '../../oauth/sides.js';
import type { AuthorizationCode, Grant, GrantRepository } from '../repositories.js';
import type { AuthorizationCodeTable, Database } from '../schema.js';

const toCode = (row: Selectable<AuthorizationCodeTable>): AuthorizationCode => ({
  codeHash: row.code_hash,
  grantId: row.grant_id,
  clientPk: row.client_pk,
  redirectUri: row.redirect_uri,
  codeChallenge: row.code_challenge,
  expiresAt: row.expires_at,
  usedAt: row.used_at,
});

export class KyselyGrantRepository implements GrantRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async createWithCode(grant: Grant, code: Omit<AuthorizationCode, 'grantId' | 'usedAt'>): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('grants')
        .values({
          id: grant.id,
          client_pk: grant.clientPk,
          side: grant.side,
          user_id: grant.userId,
          scope: grant.scope,
          created_at: grant.createdAt,
          expires_at: grant.expiresAt,
        })
        .execute();
      await trx
        .insertInto('authorization_codes')
        .values({
          code_hash: code.codeHash,
          grant_id: grant.id,
          client_pk: code.clientPk,
          redirect_uri: code.redirectUri,
          code_challenge: code.codeChallenge,
          created_at: grant.createdAt,
          expires_at: code.expiresAt,
        })
        .execute();
    });
  }

  async findGrant(id: string) {
    const row = await this.db.selectFrom('grants').selectAll().where('id', '=', id).executeTakeFirst();
    return (
      row && {
        id: row.id,
        clientPk: row.client_pk,
        side: row.side as SideName,
        userId: row.user_id,
        scope: row.scope,
        createdAt: row.created_at,
        expiresAt: row.expires_at,
        revokedAt: row.revoked_at,
      }
    );
  }

  async consumeCode(codeHash: string, clientPk: number, now: number): Promise<AuthorizationCode | undefined> {
    const row = await this.db
      .updateTable('authorization_codes')
      .set({ used_at: now })
      .where('code_hash', '=', codeHash)
      .where('client_pk', '=', clientPk)
      .where('used_at', 'is', null)
      // A revoked grant's codes cannot be consumed; checked here, atomically with the consumption.
      .where('grant_id', 'in', (eb) => eb.selectFrom('grants').select('id').where('revoked_at', 'is', null))
      .returningAll()
      .executeTakeFirst();
    return row && toCode(row);
  }

  async findCode(codeHash: string): Promise<AuthorizationCode | undefined> {
    const row = await this.db.selectFrom('authorization_codes').selectAll().where('code_hash', '=', codeHash).executeTakeFirst();
    return row && toCode(row);
  }

  async revokeGrant(id: string, now: number): Promise<void> {
    await this.db.updateTable('grants').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).execute();
  }

  async recordAccessToken(token: { jti: string; grantId: string; clientPk: number; issuedAt: number; expiresAt: number }): Promise<void> {
    await this.db
      .insertInto('access_tokens')
      .values({ jti: token.jti, grant_id: token.grantId, client_pk: token.clientPk, issued_at: token.issuedAt, expires_at: token.expiresAt })
      .execute();
    await this.db
      .updateTable('grants')
      .set({ expires_at: token.expiresAt })
      .where('id', '=', token.grantId)
      .where('expires_at', '<', token.expiresAt)
      .execute();
  }

  async checkAccessToken(jti: string, side: SideName) {
    const base = this.db
      .selectFrom('access_tokens as t')
      .innerJoin('grants as g', 'g.id', 't.grant_id')
      .innerJoin('clients as c', 'c.id', 't.client_pk')
      .where('t.jti', '=', jti)
      .where('g.side', '=', side)
      .select(['t.revoked_at as token_revoked', 'g.revoked_at as grant_revoked', 'c.active as client_active', 'g.user_id']);
    const row =
      side === 'backoffice'
        ? await base
            .leftJoin('backoffice_users as u', 'u.id', 'g.user_id')
            .select(['u.enabled', 'u.locked'])
            .executeTakeFirst()
        : await base
            .leftJoin('customer_users as u', 'u.id', 'g.user_id')
            .select(['u.enabled', (eb) => eb.lit(0).as('locked')])
            .executeTakeFirst();
    if (!row) return undefined;
    const userOk = row.user_id === null || (row.enabled === 1 && Number(row.locked) === 0);
    const usable = row.token_revoked === null && row.grant_revoked === null && row.client_active === 1 && userOk;
    return { usable, userId: row.user_id };
  }
}
