import { type Kysely, PostgresAdapter, type Selectable, sql } from 'kysely';
import type { RefreshToken, RefreshTokenRepository } from '../repositories.js';
import type { Database, GrantTable, RefreshTokenTable } from '../schema.js';
import { PreparedQuery } from './prepared.js';
import { grantLifetime, IssuedTokenStatements, liveGrant, toGrant } from './grants.js';

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
  /** PostgreSQL only: the whole rotation as one statement (see rotate). */
  private readonly rotateAtOnce: PreparedQuery<RotationRow, { rotated: number }> | undefined;

  constructor(private readonly db: Kysely<Database>) {
    this.rotateAtOnce = db.getExecutor().adapter instanceof PostgresAdapter ? singleStatementRotation(db) : undefined;
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

  /**
   * On SQLite a transaction of a few statements (calls inside this process). On PostgreSQL one
   * statement, as for every issuance (IssuedTokenStatements.record): BEGIN, five statements and
   * COMMIT were seven round trips, more than half of a refresh's.
   */
  async rotate(input: Parameters<RefreshTokenRepository['rotate']>[0]): Promise<boolean> {
    if (this.rotateAtOnce) {
      const { next, nextAccess } = input;
      const row = await this.rotateAtOnce.first(this.db, {
        oldHash: input.oldHash,
        clientPk: input.clientPk,
        now: input.now,
        replacement: input.replacement,
        jti: nextAccess.jti,
        accessGrantId: nextAccess.grantId,
        accessClientPk: nextAccess.clientPk,
        issuedAt: nextAccess.issuedAt,
        accessExpiresAt: nextAccess.expiresAt,
        tokenHash: next.tokenHash,
        refreshGrantId: next.grantId,
        refreshClientPk: next.clientPk,
        refreshAccessJti: next.accessJti,
        scope: next.scope,
        createdAt: next.createdAt,
        refreshExpiresAt: next.expiresAt,
        grantExpiresAt: grantLifetime(nextAccess, next),
      });
      return Number(row?.rotated) === 1;
    }
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

type RotationRow = {
  oldHash: string;
  clientPk: number;
  now: number;
  replacement: string | null;
  jti: string;
  accessGrantId: string;
  accessClientPk: number;
  issuedAt: number;
  accessExpiresAt: number;
  tokenHash: string;
  refreshGrantId: string;
  refreshClientPk: number;
  refreshAccessJti: string;
  scope: string;
  createdAt: number;
  refreshExpiresAt: number;
  grantExpiresAt: number;
};

/**
 * A rotation as one PostgreSQL statement, with the steps of the SQLite transaction as data-
 * modifying WITH clauses. The conditional UPDATE of the old token (`old`) is still the lock: a
 * concurrent rotation waits for it, then finds the token used and matches nothing; every other
 * step reads `old`, so nothing is written unless this one won. Values are cast: PostgreSQL
 * cannot type a bare parameter in a SELECT list.
 */
function singleStatementRotation(db: Kysely<Database>) {
  return new PreparedQuery<RotationRow, { rotated: number }>(db, (_d, arg) => {
    const text = (name: keyof RotationRow) => sql`cast(${arg(name)} as text)`;
    const bigint = (name: keyof RotationRow) => sql`cast(${arg(name)} as bigint)`;
    const statement = sql<{ rotated: number }>`
      with old as (
        update refresh_tokens set used_at = ${bigint('now')}, replacement = ${text('replacement')}
        where token_hash = ${text('oldHash')} and client_pk = ${bigint('clientPk')} and used_at is null and ${liveGrant('refresh_tokens')}
        returning access_jti
      ),
      revoked as (
        update access_tokens set revoked_at = ${bigint('now')} where jti in (select access_jti from old) and revoked_at is null
      ),
      access as (
        insert into access_tokens (jti, grant_id, client_pk, issued_at, expires_at)
        select ${text('jti')}, ${text('accessGrantId')}, ${bigint('accessClientPk')}, ${bigint('issuedAt')}, ${bigint('accessExpiresAt')} from old
      ),
      refresh as (
        insert into refresh_tokens (token_hash, grant_id, client_pk, scope, access_jti, created_at, expires_at)
        select ${text('tokenHash')}, ${text('refreshGrantId')}, ${bigint('refreshClientPk')}, ${text('scope')}, ${text('refreshAccessJti')}, ${bigint('createdAt')}, ${bigint('refreshExpiresAt')} from old
      ),
      extended as (
        update grants set expires_at = ${bigint('grantExpiresAt')}
        where id = ${text('accessGrantId')} and expires_at < ${bigint('grantExpiresAt')} and exists (select 1 from old)
      )
      select count(*)::int as rotated from old`;
    return { compile: () => statement.compile(db) };
  });
}
