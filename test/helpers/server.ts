/**
 * A real Grantry listening on a random port, on a fresh SQLite file or a fresh PostgreSQL
 * database, plus helpers to create users and clients and to drive the browser side.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { type Config, loadConfig } from '../../src/config/index.js';
import type { NewClientInput } from '../../src/management/clients.js';
import type { SideName } from '../../src/oauth/sides.js';
import { type RunningServer, startServer } from '../../src/server.js';
import type { Backend } from './backends.js';
import { CLI } from '../../src/management/principal.js';

export const PUBLIC_URL = 'http://grantry.test';
/** Known scopes of test servers; test clients may have them all unless a test says otherwise. */
export const TEST_SCOPES = { api: 'Use the API on your behalf', read: 'Read your data', write: 'Change your data', profile: 'See your profile', 'orders:read': 'See your orders' };
export const ADMIN_PASSWORD = 'admin-password-1';
/** The one redirect URI of a test client created without redirectUris. */
export const DEFAULT_REDIRECT_URI = 'https://app.example/callback';

/** A port free at this moment, for a listener a test starts later (a metrics listener, a node). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Creates an empty PostgreSQL database and returns its URL and a function that drops it. */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = inject('postgresUrl');
  if (!adminUrl) throw new Error('PostgreSQL is not available for this run');
  const name = `grantry_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A fresh database URL for `backend` in `dir`, with its cleanup. */
export async function freshDatabase(backend: Backend, dir: string): Promise<{ url: string; drop: () => Promise<void> }> {
  if (backend === 'sqlite') return { url: `sqlite:${path.join(dir, 'grantry.sqlite')}`, drop: async () => {} };
  return createPostgresDatabase();
}

export interface DataDir {
  dir: string;
  databaseUrl: string;
  /** Drops the database and deletes the folder. */
  remove(): Promise<void>;
}

/** A new temporary data folder (named `prefix`…) with a fresh database for `backend`. */
export async function freshDataDir(backend: Backend, prefix: string): Promise<DataDir> {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  try {
    database = await freshDatabase(backend, dir);
  } catch (e) {
    removeDir();
    throw e;
  }
  return {
    dir,
    databaseUrl: database.url,
    async remove() {
      await database.drop();
      removeDir();
    },
  };
}

/**
 * The seed signing key of test servers that choose none: the run's one RSA key (global setup).
 * Generating a 2048-bit key takes about a quarter of a second of CPU, and the suite starts some
 * two hundred servers; tests of key generation (signingKey: undefined) and of other algorithms
 * set their own.
 */
function seedKeyUnlessChosen(overrides: Partial<Config>): Partial<Config> {
  if ('signingAlgorithm' in overrides || 'signingKey' in overrides || 'signingKeyFile' in overrides) return {};
  return { signingKey: inject('testSigningKey') };
}

/** The configuration of an in-process test server on `databaseUrl`, with `dir` as its data folder. */
export function testConfig(dir: string, databaseUrl: string, overrides: Partial<Config> = {}): Config {
  return loadConfig({
    env: {},
    overrides: { port: 0, host: '127.0.0.1', publicUrl: PUBLIC_URL, dataDir: dir, databaseUrl, logLevel: 'silent', adminPassword: ADMIN_PASSWORD, ...seedKeyUnlessChosen(overrides), ...overrides },
  });
}

export interface TestServer extends RunningServer {
  config: Config;
  backend: Backend;
  dir: string;
  createBackofficeUser(username: string, password?: string, options?: { isAdmin?: boolean }): Promise<{ id: number; username: string; password: string }>;
  createCustomerUser(email: string, password?: string): Promise<{ id: number; email: string; password: string }>;
  createClient(input: Partial<NewClientInput> & { side: SideName }): Promise<{ clientId: string; clientSecret: string | undefined; redirectUri: string }>;
}

export async function startTestServer(backend: Backend, overrides: Partial<Config> = {}): Promise<TestServer> {
  const data = await freshDataDir(backend, 'grantry-test-');
  const config = testConfig(data.dir, data.databaseUrl, {
    scopes: TEST_SCOPES,
    // The production default: a request without scope gets api, which Grantry's own API takes
    // (tests of scope defaults set their own).
    defaultScope: 'api',
    ...overrides,
  });
  const server = await startServer(config, () => {});
  let clientCount = 0;
  return {
    ...server,
    config,
    backend,
    dir: data.dir,
    async close() {
      await server.close();
      await data.remove();
    },
    async createBackofficeUser(username, password = 'correct-horse-1', options = {}) {
      const user = await server.grantry.users.createBackofficeUser(CLI, { username, email: `${username}@example.com`, password, isAdmin: options.isAdmin });
      return { id: user.id, username, password };
    },
    async createCustomerUser(email, password = 'correct-horse-2') {
      const user = await server.grantry.users.createCustomerUser(CLI, { email, password, firstName: 'Test', lastName: 'Customer' });
      return { id: user.id, email, password };
    },
    async createClient(input) {
      clientCount += 1;
      const redirectUris = input.redirectUris ?? [DEFAULT_REDIRECT_URI];
      const { client, clientSecret } = await server.grantry.clients.create(CLI, {
        name: `Test client ${clientCount}`,
        type: 'confidential',
        grants: ['authorization_code'],
        redirectUris,
        // The API's catch-all scope (always known) and the server's own scopes.
        scopes: [...new Set(['api', ...Object.keys(config.scopes)])],
        ...input,
      });
      return { clientId: client.clientId, clientSecret, redirectUri: redirectUris[0] as string };
    },
  };
}
