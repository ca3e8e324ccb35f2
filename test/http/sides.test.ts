import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { formField, TestBrowser } from '../helpers/browser.js';
import { apiGet, obtainCode, tokenRequest } from '../helpers/oauth.js';
import { loadConfig } from '../../src/config/index.js';
import { startServer } from '../../src/server.js';
import { ADMIN_PASSWORD, freshDatabase, startTestServer, type TestServer } from '../helpers/server.js';
import { CLI } from '../../src/management/principal.js';

describe.each(BACKENDS)('side layout and first start (%s)', (backend) => {
  describe('storefront disabled: the back office takes the unprefixed paths', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(backend, { storefrontEnabled: false });
    });
    afterAll(() => server?.close());

    it('serves authorize, login and GET /api/users without a prefix, with the base URL as issuer', async () => {
      const client = await server.createClient({ side: 'backoffice', skipConsent: true });
      const location = await unprefixedFlow(server, new TestBrowser(server.url), client.clientId);
      expect(location.searchParams.get('iss')).toBe('http://grantry.test');
      const token = await tokenRequest(server.url, {
        grant_type: 'authorization_code',
        client_id: client.clientId,
        client_secret: client.clientSecret,
        redirect_uri: client.redirectUri,
        code: location.searchParams.get('code') ?? '',
      });
      expect(token.status).toBe(200);
      const payload = JSON.parse(Buffer.from(String(token.json.access_token).split('.')[1] as string, 'base64url').toString());
      expect(payload).toMatchObject({ iss: 'http://grantry.test', aud: 'http://grantry.test/api' });
      const users = await apiGet(server.url, '/api/users', token.json.access_token as string);
      expect(users.status).toBe(200);
      expect((await fetch(`${server.url}/admin/oauth2-token/authorize`)).status).toBe(404);
    });

    it('refuses tokens for storefront clients left in the database', async () => {
      const client = await server.createClient({ side: 'storefront' });
      const token = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: client.clientId, client_secret: client.clientSecret, code: 'x', redirect_uri: client.redirectUri });
      expect(token.status).toBe(401);
      expect(token.json.error).toBe('invalid_client');
    });
  });

  describe('a custom backend prefix', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(backend, { backendPrefix: 'office' });
    });
    afterAll(() => server?.close());

    it('moves the back office under /office and its issuer with it', async () => {
      const client = await server.createClient({ side: 'backoffice', skipConsent: true });
      const browser = new TestBrowser(server.url);
      const response = await browser.get(`/office/oauth2-token/authorize?response_type=code&client_id=${client.clientId}`);
      expect(response.status).toBe(303);
      expect(response.location).toMatch(/^\/office\/oauth2-token\/login\?/);
      expect((await fetch(`${server.url}/admin/oauth2-token/authorize?response_type=code&client_id=${client.clientId}`)).status).toBe(404);
      const unauthorized = await apiGet(server.url, '/office/api/users');
      expect(unauthorized.status).toBe(401);
    });
  });

  describe('first start', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(backend);
    });
    afterAll(() => server?.close());

    it('created the back-office admin with the configured password, once', async () => {
      const admin = await server.grantry.repos.users.findBackofficeUserByLogin('admin');
      expect(admin).toMatchObject({ username: 'admin', isAdmin: true, enabled: true, locked: false });
      const browser = new TestBrowser(server.url);
      const client = await server.createClient({ side: 'backoffice', skipConsent: true });
      const code = await obtainCode(browser, 'backoffice', { response_type: 'code', client_id: client.clientId }, { login: 'admin', password: ADMIN_PASSWORD, decision: 'expect-none' });
      expect(code).toMatch(/^[0-9a-f]{12}[A-Za-z0-9_-]{43}$/);
    });

    it("refuses usernames that could be read as another user's email or id", async () => {
      for (const username of ['someone@example.com', '12345']) {
        await expect(server.grantry.users.createBackofficeUser(CLI, { username, email: 'x@example.com', password: 'long-enough-1' })).rejects.toThrow(/username/);
      }
      expect((await server.grantry.users.createBackofficeUser(CLI, { username: 'r2d2', email: 'r2d2@example.com', password: 'long-enough-1' })).username).toBe('r2d2');
    });

    it('generates and reports a random admin password when none is configured, and not again', async () => {
      const database = await freshDatabase(backend, `${server.dir}/second`);
      const config = loadConfig({ env: {}, overrides: { ...server.config, databaseUrl: database.url, adminPassword: undefined } });
      const lines: string[] = [];
      const first = await startServer(config, (l) => lines.push(l));
      await first.close();
      const printed = lines.find((l) => l.includes('shown only this once'));
      expect(printed).toMatch(/: [A-Za-z0-9_-]{24}$/);
      expect(lines.some((l) => l.includes('/admin/oauth2-token/authorize'))).toBe(true);
      expect(lines.some((l) => l.includes('/oauth2-token'))).toBe(true);
      const again: string[] = [];
      const second = await startServer(config, (l) => again.push(l));
      await second.close();
      expect(again.some((l) => l.includes('shown only this once'))).toBe(false);
      await database.drop();
    });
  });
});

/** The flow on the unprefixed back office: authorize → login → skip consent → code redirect. */
async function unprefixedFlow(server: TestServer, browser: TestBrowser, clientId: string): Promise<URL> {
  const first = await browser.get(`/oauth2-token/authorize?response_type=code&client_id=${clientId}`);
  expect(first.status).toBe(303);
  expect(first.location).toMatch(/^\/oauth2-token\/login\?return_to=%2Foauth2-token%2Fauthorize%3F/);
  const returnTo = new URL(first.location ?? '', server.url).searchParams.get('return_to') ?? '';
  const page = await browser.get(first.location ?? '');
  const login = await browser.post('/oauth2-token/login', { csrf_token: formField(page.body, 'csrf_token') ?? '', login: 'admin', password: ADMIN_PASSWORD, return_to: returnTo });
  expect(login.status).toBe(303);
  const final = await browser.get(login.location ?? '');
  expect(final.status).toBe(302);
  return new URL(final.location ?? '');
}
