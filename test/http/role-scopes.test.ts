/**
 * The scopes a token carries follow its user's role (src/oauth/api-scopes.ts), on every way a
 * token is issued: the authorization code flow (the signed-in user), client credentials (the
 * client's owner), the password grant and refresh (the user's role now, not at first issue).
 * A request left with no scope its user's role may hold is invalid_scope; the deployment's own
 * scopes are never limited. And a token without the scope an API route needs gets 403
 * insufficient_scope naming it (RFC 6750 §3.1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../../src/management/principal.js';
import { BACKENDS } from '../helpers/backends.js';
import { runAuthorize, tokenRequest } from '../helpers/oauth.js';
import type { TestServer } from '../helpers/server.js';
import { decodeJwt, exchangeCode, expectTokenError, expectTokenSuccess, rawGet, type SideUser, startServerWithSideUsers, type TestClient } from '../helpers/tokens.js';
import { TestBrowser } from '../helpers/browser.js';

const CATALOGUE = ['api', 'users:read', 'users:write', 'applications:read', 'applications:write'];
const scopeOf = (accessToken: string) => decodeJwt(accessToken).payload.scope;

describe.each(BACKENDS)('scopes follow the user role (%s)', (backend) => {
  let server: TestServer;
  let staff: SideUser;
  let customer: SideUser;
  let admin: SideUser;
  let backofficeClient: TestClient;
  let storefrontClient: TestClient;

  beforeAll(async () => {
    let users;
    ({ server, users } = await startServerWithSideUsers(backend, { passwordGrantEnabled: true }));
    staff = users.backoffice;
    customer = users.storefront;
    const created = await server.createBackofficeUser(`boss-${backend}`, 'correct-horse-1', { isAdmin: true });
    admin = { side: 'backoffice', id: created.id, login: created.username, password: created.password, browser: new TestBrowser(server.url) };
    // Registered by the operator with every API scope and the deployment's own "orders:read".
    backofficeClient = await server.createClient({ side: 'backoffice', grants: ['authorization_code', 'refresh_token', 'password'], scopes: [...CATALOGUE, 'orders:read'] });
    storefrontClient = await server.createClient({ side: 'storefront', grants: ['authorization_code'], scopes: ['api', 'users:read', 'users:write', 'orders:read'] });
  });
  afterAll(() => server?.close());

  describe('authorization code flow', () => {
    it('gives an admin every scope asked for', async () => {
      const call = await exchangeCode(admin, backofficeClient, server, { scope: 'users:read users:write applications:write' });
      expect(scopeOf(expectTokenSuccess(call))).toBe('users:read users:write applications:write');
      expect(call.json.scope).toBe('users:read users:write applications:write');
    });

    it('leaves out what a staff user may not hold, and names the scope granted in the token response', async () => {
      const call = await exchangeCode(staff, backofficeClient, server, { scope: 'users:read users:write orders:read' });
      expect(scopeOf(expectTokenSuccess(call))).toBe('users:read orders:read');
      expect(call.json.scope).toBe('users:read orders:read');
    });

    it('answers invalid_scope at the redirect URI when nothing the user may hold is left', async () => {
      const location = await runAuthorize(staff.browser, 'backoffice', { response_type: 'code', client_id: backofficeClient.clientId, scope: 'users:write', state: 's1' }, { login: staff.login, password: staff.password });
      expect(location.origin + location.pathname).toBe(backofficeClient.redirectUri);
      expect(location.searchParams.get('error')).toBe('invalid_scope');
      expect(location.searchParams.get('state')).toBe('s1');
      expect(location.searchParams.get('code')).toBeNull();
    });

    it('gives a customer the scopes of their own account and the deployment\'s own', async () => {
      const client = await server.createClient({ side: 'storefront', grants: ['authorization_code'], scopes: ['api', 'orders:read'] });
      const call = await exchangeCode(customer, client, server, { scope: 'api orders:read' });
      expect(scopeOf(expectTokenSuccess(call))).toBe('api orders:read');
      const own = await exchangeCode(customer, storefrontClient, server, { scope: 'users:read users:write' });
      expect(scopeOf(expectTokenSuccess(own))).toBe('users:read users:write');
    });
  });

  describe('client credentials', () => {
    it('acts as the owner: an admin owner gives admin scopes, and losing the right takes them from the next token', async () => {
      const owner = await server.createBackofficeUser(`owner-${backend}`, 'correct-horse-1', { isAdmin: true });
      const { client, clientSecret } = await server.grantry.clients.create(CLI, {
        side: 'backoffice', name: `pipeline-${backend}`, type: 'confidential', grants: ['client_credentials'], redirectUris: [], scopes: ['users:read', 'users:write'], owner: String(owner.id),
      });
      const ask = () => tokenRequest(server.url, { grant_type: 'client_credentials', client_id: client.clientId, client_secret: clientSecret, scope: 'users:read users:write' });
      expect(scopeOf(expectTokenSuccess(await ask()))).toBe('users:read users:write');

      await server.grantry.users.setAdmin(CLI, String(owner.id), false);
      const after = await ask();
      expect(scopeOf(expectTokenSuccess(after))).toBe('users:read');
      expect(after.json.scope).toBe('users:read');
      const writeOnly = await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: client.clientId, client_secret: clientSecret, scope: 'users:write' });
      expectTokenError(writeOnly, 400, 'invalid_scope');
    });
  });

  describe('password grant and refresh', () => {
    it('limits the password grant to the role, and a refresh after the admin right is gone drops what the role lost', async () => {
      const user = await server.createBackofficeUser(`pw-${backend}`, 'correct-horse-1', { isAdmin: true });
      const first = await tokenRequest(server.url, {
        grant_type: 'password', client_id: backofficeClient.clientId, client_secret: backofficeClient.clientSecret, username: user.username, password: user.password, scope: 'users:read users:write',
      });
      expect(scopeOf(expectTokenSuccess(first))).toBe('users:read users:write');

      await server.grantry.users.setAdmin(CLI, String(user.id), false);
      const refreshed = await tokenRequest(server.url, { grant_type: 'refresh_token', client_id: backofficeClient.clientId, client_secret: backofficeClient.clientSecret, refresh_token: first.json.refresh_token as string });
      expect(scopeOf(expectTokenSuccess(refreshed))).toBe('users:read');
      expect(refreshed.json.scope).toBe('users:read');

      const staffCall = await tokenRequest(server.url, {
        grant_type: 'password', client_id: backofficeClient.clientId, client_secret: backofficeClient.clientSecret, username: user.username, password: user.password, scope: 'applications:read users:write',
      });
      expect(scopeOf(expectTokenSuccess(staffCall))).toBe('applications:read');
    });
  });

  describe('an application acts within its owner\'s role', () => {
    it('an admin\'s token from an application a staff user registered has no admin right', async () => {
      const asStaff = { principal: { kind: 'user' as const, side: 'backoffice' as const, userId: staff.id, isAdmin: false, label: staff.login } };
      const { client, clientSecret } = await server.grantry.clients.create(asStaff, {
        side: 'backoffice', name: `staff-app-${backend}`, type: 'confidential', grants: ['authorization_code'], redirectUris: ['https://staff-app.example/cb'], scopes: ['api'],
      });
      expect(client.ownerUserId).toBe(staff.id);
      const app = { clientId: client.clientId, clientSecret, redirectUri: 'https://staff-app.example/cb' };
      const token = expectTokenSuccess(await exchangeCode(admin, app, server, { scope: 'api' }));
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.api+json' };
      const create = await fetch(`${server.url}/admin/api/users`, {
        method: 'POST', headers, body: JSON.stringify({ data: { type: 'users', attributes: { username: `planted-${backend}`, email: `planted-${backend}@example.com`, password: 'a long and unusual passphrase', admin: true } } }),
      });
      expect(create.status).toBe(403);
      const list = await rawGet(server.url, '/admin/api/users', { authorization: `Bearer ${token}` });
      expect(list.status).toBe(200);
      expect(list.json).toMatchObject({ data: [{ id: String(admin.id) }], meta: { totalCount: 1 } });

      // The same admin through an application an admin registered keeps the right.
      const full = expectTokenSuccess(await exchangeCode(admin, backofficeClient, server, { scope: 'api' }));
      const all = await rawGet(server.url, '/admin/api/users', { authorization: `Bearer ${full}` });
      expect((all.json.meta as { totalCount: number }).totalCount).toBeGreaterThan(1);
    });
  });

  describe('the API checks the scope of each route', () => {
    it('answers 403 insufficient_scope naming the scope, with a JSON:API error', async () => {
      const call = await exchangeCode(admin, backofficeClient, server, { scope: 'applications:read' });
      const token = expectTokenSuccess(call);
      const response = await rawGet(server.url, '/admin/api/users', { authorization: `Bearer ${token}`, accept: 'application/vnd.api+json' });
      expect(response.status).toBe(403);
      expect(response.headers.get('content-type')).toBe('application/vnd.api+json');
      const challenge = response.headers.get('www-authenticate') ?? '';
      expect(challenge).toMatch(/^Bearer /);
      expect(challenge).toContain('error="insufficient_scope"');
      expect(challenge).toContain('scope="users:read"');
      expect(response.json).toMatchObject({ errors: [{ status: '403', code: 'insufficient_scope' }] });
    });

    it('lets the legacy api scope and the route scope itself through', async () => {
      for (const scope of ['api', 'users:read']) {
        const token = expectTokenSuccess(await exchangeCode(admin, backofficeClient, server, { scope }));
        const response = await rawGet(server.url, '/admin/api/users', { authorization: `Bearer ${token}` });
        expect(response.status).toBe(200);
      }
    });

    it('lets a token of only the deployment\'s own scopes use none of the API', async () => {
      const token = expectTokenSuccess(await exchangeCode(customer, storefrontClient, server, { scope: 'orders:read' }));
      const response = await rawGet(server.url, '/api/customerusers/mine', { authorization: `Bearer ${token}` });
      expect(response.status).toBe(403);
      expect(response.headers.get('www-authenticate')).toContain('scope="users:read"');
    });
  });
});
