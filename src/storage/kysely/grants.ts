import { type Kysely, PostgresAdapter, type QueryCreator, type Selectable, sql, type Transaction } from 'kysely';
import type { SideName } from '../../oauth/sides.js';
import type { AccessTokenRecord, AuthorizationCode, Grant, GrantRepository, NewRefreshToken, OidcGrant } from '../repositories.js';
import type { AuthorizationCodeTable, Database, GrantTable } from '../schema.js';
import { PreparedQuery } from './prepared.js';
import { type ChangeStamp, UnchangedReads } from './unchanged-reads.js';

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
  oidc: row.oidc === null ? null : (JSON.parse(row.oidc) as OidcGrant),
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
  oidc: grant.oidc ? JSON.stringify(grant.oidc) : null,
});

/** The values of one issuance in a single statement (IssuedTokenStatements.record on PostgreSQL). */
type IssuedRow = Record<string, string | number | null>;

/** Grants live as long as the longest-lived thing issued from them; cleanup deletes them after. */
export const grantLifetime = (access: AccessTokenRecord, refresh?: NewRefreshToken): number => Math.max(access.expiresAt, refresh?.expiresAt ?? 0);

/**
 * The statements that record issued tokens, compiled once (prepared.ts): every token response
 * runs them. Shared by the grants (first tokens of a grant) and the refresh tokens (rotation,
 * on SQLite: PostgreSQL rotates in one statement of its own).
 */
export class IssuedTokenStatements {
  private readonly insertGrant;
  private readonly insertAccess;
  private readonly insertRefresh;
  private readonly extendGrant;
  /** PostgreSQL only: the whole issuance as one statement, by whether it has a new grant and a refresh token. */
  private readonly atOnce: Map<string, PreparedQuery<IssuedRow, { done: number }>> | undefined;

  constructor(private readonly db: Kysely<Database>) {
    this.atOnce = db.getExecutor().adapter instanceof PostgresAdapter ? singleStatementIssuance(db) : undefined;
    this.insertGrant = new PreparedQuery<Grant, never>(db, (d, arg) =>
      d.insertInto('grants').values({
        id: arg('id'),
        client_pk: arg('clientPk'),
        side: arg('side'),
        user_id: arg('userId'),
        subject: arg('subject'),
        scope: arg('scope'),
        created_at: arg('createdAt'),
        expires_at: arg('expiresAt'),
      }),
    );
    this.insertAccess = new PreparedQuery<AccessTokenRecord, never>(db, (d, arg) =>
      d.insertInto('access_tokens').values({ jti: arg('jti'), grant_id: arg('grantId'), client_pk: arg('clientPk'), issued_at: arg('issuedAt'), expires_at: arg('expiresAt') }),
    );
    this.insertRefresh = new PreparedQuery<NewRefreshToken, never>(db, (d, arg) =>
      d.insertInto('refresh_tokens').values({
        token_hash: arg('tokenHash'),
        grant_id: arg('grantId'),
        client_pk: arg('clientPk'),
        scope: arg('scope'),
        access_jti: arg('accessJti'),
        created_at: arg('createdAt'),
        expires_at: arg('expiresAt'),
      }),
    );
    this.extendGrant = new PreparedQuery<{ id: string; expiresAt: number }, never>(db, (d, arg) =>
      d.updateTable('grants').set({ expires_at: arg('expiresAt') }).where('id', '=', arg('id')).where('expires_at', '<', arg('expiresAt')),
    );
  }

  /**
   * Inserts an issued access token and the refresh token issued with it (and their grant, when
   * new), and stretches the grant's lifetime over both; the caller runs it inside a transaction.
   */
  async insert(trx: Transaction<Database>, access: AccessTokenRecord, refresh?: NewRefreshToken, newGrant?: Grant): Promise<void> {
    const expiresAt = grantLifetime(access, refresh);
    if (newGrant) await this.insertGrant.execute(trx, { ...newGrant, expiresAt: Math.max(newGrant.expiresAt, expiresAt) });
    await this.insertAccess.execute(trx, access);
    if (refresh) await this.insertRefresh.execute(trx, refresh);
    if (!newGrant) await this.extendGrant.execute(trx, { id: access.grantId, expiresAt });
  }

