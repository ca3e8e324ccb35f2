import type { Kysely } from 'kysely';
import { KyselyAuditRepository } from './kysely/audit.js';
import { KyselyConsentRepository } from './kysely/consents.js';
import { KyselyCleanupRepository } from './kysely/cleanup.js';
import { KyselyClientRepository } from './kysely/clients.js';
import { KyselyGrantRepository } from './kysely/grants.js';
import { KyselyRefreshTokenRepository } from './kysely/refresh-tokens.js';
import { KyselySessionRepository } from './kysely/sessions.js';
import { KyselySigningKeyRepository } from './kysely/signing-keys.js';
import { KyselyThrottleRepository } from './kysely/throttle.js';
import { KyselyUserRepository } from './kysely/users.js';
import type { ChangeStamp } from './kysely/unchanged-reads.js';
import type { Repositories } from './repositories.js';
import type { Database } from './schema.js';

export interface RepositoryOptions {
  /** Seconds of the brute-force window: the cleanup deletes failed attempts older than that. */
  bruteForceWindow?: number;
  /** Seconds of the refresh grace period: the cleanup wipes sealed replacement pairs older than that. */
  refreshGracePeriod?: number;
  /** Seconds of the audit retention: the cleanup deletes older audit events. */
  auditRetention?: number;
  /** The database's change stamp, when it has one (SQLite): the hot reads keep their answers while it stands. */
  changeStamp?: ChangeStamp;
}

/** Without options, failed attempts are kept for the longest window the configuration allows. */
export function createRepositories(db: Kysely<Database>, options: RepositoryOptions = {}): Repositories {
  const users = new KyselyUserRepository(db, options.changeStamp);
  return {
    clients: new KyselyClientRepository(db),
    users,
    grants: new KyselyGrantRepository(db, options.changeStamp),
    sessions: new KyselySessionRepository(db, users),
    refreshTokens: new KyselyRefreshTokenRepository(db),
    signingKeys: new KyselySigningKeyRepository(db),
    cleanup: new KyselyCleanupRepository(db, options.bruteForceWindow ?? 86400, options.refreshGracePeriod ?? 0, options.auditRetention ?? 90 * 86400),
    throttle: new KyselyThrottleRepository(db),
    audit: new KyselyAuditRepository(db),
    consents: new KyselyConsentRepository(db),
  };
}
