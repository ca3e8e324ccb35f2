/**
 * `grantry start` as a real process: it listens, serves, accepts users and clients created by
 * the other CLI commands, and exits 0 on SIGTERM / SIGINT.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { TestBrowser } from '../helpers/browser.js';
import { apiGet, obtainCode, tokenRequest } from '../helpers/oauth.js';
import { type DataDir, freshDataDir } from '../helpers/server.js';
import { CliProcess, cliEnv, expectFailure, okJson, runCli } from './run.js';

const LISTENING = /^Grantry listening on (http:\/\/127\.0\.0\.1:(\d+)) \(public URL [^)]+\)$/m;

describe.each(BACKENDS)('grantry start (%s)', (backend) => {
  let data: DataDir;
  let env: Record<string, string>;

  beforeAll(async () => {
    data = await freshDataDir(backend, 'grantry-cli-start-');
    env = cliEnv(data.dir, data.databaseUrl, { PORT: '0' });
  });
  afterAll(() => data?.remove());

  it('serves the authorization code flow for a user and client created with the CLI, then stops on SIGTERM with exit 0', async () => {
    const password = 'operator-chosen-1';
    // Management commands never create the database: migrate does (start would too).
    expect((await runCli(['migrate'], env)).code).toBe(0);
    const user = okJson(await runCli(['user', 'create', '--side', 'backoffice', '--username', 'ops', '--email', 'ops@example.com', '--json'], env, `${password}\n`));
    const client = okJson(
      await runCli(['client', 'create', '--side', 'backoffice', '--name', 'Console', '--type', 'confidential', '--grant', 'authorization_code', '--redirect-uri', 'https://console.example/cb', '--skip-consent', '--json'], env),
    );

    const server = new CliProcess(['start'], env);
    try {
      const [, url, port] = await server.waitFor(LISTENING);
      expect(Number(port)).toBeGreaterThan(0);
      await server.waitFor(/^  token endpoint +http:\/\/localhost:0\/oauth2-token$/m); // the last line of the banner
      // The banner names the database, a PostgreSQL password masked (test URLs have none).
      const database = backend === 'sqlite' ? `SQLite database ${data.dir}/grantry.sqlite` : `PostgreSQL database ${data.databaseUrl}`;
      expect(server.stdout).toContain(`\n  database               ${database}\n`);
      expect(server.stdout).toContain('\n             console   http://localhost:0/admin/console\n');
      expect(server.stdout).toContain('\n             OpenID    http://localhost:0/admin/.well-known/openid-configuration\n');
      expect(server.stdout).toContain('\n             OpenID    http://localhost:0/.well-known/openid-configuration\n');
      // The database already has a back-office user, so no admin is created and no password printed.
      expect(server.stdout).not.toContain('Created back-office admin');

      const authorize = await fetch(`${url}/oauth2-token/authorize`);
      expect(authorize.status).toBe(400);
      expect(authorize.headers.get('content-type')).toMatch(/^text\/html/);
      await authorize.text();

      const browser = new TestBrowser(url as string);
      const code = await obtainCode(browser, 'backoffice', { response_type: 'code', client_id: client.client_id, redirect_uri: 'https://console.example/cb', state: 'cli' }, { login: 'ops', password, decision: 'expect-none' });
      const token = await tokenRequest(url as string, { grant_type: 'authorization_code', client_id: client.client_id, client_secret: client.client_secret, redirect_uri: 'https://console.example/cb', code });
      expect(token.status, JSON.stringify(token.json)).toBe(200);
      const accessToken = token.json.access_token as string;
      expect((await apiGet(url as string, '/admin/api/users', accessToken)).status).toBe(200);

      // Disabling the user from the CLI, while the server runs, revokes their token's use at once.
      expect(okJson(await runCli(['user', 'disable', '--side', 'backoffice', String(user.id), '--json'], env))).toMatchObject({ enabled: false });
      expect((await apiGet(url as string, '/admin/api/users', accessToken)).status).toBe(401);

      server.child.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(server.stdout).toMatch(/Received SIGTERM, shutting down\.\.\.\nStopped\.\n$/);
      expect(server.stderr).toBe('');
    } finally {
      server.kill();
    }
  });
});

describe('grantry start on an empty database', () => {
  it('creates the first admin and prints its password once; --json prints one object and logs to stderr; SIGINT exits 0', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'grantry-cli-start-'));
    const env = cliEnv(dir, undefined, { PORT: '0', PUBLIC_URL: 'https://login.example' });
    const server = new CliProcess(['start', '--json'], env);
    try {
      await server.waitFor(/^\{.*\}\n/);
      // The banner goes to stderr with --json; its last line is the token endpoint.
      await server.waitFor(/^  token endpoint +https:\/\/login\.example\/oauth2-token$/m, 'stderr');
      const json = JSON.parse(server.stdout) as Record<string, unknown>;
      expect(json).toEqual({
        url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        public_url: 'https://login.example',
        sides: [
          { name: 'backoffice', issuer: 'https://login.example/admin', authorize_url: 'https://login.example/admin/oauth2-token/authorize', login_url: 'https://login.example/admin/oauth2-token/login', api_url: 'https://login.example/admin/api' },
          { name: 'storefront', issuer: 'https://login.example', authorize_url: 'https://login.example/oauth2-token/authorize', login_url: 'https://login.example/oauth2-token/login', api_url: 'https://login.example/api' },
        ],
      });
      expect(server.stderr).toMatch(/^Generated a RS256 signing key in .*signing-key\.rs256\.pem \(mode 0600\)\.$/m);
      expect(server.stderr).toContain('Created back-office admin "admin".');
      const password = /shown only this once: (\S+)$/m.exec(server.stderr)?.[1];
      expect(password).toBeTruthy();

      // The printed password is the admin's: signing in with it works.
      const browser = new TestBrowser(json.url as string);
      const page = await browser.get('/admin/oauth2-token/login');
      const csrf = /name="csrf_token"[^>]*value="([^"]*)"/.exec(page.body)?.[1] ?? '';
      const login = await browser.post('/admin/oauth2-token/login', { csrf_token: csrf, login: 'admin', password: password as string });
      expect(login.status).toBe(303);

      server.child.kill('SIGINT');
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(server.stdout.trim().split('\n')).toHaveLength(1);
      expect(server.stderr).toContain('Received SIGINT, shutting down...');
    } finally {
      server.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start with a GRANTRY_ADMIN_PASSWORD the password policy refuses, creating no admin', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'grantry-cli-start-'));
    try {
      const common = await runCli(['start'], cliEnv(dir, undefined, { PORT: '0', GRANTRY_ADMIN_PASSWORD: 'Password1234' }));
      expectFailure(common, 1, 'grantry: this password is too common; choose another');
      const short = await runCli(['start'], cliEnv(dir, undefined, { PORT: '0', GRANTRY_ADMIN_PASSWORD: 'v8#kT2!mq9Zx', GRANTRY_PASSWORD_MIN_LENGTH: '13' }));
      expectFailure(short, 1, 'grantry: the password must have at least 13 characters');
      expect(okJson(await runCli(['user', 'list', '--side', 'backoffice', '--json'], cliEnv(dir, undefined)))).toMatchObject({ users: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