  /**
   * Records an issuance atomically. On PostgreSQL it is one statement (its inserts in data-
   * modifying WITH clauses), since every statement is a round trip to the server, and on this
   * path the round trips, not the work, were most of the cost: BEGIN, two or three statements
   * and COMMIT become one. On SQLite, where a statement is a call in this process, a transaction.
   */
  async record(access: AccessTokenRecord, refresh?: NewRefreshToken, newGrant?: Grant): Promise<void> {
    if (!this.atOnce) return this.db.transaction().execute((trx) => this.insert(trx, access, refresh, newGrant));
    const expiresAt = grantLifetime(access, refresh);
    const row: IssuedRow = {
      jti: access.jti,
      grantId: access.grantId,
      clientPk: access.clientPk,
      issuedAt: access.issuedAt,
      accessExpiresAt: access.expiresAt,
      grantExpiresAt: Math.max(newGrant?.expiresAt ?? 0, expiresAt),
    };
    if (newGrant) Object.assign(row, { side: newGrant.side, userId: newGrant.userId, subject: newGrant.subject, grantScope: newGrant.scope, grantCreatedAt: newGrant.createdAt });
    if (refresh) Object.assign(row, { tokenHash: refresh.tokenHash, refreshScope: refresh.scope, refreshCreatedAt: refresh.createdAt, refreshExpiresAt: refresh.expiresAt });
    await (this.atOnce.get(`${Boolean(newGrant)},${Boolean(refresh)}`) as PreparedQuery<IssuedRow, { done: number }>).execute(this.db, row);
  }
}

/** The four shapes of an issuance as one PostgreSQL statement (see IssuedTokenStatements.record). */
function singleStatementIssuance(db: Kysely<Database>): Map<string, PreparedQuery<IssuedRow, { done: number }>> {
  const shapes = new Map<string, PreparedQuery<IssuedRow, { done: number }>>();
  for (const newGrant of [false, true]) {
    for (const withRefresh of [false, true]) {
      shapes.set(
        `${newGrant},${withRefresh}`,
        new PreparedQuery<IssuedRow, { done: number }>(db, (d, arg) => {
          // The grant first: the tokens' foreign keys are checked at the end of the statement.
          const grant = (q: QueryCreator<Database>) =>
            newGrant
              ? q.insertInto('grants').values({
                  id: arg('grantId') as string,
                  client_pk: arg('clientPk') as number,
                  side: arg('side') as string,
                  user_id: arg('userId') as number | null,
                  subject: arg('subject') as string | null,
                  scope: arg('grantScope') as string,
                  created_at: arg('grantCreatedAt') as number,
                  expires_at: arg('grantExpiresAt') as number,
                }).returning('id')
              : q
                  .updateTable('grants')
                  .set({ expires_at: arg('grantExpiresAt') as number })
                  .where('id', '=', arg('grantId') as string)
                  .where('expires_at', '<', arg('grantExpiresAt') as number)
                  .returning('id');
          let query = d
            .with('g', (q) => grant(q))
            .with('a', (q) =>
              q
                .insertInto('access_tokens')
                .values({
                  jti: arg('jti') as string,
                  grant_id: arg('grantId') as string,
                  client_pk: arg('clientPk') as number,
                  issued_at: arg('issuedAt') as number,
                  expires_at: arg('accessExpiresAt') as number,
                })
                .returning('jti'),
            );
          if (withRefresh) {
            query = query.with('r', (q) =>
              q
                .insertInto('refresh_tokens')
                .values({
                  token_hash: arg('tokenHash') as string,
                  grant_id: arg('grantId') as string,
                  client_pk: arg('clientPk') as number,
                  scope: arg('refreshScope') as string,
                  access_jti: arg('jti') as string,
                  created_at: arg('refreshCreatedAt') as number,
                  expires_at: arg('refreshExpiresAt') as number,
                })
                .returning('token_hash'),
            ) as unknown as typeof query;
          }
          return query.selectNoFrom(sql<number>`1`.as('done'));
        }),
      );
    }
  }
  return shapes;
}

