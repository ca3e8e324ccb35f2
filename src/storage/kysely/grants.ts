import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { SideName } from '../../oauth/sides.js';
import type { AccessTokenRecord, AuthorizationCode, Grant, GrantRepository, NewRefreshToken } from '../repositories.js';
import type { AuthorizationCodeTable, Database, GrantTable } from '../schema.js';

const toCode = (row: Selectable<AuthorizationCodeTable>): AuthorizationCode => ({
  codeHash: row.code_hash,
  grantId: row.grant_id,
  clientPk: row.client_pk,
  redirectUri: row.redirect_uri,
  redirectUriRequested: row.redirect_uri_requested === 1,
  codeChallenge: row.code_challenge,
  expiresAt: row.expires_at,
  usedAt: row.used_at,
});

export const toGrant = (row: Selectable<GrantTable>): Grant & { revokedAt: number | null } => ({
  id: row.id,
  clientPk: row.client_pk,
  side: row.side as SideName,
  userId: row.user_id,
  subject: row.subject,
  scope: row.scope,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
});

const toGrantRow = (grant: Grant) => ({
  id: grant.id,
  client_pk: grant.clientPk,
  side: grant.side,
  user_id: grant.userId,
  subject: grant.subject,
  scope: grant.scope,
  created_at: grant.createdAt,
  expires_at: grant.expiresAt,
});

/**
 * Inserts an issued access token and the refresh token issued with it, and stretches their
 * grant's lifetime over both; the caller runs it inside a transaction.
 */
export async function insertIssued(trx: Transaction<Database>, access: AccessTokenRecord, refresh?: NewRefreshToken): Promise<void> {
  await trx
    .insertInto('access_tokens')
    .values({ jti: access.jti, grant_id: access.grantId, client_pk: access.clientPk, issued_at: access.issuedAt, expires_at: access.expiresAt })
    .execute();
  if (refresh) {
    await trx
      .insertInto('refresh_tokens')
      .values({
        token_hash: refresh.tokenHash,
        grant_id: refresh.grantId,
        client_pk: refresh.clientPk,
        scope: refresh.scope,
        access_jti: refresh.accessJti,
        created_at: refresh.createdAt,
        expires_at: refresh.expiresAt,
      })
      .execute();
  }
  // Grants live as long as the longest-lived thing issued from them; cleanup deletes them after.
  const expiresAt = Math.max(access.expiresAt, refresh?.expiresAt ?? 0);
  await trx.updateTable('grants').set({ expires_at: expiresAt }).where('id', '=', access.grantId).where('expires_at', '<', expiresAt).execute();
}

/**
 * "The row's grant is not revoked", as a correlated EXISTS on the grant's primary key: an
 * `IN (SELECT id FROM grants WHERE revoked_at IS NULL)` would scan every grant on SQLite.
 */
export const liveGrant = (table: 'authorization_codes' | 'refresh_tokens') =>
  sql<boolean>`exists (select 1 from grants where grants.id = ${sql.ref(`${table}.grant_id`)} and grants.revoked_at is null)`;

