/**
 * The composition root: configuration + storage + protocol core, without HTTP. The server,
 * the CLI and the tests all start from createGrantry().
 */
import type { Config } from './config/index.js';
import { AccountManager } from './management/account.js';
import { AuditTrail } from './management/audit.js';
import { ClientManager } from './management/clients.js';
import { UserManager } from './management/users.js';
import { AccessTokenService } from './oauth/access-tokens.js';
import { AuthorizationCodeIssuer } from './oauth/authorization-codes.js';
import { AuthorizationCodeGrant } from './oauth/grants/authorization-code.js';
import { ClientCredentialsGrant } from './oauth/grants/client-credentials.js';
import type { GrantHandler } from './oauth/grants/grant.js';
import { PasswordGrant } from './oauth/grants/password.js';
import { RefreshTokenGrant } from './oauth/grants/refresh-token.js';
import { Introspection } from './oauth/introspection.js';
import { KeyRing } from './oauth/key-ring.js';
import { IdTokenService } from './oauth/oidc/id-tokens.js';
import { SubjectIdentifiers } from './oauth/oidc/subjects.js';
import { UserInfo } from './oauth/oidc/userinfo.js';
import { loadOrCreateSigningKey } from './oauth/keys.js';
import { Revocation } from './oauth/revocation.js';
import { ScopePolicy } from './oauth/scopes.js';
import { SideRegistry } from './oauth/sides.js';
import { TokenEndpoint } from './oauth/token-endpoint.js';
import { TokenIssuer } from './oauth/token-issuer.js';
import { Sealer } from './security/encryption.js';
import { findSecret, loadExistingSecret, loadOrCreateSecret } from './security/server-secret.js';
import { setSigningProcesses } from './security/signing-thread.js';
import { Throttle } from './security/throttle.js';
import { SecretHasher } from './security/tokens.js';
import { missingDatabaseOf, notGrantryDatabase, openDatabase, type OpenDatabase, type QueryObserver } from './storage/database.js';
import { createRepositories } from './storage/index.js';
import { hasGrantrySchema, migrateToLatest } from './storage/migrations/index.js';
import type { Repositories } from './storage/repositories.js';
import { Metrics } from './observability/metrics.js';

export interface Grantry {
  config: Config;
  database: OpenDatabase;
  repos: Repositories;
  sides: SideRegistry;
  scopes: ScopePolicy;
  hasher: SecretHasher;
  keys: KeyRing;
  /** True when this start generated the seed signing key file. */
  signingKeyCreated: boolean;
  accessTokens: AccessTokenService;
  /** OpenID Connect: ID tokens (and id_token_hint checks) and the users' subject identifiers. */
  idTokens: IdTokenService;
  subjects: SubjectIdentifiers;
  userInfo: UserInfo;
  codes: AuthorizationCodeIssuer;
  tokenEndpoint: TokenEndpoint;
  revocation: Revocation;
  introspection: Introspection;
  /** Brute-force protection of passwords and client secrets, shared through the database. */
  throttle: Throttle;
  users: UserManager;
  clients: ClientManager;
  /** Self-service of the signed-in user: authorized applications, password. */
  account: AccountManager;
  /** Every security-relevant event; the server sends it to its logger too (audit.logTo). */
  audit: AuditTrail;
  /** This process's Prometheus metrics (served by the metrics listener, when metrics_port is set). */
  metrics: Metrics;
  close(): Promise<void>;
}

export interface CreateOptions {
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  /**
   * Whether a missing database, server secret and seed signing key may be created: true for the
   * server (default). False for commands that manage an existing deployment: they use the
   * server's database and secret or fail with a MissingDatabaseError or ConfigError, instead of
   * creating a new, empty deployment the server never reads. Pending migrations are still
   * applied to an existing Grantry database, as a starting server would.
   */
  initialise?: boolean;
}

/**
 * Opens the database and finds its server secret, which keys every hash it stores and seals its
 * signing keys. The database is asked first: a command pointed at the wrong place names it and
 * leaves no trace, and a database Grantry has set up must come with the secret it was set up
 * with (configured or in the data folder), since a new one would verify nothing stored there.
 * Only a new database, with `initialise` (start, migrate), gets a new secret, and only once it
 * has answered. A database that is not there is a MissingDatabaseError; other failures are
 * thrown as they are, with the database closed.
 */
export async function openWithSecret(
  config: Config,
  { initialise, onQuery }: { initialise: boolean; onQuery?: QueryObserver },
): Promise<{ database: OpenDatabase; secret: string }> {
  // A bad secret file stops start and migrate before they create a SQLite file for it.
  const found = initialise ? findSecret(config.secret, config.dataDir) : undefined;
  const database = openDatabase(config.databaseUrl, { mustExist: !initialise, poolSize: config.databasePoolSize, onQuery });
  try {
    const setUp = await hasGrantrySchema(database.db).catch((e: unknown) => {
      throw missingDatabaseOf(e, config.databaseUrl) ?? e;
    });
    if (!setUp && !initialise) throw notGrantryDatabase(config.databaseUrl);
    // Looked for again: another process starting on the same new database may have just made it.
    const secret = found ?? (setUp ? loadExistingSecret(config.secret, config.dataDir) : loadOrCreateSecret(config.secret, config.dataDir));
    return { database, secret };
  } catch (e) {
    await database.close();
    throw e;
  }
}