type ConsumeArgs = { codeHash: string; clientPk: number; now: number };

/** A code consumed on PostgreSQL, with its grant's row as one JSON value beside the code's columns. */
type ConsumedRow = Selectable<AuthorizationCodeTable> & { grant: Selectable<GrantTable> };

/**
 * "The row's grant is not revoked", as a correlated EXISTS on the grant's primary key: an
 * `IN (SELECT id FROM grants WHERE revoked_at IS NULL)` would scan every grant on SQLite.
 */
export const liveGrant = (table: 'authorization_codes' | 'refresh_tokens') =>
  sql<boolean>`exists (select 1 from grants where grants.id = ${sql.ref(`${table}.grant_id`)} and grants.revoked_at is null)`;

export class KyselyGrantRepository implements GrantRepository {
  private readonly issued: IssuedTokenStatements;
  /**
   * Every code exchange: compiled once (prepared.ts). On PostgreSQL the consumption returns the
   * grant's row too (a round trip less); SQLite's RETURNING cannot name the tables of an
   * UPDATE … FROM, and its second statement is a call in this process, not a round trip.
   */
  private readonly consumption:
    | { withGrant: true; query: PreparedQuery<ConsumeArgs, ConsumedRow> }
    | { withGrant: false; query: PreparedQuery<ConsumeArgs, Selectable<AuthorizationCodeTable>> };
  private readonly grantById;
  private readonly checkQueries;
  /** The checks of the tokens the API sees again and again, kept while nothing changes (unchanged-reads.ts). */
  private readonly checkedTokens: UnchangedReads<CheckedTokenRow | undefined>;

  constructor(
    private readonly db: Kysely<Database>,
    changeStamp?: ChangeStamp,
  ) {
    this.checkedTokens = new UnchangedReads(changeStamp);
    this.issued = new IssuedTokenStatements(db);
    this.grantById = new PreparedQuery<{ id: string }, Selectable<GrantTable>>(db, (d, arg) => d.selectFrom('grants').selectAll().where('id', '=', arg('id')));
    this.consumption =
      db.getExecutor().adapter instanceof PostgresAdapter
        ? {
            withGrant: true,
            query: new PreparedQuery<ConsumeArgs, ConsumedRow>(db, (d, arg) =>
              d
                .updateTable('authorization_codes as c')
                .from('grants as g')
                .set({ used_at: arg('now') })
                .where('c.code_hash', '=', arg('codeHash'))
                .where('c.client_pk', '=', arg('clientPk'))
                .where('c.used_at', 'is', null)
                .whereRef('g.id', '=', 'c.grant_id')
                // A revoked grant's codes cannot be consumed; checked atomically with the consumption.
                .where('g.revoked_at', 'is', null)
                .returningAll('c')
                .returning(sql<Selectable<GrantTable>>`to_jsonb(g)`.as('grant')),
            ),
          }
        : {
            withGrant: false,
            query: new PreparedQuery<ConsumeArgs, Selectable<AuthorizationCodeTable>>(db, (d, arg) =>
              d
                .updateTable('authorization_codes')
                .set({ used_at: arg('now') })
                .where('code_hash', '=', arg('codeHash'))
                .where('client_pk', '=', arg('clientPk'))
                .where('used_at', 'is', null)
                // A revoked grant's codes cannot be consumed; checked atomically with the consumption.
                .where(liveGrant('authorization_codes'))
                .returningAll(),
            ),
          };
    this.checkQueries = { backoffice: checkAccessTokenQuery(db, 'backoffice'), storefront: checkAccessTokenQuery(db, 'storefront') };
  }

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

  async findGrant(id: string) {
    const row = await this.grantById.first(this.db, { id });
    return row && toGrant(row);
  }