export class KyselyGrantRepository implements GrantRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async createWithCode(grant: Grant, code: Omit<AuthorizationCode, 'grantId' | 'usedAt'>): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('grants').values(toGrantRow(grant)).execute();
      await trx
        .insertInto('authorization_codes')
        .values({
          code_hash: code.codeHash,
          grant_id: grant.id,
          client_pk: code.clientPk,
          redirect_uri: code.redirectUri,
          redirect_uri_requested: code.redirectUriRequested ? 1 : 0,
          code_challenge: code.codeChallenge,
          created_at: grant.createdAt,
          expires_at: code.expiresAt,
        })
        .execute();
    });
  }

  async create(grant: Grant): Promise<void> {
    await this.db.insertInto('grants').values(toGrantRow(grant)).execute();
  }

  async findGrant(id: string) {
    const row = await this.db.selectFrom('grants').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toGrant(row);
  }

  async consumeCode(codeHash: string, clientPk: number, now: number): Promise<AuthorizationCode | undefined> {
    const row = await this.db
      .updateTable('authorization_codes')
      .set({ used_at: now })
      .where('code_hash', '=', codeHash)
      .where('client_pk', '=', clientPk)
      .where('used_at', 'is', null)
      // A revoked grant's codes cannot be consumed; checked here, atomically with the consumption.
      .where(liveGrant('authorization_codes'))
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

  async revokeAllGrants(filter: { clientPk: number } | { side: SideName; userId: number; clientPk?: number }, now: number): Promise<number> {
    let query = this.db.updateTable('grants').set({ revoked_at: now }).where('revoked_at', 'is', null);
    if ('side' in filter) query = query.where('side', '=', filter.side).where('user_id', '=', filter.userId);
    if (filter.clientPk !== undefined) query = query.where('client_pk', '=', filter.clientPk);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async liveGrantsOfUser(side: SideName, userId: number, now: number) {
    // Through grants_user_idx, then each grant's tokens by their grant index.
    const rows = await this.db
      .selectFrom('grants as g')
      .select(['g.client_pk', 'g.scope', 'g.created_at'])
      .where('g.side', '=', side)
      .where('g.user_id', '=', userId)
      .where('g.revoked_at', 'is', null)
      .where((eb) =>
        eb.or([
          eb.exists(eb.selectFrom('access_tokens as t').select('t.jti').whereRef('t.grant_id', '=', 'g.id').where('t.revoked_at', 'is', null).where('t.expires_at', '>', now)),
          eb.exists(eb.selectFrom('refresh_tokens as r').select('r.token_hash').whereRef('r.grant_id', '=', 'g.id').where('r.used_at', 'is', null).where('r.expires_at', '>', now)),
        ]),
      )
      .execute();
    return rows.map((row) => ({ clientPk: row.client_pk, scope: row.scope, createdAt: row.created_at }));
  }

  async lastIssuedOfUser(side: SideName, userId: number) {
    // Refresh tokens are kept until they expire, access tokens only until theirs (cleanup), so
    // both are asked: the refresh tokens remember a use for longer.
    const access = this.db
      .selectFrom('access_tokens as t')
      .innerJoin('grants as g', 'g.id', 't.grant_id')
      .select(['g.client_pk', (eb) => eb.fn.max('t.issued_at').as('at')])
      .where('g.side', '=', side)
      .where('g.user_id', '=', userId)
      .groupBy('g.client_pk');
    const refresh = this.db
      .selectFrom('refresh_tokens as r')
      .innerJoin('grants as g', 'g.id', 'r.grant_id')
      .select(['g.client_pk', (eb) => eb.fn.max('r.created_at').as('at')])
      .where('g.side', '=', side)
      .where('g.user_id', '=', userId)
      .groupBy('g.client_pk');
    const latest = new Map<number, number>();
    for (const row of [...(await access.execute()), ...(await refresh.execute())]) {
      const at = Number(row.at);
      if (at > (latest.get(row.client_pk) ?? -1)) latest.set(row.client_pk, at);
    }
    return [...latest].map(([clientPk, at]) => ({ clientPk, at }));
  }

  async recordIssued(access: AccessTokenRecord, refresh?: NewRefreshToken): Promise<void> {
    // One transaction: one commit (one WAL write on SQLite, one fsync on PostgreSQL) per token response.
    await this.db.transaction().execute((trx) => insertIssued(trx, access, refresh));
  }

  async revokeAccessToken(jti: string, clientPk: number | null, now: number): Promise<boolean> {
    let query = this.db.updateTable('access_tokens').set({ revoked_at: now }).where('jti', '=', jti);
    if (clientPk !== null) query = query.where('client_pk', '=', clientPk);
    const result = await query.executeTakeFirst();
    return result.numUpdatedRows > 0n;
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
            .leftJoin('backoffice_users as o', 'o.id', 'c.owner_user_id')
            .select(['u.enabled', 'u.locked', 'u.is_admin', 'u.username as label', 'c.owner_user_id', 'o.is_admin as owner_admin'])
            .executeTakeFirst()
        : await base
            .leftJoin('customer_users as u', 'u.id', 'g.user_id')
            .select(['u.enabled', (eb) => eb.lit(0).as('locked'), (eb) => eb.lit(0).as('is_admin'), 'u.email as label', 'c.owner_user_id', (eb) => eb.lit(0).as('owner_admin')])
            .executeTakeFirst();
    if (!row) return undefined;
    const userOk = row.user_id === null || (row.enabled === 1 && Number(row.locked) === 0);
    const usable = row.token_revoked === null && row.grant_revoked === null && row.client_active === 1 && userOk;
    const clientOwnerIsAdmin = row.owner_user_id === null ? null : Number(row.owner_admin) === 1;
    const user = row.user_id !== null && row.label !== null ? { isAdmin: Number(row.is_admin) === 1, label: row.label, clientOwnerIsAdmin } : null;
    return { usable, userId: row.user_id, user };
  }
}
