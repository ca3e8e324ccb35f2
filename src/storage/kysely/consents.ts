import type { Kysely } from 'kysely';
import type { SideName } from '../../oauth/sides.js';
import type { ConsentRepository } from '../repositories.js';
import type { Database } from '../schema.js';

const now = () => Math.floor(Date.now() / 1000);
const scopeList = (scope: string) => scope.split(' ').filter((s) => s !== '');

export class KyselyConsentRepository implements ConsentRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async find(side: SideName, userId: number, clientPk: number): Promise<string[] | undefined> {
    const scope = await this.storedScope(side, userId, clientPk);
    return scope === undefined ? undefined : scopeList(scope);
  }

  async listForUser(side: SideName, userId: number) {
    // consents_user_client_unique starts with (side, user_id): an index range, not a scan.
    const rows = await this.db.selectFrom('consents').select(['client_pk', 'scope', 'created_at']).where('side', '=', side).where('user_id', '=', userId).execute();
    return rows.map((row) => ({ clientPk: row.client_pk, scopes: scopeList(row.scope), createdAt: row.created_at }));
  }

  async delete(side: SideName, userId: number, clientPk: number): Promise<boolean> {
    const result = await this.db.deleteFrom('consents').where('side', '=', side).where('user_id', '=', userId).where('client_pk', '=', clientPk).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** The scope column as stored, for the compare-and-set of record(). */
  private async storedScope(side: SideName, userId: number, clientPk: number): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('consents')
      .select('scope')
      .where('side', '=', side)
      .where('user_id', '=', userId)
      .where('client_pk', '=', clientPk)
      .executeTakeFirst();
    return row?.scope;
  }

  /**
   * The row is created if missing, then widened by a compare-and-set on its scope, retried when
   * a concurrent "Allow" changed it in between, so neither loses the other's scopes.
   */
  async record(side: SideName, userId: number, clientPk: number, scopes: string[]): Promise<void> {
    const at = now();
    await this.db
      .insertInto('consents')
      .values({ side, user_id: userId, client_pk: clientPk, scope: '', created_at: at, updated_at: at })
      .onConflict((oc) => oc.columns(['side', 'user_id', 'client_pk']).doNothing())
      .execute();
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const stored = await this.storedScope(side, userId, clientPk);
      if (stored === undefined) return; // the client or user was deleted meanwhile
      const union = [...new Set([...scopeList(stored), ...scopes])].join(' ');
      const result = await this.db
        .updateTable('consents')
        .set({ scope: union, updated_at: now() })
        .where('side', '=', side)
        .where('user_id', '=', userId)
        .where('client_pk', '=', clientPk)
        .where('scope', '=', stored)
        .executeTakeFirst();
      if (result.numUpdatedRows > 0n) return;
    }
    throw new Error('could not record the consent: too many concurrent changes');
  }
}
