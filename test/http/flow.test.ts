import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { TestBrowser } from '../helpers/browser.js';
import { apiGet, obtainCode, pkcePair, tokenRequest } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe.each(BACKENDS)('full authorization code flow (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  it('back office, confidential client, JSON body: code → token → GET /admin/api/users', async () => {
    const user = await server.createBackofficeUser('alice');
    const client = await server.createClient({ side: 'backoffice' });
    const browser = new TestBrowser(server.url);
    const code = await obtainCode(browser, 'backoffice', { response_type: 'code', client_id: client.clientId, state: 's1' }, { login: user.username, password: user.password });
    const token = await tokenRequest(server.url, {
      grant_type: 'authorization_code',
      client_id: client.clientId,
      client_secret: client.clientSecret,
      redirect_uri: client.redirectUri,
      code,
    });
    expect(token.status).toBe(200);
    expect(token.headers.get('cache-control')).toBe('no-store');
    expect(token.json).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(typeof token.json.access_token).toBe('string');
    const users = await apiGet(server.url, '/admin/api/users', token.json.access_token as string);
    expect(users.status).toBe(200);
    expect(users.headers.get('content-type')).toBe('application/vnd.api+json');
    const usernames = (users.json.data as Array<{ attributes: { username: string } }>).map((u) => u.attributes.username);
    expect(usernames).toContain('alice');
  });

  it('storefront, public client with S256, form body: code → token → GET /api/customerusers/mine', async () => {
    const customer = await server.createCustomerUser('bob@example.com');
    const client = await server.createClient({ side: 'storefront', type: 'public' });
    const { verifier, challenge } = pkcePair();
    const browser = new TestBrowser(server.url);
    const code = await obtainCode(
      browser,
      'storefront',
      { response_type: 'code', client_id: client.clientId, code_challenge: challenge, code_challenge_method: 'S256' },
      { login: customer.email, password: customer.password },
    );
    const token = await tokenRequest(
      server.url,
      { grant_type: 'authorization_code', client_id: client.clientId, redirect_uri: client.redirectUri, code, code_verifier: verifier },
      { format: 'form' },
    );
    expect(token.status).toBe(200);
    const mine = await apiGet(server.url, '/api/customerusers/mine', token.json.access_token as string);
    expect(mine.status).toBe(200);
    expect(mine.json).toMatchObject({ data: { type: 'customerusers', id: String(customer.id), attributes: { email: 'bob@example.com' } } });
  });
});
