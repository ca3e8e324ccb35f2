/**
 * The composition root: configuration + storage + protocol core, without HTTP. The server,
 * the CLI and the tests all start from createGrantry().
 */
import type { Config } from './config/index.js';
import { ClientManager } from './management/clients.js';
import { UserManager } from './management/users.js';
import { AccessTokenService } from './oauth/access-tokens.js';
import { AuthorizationCodeIssuer } from './oauth/authorization-codes.js';
import { AuthorizationCodeGrant } from './oauth/grants/authorization-code.js';
import { loadOrCreateSigningKey, type SigningKey } from './oauth/keys.js';
import { SideRegistry } from './oauth/sides.js';
import { TokenEndpoint } from './oauth/token-endpoint.js';
import { AccessTokenCodec } from './oauth/tokens.js';
import { loadOrCreateSecret } from './security/server-secret.js';
import { SecretHasher } from './security/tokens.js';
import { openDatabase, type OpenDatabase } from './storage/database.js';
import { createRepositories } from './storage/index.js';
import { migrateToLatest } from './storage/migrations/index.js';
import type { Repositories } from './storage/repositories.js';

export interface Grantry {
  config: Config;
  database: OpenDatabase;
  repos: Repositories;
  sides: SideRegistry;
  hasher: SecretHasher;
  signingKey: SigningKey;
  /** True when this start generated the signing key. */
  signingKeyCreated: boolean;
  accessTokens: AccessTokenService;
  codes: AuthorizationCodeIssuer;
  tokenEndpoint: TokenEndpoint;
  users: UserManager;
  clients: ClientManager;
  close(): Promise<void>;
}

export async function createGrantry(config: Config, options: { migrate?: boolean } = {}): Promise<Grantry> {
  const secret = loadOrCreateSecret(config.secret, config.dataDir);
  const { key: signingKey, created: signingKeyCreated } = loadOrCreateSigningKey({
    pem: config.signingKey,
    file: config.signingKeyFile,
    alg: config.signingAlgorithm,
  });
  const database = openDatabase(config.databaseUrl);
  try {
    if (options.migrate !== false) await migrateToLatest(database.db, database.dialect);
  } catch (e) {
    await database.close();
    throw e;
  }
  const repos = createRepositories(database.db);
  const sides = new SideRegistry(config);
  const hasher = new SecretHasher(secret);
  const accessTokens = new AccessTokenService(new AccessTokenCodec(signingKey), repos.grants, config.accessTokenTtl);
  const codes = new AuthorizationCodeIssuer(repos.grants, hasher, config.authorizationCodeTtl);
  const tokenEndpoint = new TokenEndpoint(repos.clients, hasher, sides, [
    new AuthorizationCodeGrant(repos.grants, repos.users, hasher, accessTokens, sides),
  ]);
  return {
    config,
    database,
    repos,
    sides,
    hasher,
    signingKey,
    signingKeyCreated,
    accessTokens,
    codes,
    tokenEndpoint,
    users: new UserManager(repos.users),
    clients: new ClientManager(repos.clients, hasher),
    close: () => database.close(),
  };
}
