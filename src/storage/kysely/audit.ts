import type { Kysely } from 'kysely';
import type { SideName } from '../../oauth/sides.js';
import type { AuditEvent, AuditFilter, AuditRepository, NewAuditEvent, Page } from '../repositories.js';
import type { Database } from '../schema.js';

export class KyselyAuditRepository implements AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(events: NewAuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.db
      .insertInto('audit_events')
      .values(
        events.map((e) => ({
          at: e.at,
          kind: e.kind,
          actor: e.actor,
          address: e.address,
          side: e.side,
          user_id: e.userId,
          client_id: e.clientId,
          details: JSON.stringify(e.details),
        })),
      )
      .execute();
  }

  async list(filter: AuditFilter, offset: number, limit: number): Promise<Page<AuditEvent>> {
    let query = this.db.selectFrom('audit_events');
    if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind);
    if (filter.side !== undefined) query = query.where('side', '=', filter.side);
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    if (filter.clientId !== undefined) query = query.where('client_id', '=', filter.clientId);
    const [rows, count] = await Promise.all([
      // id breaks ties within a second: insertion order.
      query.selectAll().orderBy('at', 'desc').orderBy('id', 'desc').offset(offset).limit(limit).execute(),
      query.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return {
      items: rows.map((r) => ({
        id: r.id,
        at: Number(r.at),
        kind: r.kind,
        actor: r.actor,
        address: r.address,
        side: r.side as SideName | null,
        userId: r.user_id,
        clientId: r.client_id,
        details: JSON.parse(r.details) as AuditEvent['details'],
      })),
      total: Number(count.n),
    };
  }
}
