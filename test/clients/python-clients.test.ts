/**
 * Third-party clients against a real server: Debian's python3-authlib and
 * python3-requests-oauthlib run the authorization code flow with sessions created WITHOUT a
 * redirect URI, relying on the client's single registered URI, so their token requests carry
 * no redirect_uri (RFC 6749 §4.1.3 allows that when the authorization request had none).
 * The libraries build the authorize URL and do the code exchange; the login and consent pages
 * are driven over HTTP by the test's browser. Runs under /usr/bin/python3 (not a python3 of
 * some virtualenv first on PATH); CI installs the packages, and under CI=true (or
 * GRANTRY_REQUIRE_PYTHON_CLIENTS=1, which .ci/run sets) their absence fails the run.
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { BACKENDS } from '../helpers/backends.js';
import type { TestServer } from '../helpers/server.js';
import { apiGet, authorizePath, runAuthorize } from '../helpers/oauth.js';
import { API_PATH, SIDES, type SideUser, startServerWithSideUsers, type TestClient } from '../helpers/tokens.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'code_exchange.py');
const PACKAGES = 'apt-get install -y python3-authlib python3-requests-oauthlib';

const probe = spawnSync(PYTHON, ['-c', 'import authlib, requests_oauthlib'], { encoding: 'utf8' });
const available = probe.status === 0;
if (!available) {
  const why = probe.error ? `${PYTHON} not found` : `${PYTHON} cannot import authlib and requests_oauthlib`;
  const message = `Python client tests not run: ${why} (${PACKAGES}).`;
  if (process.env.CI === 'true' || process.env.GRANTRY_REQUIRE_PYTHON_CLIENTS === '1') throw new Error(`Required by CI=true or GRANTRY_REQUIRE_PYTHON_CLIENTS=1, but ${message}`);
  process.stderr.write(`\n${message}\n`);
}

type Library = 'authlib' | 'requests-oauthlib';

/**
 * Runs code_exchange.py: the library prints its authorization URL, the user signs in and
 * approves in `user`'s browser, the library gets the callback URL and exchanges the code.
 */
async function runPythonClient(server: TestServer, library: Library, user: SideUser, client: TestClient): Promise<{ authorizationUrl: URL; landed: URL; token: Record<string, unknown> }> {
  const child = spawn(PYTHON, [SCRIPT, library, server.url + authorizePath(user.side), `${server.url}/oauth2-token`], {
    env: { PATH: process.env.PATH ?? '', CLIENT_ID: client.clientId, CLIENT_SECRET: client.clientSecret ?? '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (what: string): Promise<Record<string, unknown>> => {
    const line = await lines.next();
    if (line.done) throw new Error(`${library} exited (${await exited}) before printing ${what}: ${stderr}`);
    return JSON.parse(line.value) as Record<string, unknown>;
  };
  try {
    const authorizationUrl = new URL((await next('the authorization URL')).authorization_url as string);
    const landed = await runAuthorize(user.browser, user.side, Object.fromEntries(authorizationUrl.searchParams), { login: user.login, password: user.password });
    child.stdin.end(`${landed.href}\n`);
    const token = (await next('the token')).token as Record<string, unknown>;
    expect(await exited).toBe(0);
    return { authorizationUrl, landed, token };
  } finally {
    child.kill();
  }
}

describe.runIf(available).each(BACKENDS)('third-party Python clients without a redirect URI (%s)', (backend) => {
  let server: TestServer;
  let users: Record<SideName, SideUser>;

  beforeAll(async () => {
    ({ server, users } = await startServerWithSideUsers(backend));
  });
  afterAll(() => server?.close());

  describe.each(SIDES)('%s', (side) => {
    it.each([
      ['authlib', 'confidential'],
      ['authlib', 'public'],
      ['requests-oauthlib', 'confidential'],
    ] as const)('%s, %s client: the code exchange succeeds and the token works at the API', async (library, type) => {
      const client = await server.createClient({ side, type });
      const { authorizationUrl, landed, token } = await runPythonClient(server, library, users[side], client);
      // The library really sent no redirect_uri at authorize (so none at the token endpoint
      // either), and the code went to the single registered URI.
      expect(authorizationUrl.searchParams.has('redirect_uri')).toBe(false);
      expect(`${landed.origin}${landed.pathname}`).toBe(client.redirectUri);
      expect(authorizationUrl.searchParams.get('client_id')).toBe(client.clientId);
      expect(token).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
      expect(typeof token.access_token).toBe('string');
      const api = await apiGet(server.url, API_PATH[side], token.access_token as string);
      expect(api.status).toBe(200);
    });
  });
});
