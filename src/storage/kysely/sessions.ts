import type { Kysely } from 'kysely';
import type { SideName } from '../../oauth/sides.js';
import type { Session, SessionRepository, UserRepository } from '../repositories.js';
import type { Database } from '../schema.js';

export class KyselySessionRepository implements SessionRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly users: UserRepository,
  ) {}

  async create(idHash: string, session: Omit<Session, 'createdAt'>, now: number): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({ id_hash: idHash, side: session.side, user_id: session.userId, created_at: now, expires_at: session.expiresAt })
      .execute();
  }

  async find(idHash: string, now: number): Promise<Session | undefined> {
    const row = await this.db
      .selectFrom('sessions')
      .select(['side', 'user_id', 'expires_at', 'created_at'])
      .where('id_hash', '=', idHash)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (!row) return undefined;
    const side = row.side as SideName;
    // A user disabled or locked after signing in loses the session at once.
    if (!(await this.users.activeAccount(side, row.user_id))) return undefined;
    return { side, userId: row.user_id, expiresAt: row.expires_at, createdAt: row.created_at };
  }

  async delete(idHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
  }

  async deleteForUser(side: SideName, userId: number): Promise<number> {
    const result = await this.db.deleteFrom('sessions').where('side', '=', side).where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async deleteOtherSessions(side: SideName, userId: number, keepIdHash: string): Promise<number> {
    const result = await this.db
      .deleteFrom('sessions')
      .where('side', '=', side)
      .where('user_id', '=', userId)
      .where('id_hash', '<>', keepIdHash)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
