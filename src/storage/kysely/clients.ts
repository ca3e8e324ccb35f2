import { type Kysely, type Selectable, sql, type Updateable } from 'kysely';
import type { SideName } from '../../oauth/sides.js';
import type { Client, ClientChanges, ClientFilter, ClientRepository, NewClient, Page } from '../repositories.js';
import { likePattern } from './like.js';
import { PreparedQuery } from './prepared.js';
import type { ClientTable, Database } from '../schema.js';

const toClient = (row: Selectable<ClientTable>): Client => ({
  pk: row.id,
  clientId: row.client_id,
  side: row.side as SideName,
  name: row.name,
  type: row.type as Client['type'],
  secretHash: row.secret_hash,
  grants: JSON.parse(row.grants) as Client['grants'],
  redirectUris: JSON.parse(row.redirect_uris) as string[],
  skipConsent: row.skip_consent === 1,
  active: row.active === 1,
  scopes: JSON.parse(row.scopes) as string[],
  ownerUserId: row.owner_user_id,
  allowGuests: row.allow_guests === 1,
  postLogoutRedirectUris: JSON.parse(row.post_logout_redirect_uris) as string[],
  idTokenSignedResponseAlg: row.id_token_signed_response_alg as Client['idTokenSignedResponseAlg'],
  subjectType: row.subject_type as Client['subjectType'],
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  lastUsedAt: row.last_used_at,
});

export class KyselyClientRepository implements ClientRepository {
  // Every token request authenticates its client: compiled once (prepared.ts).
  private readonly byClientId: PreparedQuery<{ clientId: string }, Selectable<ClientTable>>;

  constructor(private readonly db: Kysely<Database>) {
    this.byClientId = new PreparedQuery(db, (d, arg) => d.selectFrom('clients').selectAll().where('client_id', '=', arg('clientId')));
  }

  async create(client: NewClient): Promise<Client> {
    const now = Math.floor(Date.now() / 1000);
    const row = await this.db
      .insertInto('clients')
      .values({
        client_id: client.clientId,
        side: client.side,
        name: client.name,
        type: client.type,
        secret_hash: client.secretHash,
        grants: JSON.stringify(client.grants),
        redirect_uris: JSON.stringify(client.redirectUris),
        skip_consent: client.skipConsent ? 1 : 0,
        active: client.active ? 1 : 0,
        scopes: JSON.stringify(client.scopes),
        owner_user_id: client.ownerUserId,
        allow_guests: client.allowGuests ? 1 : 0,
        post_logout_redirect_uris: JSON.stringify(client.postLogoutRedirectUris ?? []),
        id_token_signed_response_alg: client.idTokenSignedResponseAlg ?? null,
        subject_type: client.subjectType ?? 'public',
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toClient(row);
  }

  async findByClientId(clientId: string): Promise<Client | undefined> {
    const row = await this.byClientId.first(this.db, { clientId });
    return row && toClient(row);
  }

  async findByPk(pk: number): Promise<Client | undefined> {
    const row = await this.db.selectFrom('clients').selectAll().where('id', '=', pk).executeTakeFirst();
    return row && toClient(row);
  }

  async list(side?: SideName): Promise<Client[]> {
    let query = this.db.selectFrom('clients').selectAll().orderBy('id');
    if (side) query = query.where('side', '=', side);
    return (await query.execute()).map(toClient);
  }

  async search(filter: ClientFilter, offset: number, limit: number): Promise<Page<Client>> {
    let query = this.db.selectFrom('clients');
    if (filter.side !== undefined) query = query.where('side', '=', filter.side);
    if (filter.type !== undefined) query = query.where('type', '=', filter.type);
    if (filter.active !== undefined) query = query.where('active', '=', filter.active ? 1 : 0);
    if (filter.ownerUserId !== undefined) query = query.where('owner_user_id', '=', filter.ownerUserId);
    // grants is a JSON array of names: look for the quoted name in it.
    if (filter.grant !== undefined) query = query.where(sql<boolean>`grants like ${likePattern(`"${filter.grant}"`)} escape '\\'`);
    if (filter.search !== undefined && filter.search !== '') {
      // lower() on both sides: PostgreSQL's LIKE is case-sensitive, SQLite's is not for ASCII only.
      const pattern = likePattern(filter.search.toLowerCase());
      query = query.where(sql<boolean>`(lower(name) like ${pattern} escape '\\' or lower(client_id) like ${pattern} escape '\\')`);
    }
    const [rows, count] = await Promise.all([
      query.selectAll().orderBy('id').offset(offset).limit(limit).execute(),
      query.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { items: rows.map(toClient), total: Number(count.n) };
  }

  async setActive(clientId: string, active: boolean): Promise<boolean> {
    const result = await this.db
      .updateTable('clients')
      .set({ active: active ? 1 : 0, updated_at: Math.floor(Date.now() / 1000) })
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async update(clientId: string, changes: ClientChanges): Promise<boolean> {
    const values: Updateable<ClientTable> = { updated_at: Math.floor(Date.now() / 1000) };
    if (changes.name !== undefined) values.name = changes.name;
    if (changes.grants !== undefined) values.grants = JSON.stringify(changes.grants);
    if (changes.redirectUris !== undefined) values.redirect_uris = JSON.stringify(changes.redirectUris);
    if (changes.skipConsent !== undefined) values.skip_consent = changes.skipConsent ? 1 : 0;
    if (changes.scopes !== undefined) values.scopes = JSON.stringify(changes.scopes);
    if (changes.ownerUserId !== undefined) values.owner_user_id = changes.ownerUserId;
    if (changes.allowGuests !== undefined) values.allow_guests = changes.allowGuests ? 1 : 0;
    if (changes.secretHash !== undefined) values.secret_hash = changes.secretHash;
    if (changes.postLogoutRedirectUris !== undefined) values.post_logout_redirect_uris = JSON.stringify(changes.postLogoutRedirectUris);
    if (changes.idTokenSignedResponseAlg !== undefined) values.id_token_signed_response_alg = changes.idTokenSignedResponseAlg;
    if (changes.subjectType !== undefined) values.subject_type = changes.subjectType;
    const result = await this.db.updateTable('clients').set(values).where('client_id', '=', clientId).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async delete(clientId: string): Promise<boolean> {
    // Grants, codes and tokens go with the client through ON DELETE CASCADE.
    const result = await this.db.deleteFrom('clients').where('client_id', '=', clientId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async touchLastUsed(pk: number, at: number): Promise<void> {
    await this.db.updateTable('clients').set({ last_used_at: at }).where('id', '=', pk).execute();
  }
}