export async function createGrantry(config: Config, options: CreateOptions = {}): Promise<Grantry> {
  const initialise = options.initialise !== false;
  // One signing thread per core the server processes' event loops leave.
  setSigningProcesses(config.workers);
  const metrics = new Metrics(config);
  const { database, secret } = await openWithSecret(config, { initialise, onQuery: metrics.queryObserver });
  metrics.observeDatabase(database, config.databasePoolSize);
  try {
    if (options.migrate !== false) await migrateToLatest(database.db, database.dialect);
  } catch (e) {
    await database.close();
    throw e;
  }
  const repos = createRepositories(database.db, { bruteForceWindow: config.bruteForceWindow, refreshGracePeriod: config.refreshGracePeriod, auditRetention: config.auditRetention * 86400, changeStamp: database.changeStamp });
  const audit = new AuditTrail(repos.audit);
  // Every protocol event (token endpoint, login form, grants) and management action passes
  // the audit trail once: the metrics count them there, and nowhere else.
  audit.observe((event) => metrics.countEvent(event));
  const sides = new SideRegistry(config);
  const scopes = new ScopePolicy(config.scopes, config.defaultScope);
  const hasher = new SecretHasher(secret);
  const throttle = new Throttle(repos.throttle, hasher, {
    maxFailures: config.bruteForceMaxFailures,
    window: config.bruteForceWindow,
    guestAuthorizations: config.guestMaxAuthorizations,
  });

  // Keys live in the database; the configured (or generated) key only seeds an empty one.
  const keys = new KeyRing(repos.signingKeys, new Sealer(secret, 'signing-keys'), config.accessTokenTtl);
  let signingKeyCreated = false;
  try {
    // Only a starting server seeds an empty key table: a management command just reads the keys
    // (keys rotate adds one to an empty table; nothing else needs them).
    if (!initialise) await keys.load();
    else {
      await keys.initialize(() => {
        const seed = loadOrCreateSigningKey({ pem: config.signingKey, file: config.signingKeyFile, alg: config.signingAlgorithm });
        signingKeyCreated = seed.created;
        return seed;
      });
    }
  } catch (e) {
    await database.close();
    throw e;
  }

  metrics.observeSigningKeys(keys);

  const accessTokens = new AccessTokenService(keys, repos.grants, config.accessTokenTtl);
  const subjects = new SubjectIdentifiers(hasher);
  const idTokens = new IdTokenService(keys, subjects, repos.users, config.accessTokenTtl);
  const issuer = new TokenIssuer(accessTokens, repos.grants, repos.refreshTokens, hasher, sides, config.refreshTokenTtl, idTokens, subjects, config.timeOrderedTokens);
  const codes = new AuthorizationCodeIssuer(repos.grants, hasher, config.authorizationCodeTtl, config.timeOrderedTokens);
  const grants: GrantHandler[] = [
    new AuthorizationCodeGrant(repos.grants, repos.users, hasher, issuer),
    new RefreshTokenGrant(repos.refreshTokens, repos.grants, repos.users, issuer, new Sealer(secret, 'refresh-replacement'), config.refreshGracePeriod),
    new ClientCredentialsGrant(repos.users, issuer, scopes),
  ];
  // Legacy and off by default (RFC 9700 §2.4): without the setting, grant_type=password is unsupported.
  if (config.passwordGrantEnabled) grants.push(new PasswordGrant(repos.users, issuer, scopes, throttle));
  const users = new UserManager(repos.users, repos.sessions, repos.grants, throttle, audit, config.passwordMinLength);
  return {
    config,
    database,
    repos,
    sides,
    scopes,
    hasher,
    keys,
    signingKeyCreated,
    accessTokens,
    idTokens,
    subjects,
    userInfo: new UserInfo(accessTokens, repos.grants, idTokens),
    codes,
    tokenEndpoint: new TokenEndpoint(repos.clients, hasher, sides, grants, throttle, audit),
    revocation: new Revocation(accessTokens, repos.grants, issuer, audit),
    introspection: new Introspection(accessTokens, repos.clients, repos.users, issuer, sides),
    throttle,
    users,
    clients: new ClientManager(repos.clients, users, hasher, scopes, repos.grants, audit),
    account: new AccountManager(repos, throttle, audit, config.passwordMinLength),
    audit,
    metrics,
    async close() {
      keys.stop();
      // Buffered audit events are written before the database goes.
      await audit.close();
      await database.close();
    },
  };
}