  async consumeCode(codeHash: string, clientPk: number, now: number) {
    const args = { codeHash, clientPk, now };
    if (this.consumption.withGrant) {
      const row = await this.consumption.query.first(this.db, args);
      return row && { ...toCode(row), grant: toGrant(row.grant) };
    }
    const row = await this.consumption.query.first(this.db, args);
    return row && { ...toCode(row), grant: await this.findGrant(row.grant_id) };
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

  async recordIssued(access: AccessTokenRecord, refresh?: NewRefreshToken, newGrant?: Grant): Promise<void> {
    // One transaction: one commit (one WAL write on SQLite, one fsync on PostgreSQL) per token response.
    await this.issued.record(access, refresh, newGrant);
  }

  async revokeAccessToken(jti: string, clientPk: number | null, now: number): Promise<{ side: SideName; userId: number | null } | undefined> {
    // The grant's side and user come back with the update, so revoking stays one query.
    let query = this.db
      .updateTable('access_tokens')
      .set({ revoked_at: now })
      .where('jti', '=', jti)
      .returning((eb) => [
        eb.selectFrom('grants').select('side').whereRef('grants.id', '=', 'access_tokens.grant_id').as('side'),
        eb.selectFrom('grants').select('user_id').whereRef('grants.id', '=', 'access_tokens.grant_id').as('user_id'),
      ]);
    if (clientPk !== null) query = query.where('client_pk', '=', clientPk);
    const row = await query.executeTakeFirst();
    return row?.side ? { side: row.side as SideName, userId: row.user_id ?? null } : undefined;
  }

  async checkAccessToken(jti: string, side: SideName) {
    const row = await this.checkedTokens.get(`${side}:${jti}`, () => this.checkQueries[side].first(this.db, { jti }));
    if (!row) return undefined;
    const userOk = row.user_id === null || (row.enabled === 1 && Number(row.locked) === 0);
    const usable = row.token_revoked === null && row.grant_revoked === null && row.client_active === 1 && userOk;
    const clientOwnerIsAdmin = row.owner_user_id === null ? null : Number(row.owner_admin) === 1;
    const user = row.user_id !== null && row.label !== null ? { isAdmin: Number(row.is_admin) === 1, label: row.label, clientOwnerIsAdmin } : null;
    return { usable, userId: row.user_id, grantId: row.grant_id, user };
  }
}

/**
 * The state of one access token as the API needs it, for one side: the token, its grant, its
 * client, its user, and (back office) the client's owner, in one indexed query.
 */
function checkAccessTokenQuery(db: Kysely<Database>, side: SideName) {
  return new PreparedQuery<{ jti: string }, CheckedTokenRow>(db, (d, arg) => {
    const base = d
      .selectFrom('access_tokens as t')
      .innerJoin('grants as g', 'g.id', 't.grant_id')
      .innerJoin('clients as c', 'c.id', 't.client_pk')
      .where('t.jti', '=', arg('jti'))
      .where('g.side', '=', side)
      .select(['t.revoked_at as token_revoked', 'g.revoked_at as grant_revoked', 'c.active as client_active', 'g.user_id', 't.grant_id']);
    return side === 'backoffice'
      ? base
          .leftJoin('backoffice_users as u', 'u.id', 'g.user_id')
          .leftJoin('backoffice_users as o', 'o.id', 'c.owner_user_id')
          .select(['u.enabled', 'u.locked', 'u.is_admin', 'u.username as label', 'c.owner_user_id', 'o.is_admin as owner_admin'])
      : base
          .leftJoin('customer_users as u', 'u.id', 'g.user_id')
          .select(['u.enabled', (eb) => eb.lit(0).as('locked'), (eb) => eb.lit(0).as('is_admin'), 'u.email as label', 'c.owner_user_id', (eb) => eb.lit(0).as('owner_admin')]);
  });
}

interface CheckedTokenRow {
  token_revoked: number | null;
  grant_revoked: number | null;
  client_active: number;
  user_id: number | null;
  grant_id: string;
  enabled: number | null;
  locked: number | null;
  is_admin: number | null;
  label: string | null;
  owner_user_id: number | null;
  owner_admin: number | null;
}
