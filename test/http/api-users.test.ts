/**
 * Users through the JSON:API, over HTTP on every backend: back-office users at
 * /admin/api/users, storefront users for admins at /admin/api/customerusers, and a customer's
 * own account at /api/customerusers/mine. First the role matrix (route x principal -> exact
 * status, as data), then what each answer holds and every refusal: scopes (RFC 6750 §3.1),
 * media types (415, 406), conflicts (409), attributes (422 with source.pointer), the password
 * policy, pages, filters and sparse fieldsets. Every document is checked against the JSON:API
 * 1.1 schema.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../../src/management/principal.js';
import { BACKENDS } from '../helpers/backends.js';
import { TestBrowser } from '../helpers/browser.js';
import { apiCall, type ApiResource, expectApiDocument, expectApiError, expectInsufficientScope, JSON_API } from '../helpers/json-api-calls.js';
import { tokenRequest } from '../helpers/oauth.js';
import type { TestServer } from '../helpers/server.js';
import { createSideUser, exchangeCode, expectTokenSuccess, type SideUser, startServerWithSideUsers, type TestClient } from '../helpers/tokens.js';

const USERS = '/admin/api/users';
const CUSTOMERS = '/admin/api/customerusers';
const MINE = '/api/customerusers/mine';
const PUBLIC = 'http://grantry.test';

/** Who calls: a token of each kind the issue names. */
type Principal =
  | 'admin' // an admin's token (users:read users:write)
  | 'staff' // a non-admin back-office user's token (api: everything the role allows)
  | 'customer' // a customer's token (users:read users:write)
  | 'ccStaff' // client credentials, owner a non-admin
  | 'ccAdmin' // client credentials, owner an admin
  | 'readOnly' // an admin's token with users:read only
  | 'foreign' // an admin's token with only the deployment's own scope "read"
  | 'customerRead' // a customer's token with users:read only
  | 'customerForeign'; // a customer's token with only "read"
const PRINCIPALS: readonly Principal[] = ['admin', 'staff', 'customer', 'ccStaff', 'ccAdmin', 'readOnly', 'foreign', 'customerRead', 'customerForeign'];

/**
 * An expected answer: a status, or "scope" for 403 insufficient_scope naming the route's scope.
 * `401` is a token of the other side (its audience is not this API).
 */
type Expected = number | 'scope';

/** The ids a route is called with: fixed users, or a new user made for the call (deletes). */
interface Targets {
  staff: number;
  other: number;
  customer: number;
  newUser: () => Promise<number>;
  newCustomer: () => Promise<number>;
}

interface MatrixRow {
  route: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  scope: string;
  /** The path and the document of one call. */
  call: (t: Targets, n: number) => Promise<{ path: string; document?: unknown }>;
  expected: Record<Principal, Expected>;
}

/** Back-office routes: the other side's tokens are 401; a token without the scope is 403 before any role rule. */
const backoffice = (admin: Expected, staff: Expected, ccStaff: Expected, ccAdmin: Expected, readOnly: Expected): Record<Principal, Expected> => ({
  admin,
  staff,
  customer: 401,
  ccStaff,
  ccAdmin,
  readOnly,
  foreign: 'scope',
  customerRead: 401,
  customerForeign: 401,
});
const storefront = (customer: Expected, customerRead: Expected): Record<Principal, Expected> => ({
  admin: 401,
  staff: 401,
  customer,
  ccStaff: 401,
  ccAdmin: 401,
  readOnly: 401,
  foreign: 401,
  customerRead,
  customerForeign: 'scope',
});

const userDoc = (attributes: Record<string, unknown>, id?: string) => ({ data: { type: 'users', ...(id ? { id } : {}), attributes } });
const customerDoc = (attributes: Record<string, unknown>, id?: string) => ({ data: { type: 'customerusers', ...(id ? { id } : {}), attributes } });
let serial = 0;
const unique = (what: string) => `${what}-${process.pid}-${Date.now().toString(36)}-${++serial}`;

/**
 * The roles table of the README, route by route. "other" is a back-office user the staff user
 * is not; DELETE of the staff user by an admin is 409 because the staff user owns the
 * client-credentials client of ccStaff.
 */
const MATRIX: MatrixRow[] = [
  { route: 'GET /users', method: 'GET', scope: 'users:read', call: async () => ({ path: USERS }), expected: backoffice(200, 200, 200, 200, 200) },
  { route: 'GET /users/{self of staff}', method: 'GET', scope: 'users:read', call: async (t) => ({ path: `${USERS}/${t.staff}` }), expected: backoffice(200, 200, 200, 200, 200) },
  { route: 'GET /users/{other}', method: 'GET', scope: 'users:read', call: async (t) => ({ path: `${USERS}/${t.other}` }), expected: backoffice(200, 404, 404, 200, 200) },
  {
    route: 'POST /users',
    method: 'POST',
    scope: 'users:write',
    call: async () => {
      const username = unique('made');
      return { path: USERS, document: userDoc({ username, email: `${username}@example.com`, password: 'a-long-new-password-9' }) };
    },
    expected: backoffice(201, 403, 403, 201, 'scope'),
  },
  {
    route: 'PATCH /users/{other}',
    method: 'PATCH',
    scope: 'users:write',
    call: async (t) => ({ path: `${USERS}/${t.other}`, document: userDoc({ email: `${unique('other')}@example.com` }, String(t.other)) }),
    expected: backoffice(200, 404, 404, 200, 'scope'),
  },
  {
    route: 'PATCH /users/{self of staff}',
    method: 'PATCH',
    scope: 'users:write',
    call: async (t) => ({ path: `${USERS}/${t.staff}`, document: userDoc({ enabled: true }, String(t.staff)) }),
    expected: backoffice(200, 403, 403, 200, 'scope'),
  },
  { route: 'DELETE /users/{new user}', method: 'DELETE', scope: 'users:write', call: async (t) => ({ path: `${USERS}/${await t.newUser()}` }), expected: backoffice(204, 404, 404, 204, 'scope') },
  { route: 'DELETE /users/{self of staff}', method: 'DELETE', scope: 'users:write', call: async (t) => ({ path: `${USERS}/${t.staff}` }), expected: backoffice(409, 403, 403, 409, 'scope') },
  { route: 'GET /customerusers', method: 'GET', scope: 'users:read', call: async () => ({ path: CUSTOMERS }), expected: backoffice(200, 403, 403, 200, 200) },
  { route: 'GET /customerusers/{customer}', method: 'GET', scope: 'users:read', call: async (t) => ({ path: `${CUSTOMERS}/${t.customer}` }), expected: backoffice(200, 404, 404, 200, 200) },
  {
    route: 'POST /customerusers',
    method: 'POST',
    scope: 'users:write',
    call: async () => ({ path: CUSTOMERS, document: customerDoc({ email: `${unique('buyer')}@example.com`, password: 'a-long-new-password-9', firstName: 'Ada' }) }),
    expected: backoffice(201, 403, 403, 201, 'scope'),
  },
  {
    route: 'PATCH /customerusers/{customer}',
    method: 'PATCH',
    scope: 'users:write',
    call: async (t, n) => ({ path: `${CUSTOMERS}/${t.customer}`, document: customerDoc({ lastName: `Renamed ${n}` }, String(t.customer)) }),
    expected: backoffice(200, 404, 404, 200, 'scope'),
  },
  { route: 'DELETE /customerusers/{new customer}', method: 'DELETE', scope: 'users:write', call: async (t) => ({ path: `${CUSTOMERS}/${await t.newCustomer()}` }), expected: backoffice(204, 404, 404, 204, 'scope') },
  { route: 'GET /api/customerusers/mine', method: 'GET', scope: 'users:read', call: async () => ({ path: MINE }), expected: storefront(200, 200) },
  {
    route: 'PATCH /api/customerusers/mine',
    method: 'PATCH',
    scope: 'users:write',
    // The document names the caller's own id; for tokens refused before that, any id will do.
    call: async (t, n) => ({ path: MINE, document: customerDoc({ firstName: `Self ${n}` }, String(t.customer)) }),
    expected: storefront(200, 'scope'),
  },
];

describe.each(BACKENDS)('JSON:API users (%s)', (backend) => {
  let server: TestServer;
  let staff: SideUser;
  let customer: SideUser;
  let admin: SideUser;
  let other: { id: number; username: string };
  const tokens = {} as Record<Principal, string>;

  const call = (method: string, path: string, principal: Principal | undefined, document?: unknown, headers?: Record<string, string>) =>
    apiCall(server.url, method, path, principal && tokens[principal], document, headers);
  const targets = (): Targets => ({
    staff: staff.id,
    other: other.id,
    customer: customer.id,
    newUser: async () => (await server.createBackofficeUser(unique('victim'))).id,
    newCustomer: async () => (await server.createCustomerUser(`${unique('gone')}@example.com`)).id,
  });

  /** A token for `user` by the authorization code flow, with `scope`. */
  const codeToken = async (user: SideUser, client: TestClient, scope: string) => expectTokenSuccess(await exchangeCode(user, client, server, { scope }));
  /** A client-credentials token of a new client owned by `ownerId`. */
  const clientCredentialsToken = async (ownerId: number) => {
    const { client, clientSecret } = await server.grantry.clients.create(CLI, {
      side: 'backoffice', name: unique('pipeline'), type: 'confidential', grants: ['client_credentials'], redirectUris: [], scopes: ['api'], owner: String(ownerId),
    });
    return expectTokenSuccess(await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: client.clientId, client_secret: clientSecret, scope: 'api' }));
  };

  beforeAll(async () => {
    let users;
    ({ server, users } = await startServerWithSideUsers(backend));
    staff = users.backoffice;
    customer = users.storefront;
    const boss = await server.createBackofficeUser(unique('boss'), 'correct-horse-1', { isAdmin: true });
    admin = { side: 'backoffice', id: boss.id, login: boss.username, password: boss.password, browser: new TestBrowser(server.url) };
    other = await server.createBackofficeUser(unique('other'));
    const backofficeClient = await server.createClient({ side: 'backoffice', scopes: ['api', 'users:read', 'users:write', 'read'] });
    const storefrontClient = await server.createClient({ side: 'storefront', scopes: ['api', 'users:read', 'users:write', 'read'] });
    tokens.admin = await codeToken(admin, backofficeClient, 'users:read users:write');
    tokens.readOnly = await codeToken(admin, backofficeClient, 'users:read');
    tokens.foreign = await codeToken(admin, backofficeClient, 'read');
    tokens.staff = await codeToken(staff, backofficeClient, 'api');
    tokens.customer = await codeToken(customer, storefrontClient, 'users:read users:write');
    tokens.customerRead = await codeToken(customer, storefrontClient, 'users:read');
    tokens.customerForeign = await codeToken(customer, storefrontClient, 'read');
    tokens.ccStaff = await clientCredentialsToken(staff.id);
    tokens.ccAdmin = await clientCredentialsToken(admin.id);
  });
  afterAll(() => server?.close());

  describe('role matrix: route x principal -> exact status', () => {
    const cases = MATRIX.flatMap((row) => PRINCIPALS.map((principal) => ({ row, principal, expected: row.expected[principal] })));
    it.each(cases.map((c) => [c.row.route, c.principal, c.expected, c] as const))('%s as %s: %s', async (_route, principal, expected, { row }) => {
      const { path, document } = await row.call(targets(), ++serial);
      const answer = await call(row.method, path, principal, document);
      if (expected === 'scope') return expectInsufficientScope(answer, row.scope);
      if (expected === 401) {
        expectApiError(answer, 401);
        expect(answer.headers.get('www-authenticate')).toContain('error="invalid_token"');
        return;
      }
      expectApiDocument(answer, expected);
      // Refusals by role are never dressed as scope problems.
      expect(answer.headers.get('www-authenticate')).toBeNull();
    });

    it('every principal of the matrix is tested on every route', () => {
      for (const row of MATRIX) expect(Object.keys(row.expected).sort()).toEqual([...PRINCIPALS].sort());
    });
  });

  describe('GET /users', () => {
    it('an admin lists everyone, a page at a time, with links that keep filters and fields, and meta.totalCount', async () => {
      const all = await server.grantry.repos.users.listBackofficeUsers(0, 1000);
      const first = await call('GET', `${USERS}?page[size]=2&fields[users]=username`, 'admin');
      expectApiDocument(first, 200);
      expect(first.json.meta).toEqual({ totalCount: all.total });
      expect((first.json.data as ApiResource[]).map((u) => u.id)).toEqual(all.items.slice(0, 2).map((u) => String(u.id)));
      const link = (n: number) => `${PUBLIC}${USERS}?fields%5Busers%5D=username&page%5Bnumber%5D=${n}&page%5Bsize%5D=2`;
      const last = Math.ceil(all.total / 2);
      expect(first.json.links).toEqual({ self: link(1), first: link(1), last: link(last), next: link(2) });
      for (const u of first.json.data as ApiResource[]) expect(Object.keys(u.attributes)).toEqual(['username']);
      const second = await call('GET', (first.json.links as { next: string }).next.slice(PUBLIC.length), 'admin');
      expectApiDocument(second, 200);
      expect((second.json.data as ApiResource[]).map((u) => u.id)).toEqual(all.items.slice(2, 4).map((u) => String(u.id)));
      expect((second.json.links as Record<string, string>).prev).toBe(link(1));
    });

    it('filter[search] finds usernames and emails in any spelling', async () => {
      const answer = await call('GET', `${USERS}?filter[search]=${encodeURIComponent(other.username.toUpperCase())}`, 'admin');
      expectApiDocument(answer, 200);
      expect(answer.json.meta).toEqual({ totalCount: 1 });
      expect(answer.json.data).toMatchObject([{ type: 'users', id: String(other.id), attributes: { username: other.username } }]);
      const email = (answer.json.data as ApiResource[])[0]?.attributes.email as string;
      const byEmail = await call('GET', `${USERS}?filter[search]=${encodeURIComponent(email.toUpperCase())}`, 'admin');
      expect(byEmail.json).toMatchObject({ data: [{ id: String(other.id) }], meta: { totalCount: 1 } });
      const none = await call('GET', `${USERS}?filter[search]=nobody-is-called-this`, 'admin');
      expectApiDocument(none, 200);
      expect(none.json).toMatchObject({ data: [], meta: { totalCount: 0 } });
    });

    it('a non-admin (and a client acting for one) lists only themselves, total 1', async () => {
      for (const principal of ['staff', 'ccStaff'] as const) {
        const answer = await call('GET', USERS, principal);
        expectApiDocument(answer, 200);
        expect(answer.json.meta).toEqual({ totalCount: 1 });
        expect(answer.json.data).toMatchObject([{ type: 'users', id: String(staff.id), attributes: { username: staff.login, admin: false } }]);
        const searched = await call('GET', `${USERS}?filter[search]=${encodeURIComponent(other.username)}`, principal);
        expect(searched.json).toMatchObject({ data: [], meta: { totalCount: 0 } });
      }
    });

    it.each([
      ['fields[users]=password', 'fields[users]'],
      ['fields[customerusers]=email', 'fields[customerusers]'],
      ['filter[admin]=true', 'filter[admin]'],
      ['sort=username', 'sort'],
      ['page[size]=101', 'page[size]'],
      ['include=owner', 'include'],
    ])('%s: 400 naming the parameter', async (query, parameter) => {
      expectApiError(await call('GET', `${USERS}?${query}`, 'admin'), 400, { parameter });
    });

    it('a single user: sparse fieldsets, never a password hash; ids that are not numbers are 404', async () => {
      const answer = await call('GET', `${USERS}/${admin.id}?fields[users]=admin,createdAt`, 'admin');
      expectApiDocument(answer, 200);
      expect(answer.json.data).toEqual({ type: 'users', id: String(admin.id), attributes: { admin: true, createdAt: expect.any(String) }, links: { self: `${PUBLIC}${USERS}/${admin.id}` } });
      const full = await call('GET', `${USERS}/${admin.id}`, 'admin');
      expect(Object.keys((full.json.data as ApiResource).attributes)).toEqual(['username', 'email', 'enabled', 'locked', 'admin', 'createdAt', 'updatedAt']);
      expect(full.text).not.toMatch(/argon2|password/i);
      for (const id of [admin.login, encodeURIComponent(`${admin.login}@example.com`), '999999999', '0']) expectApiError(await call('GET', `${USERS}/${id}`, 'admin'), 404);
    });
  });

  describe('POST /users', () => {
    it('201 with Location and the new user; duplicate username (in another spelling) 409', async () => {
      const username = unique('Created');
      const answer = await call('POST', USERS, 'admin', userDoc({ username, email: `${username.toUpperCase()}@Example.COM`, password: 'a-long-new-password-9', admin: true }));
      expectApiDocument(answer, 201);
      const created = answer.json.data as ApiResource;
      expect(created).toMatchObject({ type: 'users', attributes: { username, email: `${username.toLowerCase()}@example.com`, admin: true, enabled: true, locked: false } });
      expect(answer.headers.get('location')).toBe(`${PUBLIC}${USERS}/${created.id}`);
      expect(created.links.self).toBe(answer.headers.get('location'));
      expectApiDocument(await call('GET', `${USERS}/${created.id}`, 'admin'), 200);
      const again = await call('POST', USERS, 'admin', userDoc({ username: username.toUpperCase(), email: `${unique('x')}@example.com`, password: 'a-long-new-password-9' }));
      expectApiError(again, 409);
    });

    it.each([
      ['a short password', { password: 'short-1' }, 'password'],
      ['a common password', { password: 'qwerty123456' }, 'password'],
      ['the username as password', { password: '$username' }, 'password'],
      ['a bad email', { email: 'not-an-email' }, 'email'],
      ['a bad username', { username: 'has space' }, 'username'],
      ['an all-digit username', { username: '12345' }, 'username'],
      ['admin as a string', { admin: 'yes' }, 'admin'],
      ['a number as username', { username: 42 }, 'username'],
      ['an attribute that cannot be set', { locked: true }, 'locked'],
      ['an unknown attribute', { role: 'admin' }, 'role'],
    ])('%s: 422 pointing at /data/attributes/%s', async (_what, change, field) => {
      const username = unique('refused');
      const attributes = Object.fromEntries(
        Object.entries({ username, email: `${username}@example.com`, password: 'a-long-new-password-9', ...change }).map(([name, value]) => [name, value === '$username' ? username : value]),
      );
      const answer = await call('POST', USERS, 'admin', userDoc(attributes));
      expectApiError(answer, 422, { pointer: `/data/attributes/${field}` });
      expect(await server.grantry.repos.users.findBackofficeUserByLogin(username)).toBeUndefined();
    });

    it('a missing required attribute: 422 at /data/attributes', async () => {
      const error = expectApiError(await call('POST', USERS, 'admin', userDoc({ username: unique('nopass'), email: `${unique('n')}@example.com` })), 422, { pointer: '/data/attributes' });
      expect(error.detail).toMatch(/password/);
    });

    it('documents of another type, with a client id, or not documents at all', async () => {
      expectApiError(await call('POST', USERS, 'admin', customerDoc({ email: 'x@example.com' })), 409, { pointer: '/data/type' });
      expectApiError(await call('POST', USERS, 'admin', userDoc({ username: unique('id') }, '77')), 403, { pointer: '/data/id' });
      expectApiError(await call('POST', USERS, 'admin', { data: [] }), 400, { pointer: '/data' });
      expectApiError(await call('POST', USERS, 'admin', '{"data": '), 400);
      expectApiError(await call('POST', USERS, 'admin', '[1, 2]'), 400);
    });

    it('415 for a body that is not application/vnd.api+json, 406 for an Accept with a foreign parameter', async () => {
      const username = unique('media');
      const document = userDoc({ username, email: `${username}@example.com`, password: 'a-long-new-password-9' });
      for (const contentType of ['application/json', `${JSON_API}; charset=utf-8`, 'text/plain', 'application/x-www-form-urlencoded']) {
        expectApiError(await call('POST', USERS, 'admin', document, { 'content-type': contentType }), 415, { header: 'Content-Type' });
      }
      expectApiError(await call('POST', USERS, 'admin', document, { accept: `${JSON_API}; foo=bar` }), 406, { header: 'Accept' });
      expectApiError(await call('GET', USERS, 'admin', undefined, { accept: `${JSON_API}; version=2` }), 406, { header: 'Accept' });
      expectApiError(await call('GET', USERS, 'admin', undefined, { accept: 'text/html' }), 406, { header: 'Accept' });
      // This server supports no extension: a body or an Accept naming one cannot be honoured
      // (JSON:API 1.1 §5.2); profile is fine, and a range of weight 0 admits nothing.
      expectApiError(await call('POST', USERS, 'admin', document, { 'content-type': `${JSON_API}; ext="https://jsonapi.org/ext/atomic"` }), 415, { header: 'Content-Type' });
      expectApiError(await call('GET', USERS, 'admin', undefined, { accept: `${JSON_API}; ext="https://jsonapi.org/ext/atomic"` }), 406, { header: 'Accept' });
      expectApiError(await call('GET', USERS, 'admin', undefined, { accept: `${JSON_API}; q=0` }), 406, { header: 'Accept' });
      expectApiError(await call('GET', USERS, 'admin', undefined, { accept: 'application/json; q=0, text/html' }), 406, { header: 'Accept' });
      expectApiDocument(await call('GET', USERS, 'admin', undefined, { accept: `${JSON_API}; profile="https://example.com/p"` }), 200);
      expectApiDocument(await call('GET', USERS, 'admin', undefined, { accept: `text/html, ${JSON_API}; q=0.5` }), 200);
      // None of these created anyone; with the right media types it works.
      expect(await server.grantry.repos.users.findBackofficeUserByLogin(username)).toBeUndefined();
      expectApiDocument(await call('POST', USERS, 'admin', document, { accept: `${JSON_API}; foo=bar, ${JSON_API}` }), 201);
    });
  });

  describe('PATCH /users/{id}', () => {
    it('changes email (normalised), enabled, locked and admin; unchanged values are fine', async () => {
      const target = await server.createBackofficeUser(unique('patched'));
      const email = `${unique('New')}@Example.COM`;
      const answer = await call('PATCH', `${USERS}/${target.id}`, 'admin', userDoc({ email, locked: true, admin: true }, String(target.id)));
      expectApiDocument(answer, 200);
      expect(answer.json.data).toMatchObject({ id: String(target.id), attributes: { username: target.username, email: email.toLowerCase(), locked: true, admin: true, enabled: true } });
      const back = await call('PATCH', `${USERS}/${target.id}?fields[users]=locked,enabled`, 'admin', userDoc({ locked: false, enabled: false, email }, String(target.id)));
      expectApiDocument(back, 200);
      expect((back.json.data as ApiResource).attributes).toEqual({ enabled: false, locked: false });
      const audit = await server.grantry.audit.list(CLI, { userId: target.id, side: 'backoffice', page: 1, size: 50 });
      expect(audit.items.map((e) => e.kind).sort()).toEqual(['user.admin_granted', 'user.created', 'user.updated', 'user.updated', 'user.updated', 'user.updated'].sort());
    });

    it('an email another user has: 409, and nothing of the request changed', async () => {
      const target = await server.createBackofficeUser(unique('dupe'));
      const holder = await server.createBackofficeUser(unique('holder'));
      const answer = await call('PATCH', `${USERS}/${target.id}`, 'admin', userDoc({ locked: true, email: `${holder.username.toUpperCase()}@example.com` }, String(target.id)));
      expectApiError(answer, 409);
      expect(await server.grantry.repos.users.findBackofficeUser(target.id)).toMatchObject({ locked: false, email: `${target.username}@example.com` });
    });

    it("a password reset: short and common ones refused (422 at password), a good one ends that user's sessions and grants", async () => {
      const target = await createSideUser(server, 'backoffice');
      const client = await server.createClient({ side: 'backoffice', scopes: ['api'] });
      const theirs = await codeToken(target, client, 'api');
      expectApiDocument(await apiCall(server.url, 'GET', USERS, theirs), 200);
      for (const password of ['short-1', 'qwerty123456', target.login]) {
        expectApiError(await call('PATCH', `${USERS}/${target.id}`, 'admin', userDoc({ password, locked: true }, String(target.id))), 422, { pointer: '/data/attributes/password' });
      }
      expect(await server.grantry.repos.users.findBackofficeUser(target.id)).toMatchObject({ locked: false });
      expectApiDocument(await apiCall(server.url, 'GET', USERS, theirs), 200);
      const reset = await call('PATCH', `${USERS}/${target.id}`, 'admin', userDoc({ password: 'a-brand-new-password-7' }, String(target.id)));
      expectApiDocument(reset, 200);
      expect(reset.text).not.toContain('a-brand-new-password-7');
      expectApiError(await apiCall(server.url, 'GET', USERS, theirs), 401);
      expect(await server.grantry.database.db.selectFrom('sessions').select('id_hash').where('side', '=', 'backoffice').where('user_id', '=', target.id).execute()).toEqual([]);
    });

    it('an admin cannot disable, lock or demote themselves: 422 at the attribute, nothing changed', async () => {
      for (const attribute of [{ enabled: false }, { locked: true }, { admin: false }, { email: `${unique('me')}@example.com`, admin: false }]) {
        const error = expectApiError(await call('PATCH', `${USERS}/${admin.id}`, 'ccAdmin', userDoc(attribute, String(admin.id))), 422, { pointer: `/data/attributes/${Object.keys(attribute).at(-1)}` });
        expect(error.detail).toMatch(/yourself|your own/);
      }
      expect(await server.grantry.repos.users.findBackofficeUser(admin.id)).toMatchObject({ enabled: true, locked: false, isAdmin: true, email: `${admin.login}@example.com` });
    });

    it('a document for another id or type: 409; attributes that cannot be set: 422', async () => {
      expectApiError(await call('PATCH', `${USERS}/${other.id}`, 'admin', userDoc({ locked: false }, String(staff.id))), 409, { pointer: '/data/id' });
      expectApiError(await call('PATCH', `${USERS}/${other.id}`, 'admin', customerDoc({ enabled: true }, String(other.id))), 409, { pointer: '/data/type' });
      expectApiError(await call('PATCH', `${USERS}/${other.id}`, 'admin', userDoc({ username: 'renamed' }, String(other.id))), 422, { pointer: '/data/attributes/username' });
      expectApiError(await call('PATCH', `${USERS}/${other.id}`, 'admin', userDoc({ locked: 'no' }, String(other.id))), 422, { pointer: '/data/attributes/locked' });
      expectApiError(await call('PATCH', `${USERS}/${other.id}`, 'admin', userDoc({ email: 'broken@' }, String(other.id))), 422, { pointer: '/data/attributes/email' });
      expectApiError(await call('PATCH', `${USERS}/999999999`, 'admin', userDoc({ locked: false }, '999999999')), 404);
    });
  });

  describe('DELETE /users/{id}', () => {
    it('204, then 404; a user who owns clients: 409 naming how many', async () => {
      const target = await server.createBackofficeUser(unique('deleted'));
      expectApiDocument(await call('DELETE', `${USERS}/${target.id}`, 'admin'), 204);
      expectApiError(await call('GET', `${USERS}/${target.id}`, 'admin'), 404);
      expectApiError(await call('DELETE', `${USERS}/${target.id}`, 'admin'), 404);
      const error = expectApiError(await call('DELETE', `${USERS}/${staff.id}`, 'admin'), 409);
      expect(error.detail).toMatch(/owns 1 client/);
      const self = expectApiError(await call('DELETE', `${USERS}/${admin.id}`, 'admin'), 422);
      expect(self.detail).toMatch(/yourself/);
    });

    it('a JSON:API client that names its media type on every request, a DELETE with no body too, is served', async () => {
      const target = await server.createBackofficeUser(unique('deleted'));
      expectApiDocument(await call('DELETE', `${USERS}/${target.id}`, 'admin', undefined, { 'content-type': JSON_API }), 204);
      expectApiError(await call('GET', `${USERS}/${target.id}`, 'admin'), 404);
      // An empty POST is not a document: 400 pointing at it, not "could not be read".
      expectApiError(await call('POST', USERS, 'admin', '', { 'content-type': JSON_API }), 400, { pointer: '' });
    });
  });

  describe('customerusers (admins)', () => {
    it('POST, GET, list with filter and fields, PATCH, DELETE', async () => {
      const email = `${unique('Grace')}@Example.com`;
      const created = await call('POST', CUSTOMERS, 'admin', customerDoc({ email, password: 'a-long-new-password-9', firstName: 'Grace', lastName: 'Hopper' }));
      expectApiDocument(created, 201);
      const id = (created.json.data as ApiResource).id;
      expect(created.headers.get('location')).toBe(`${PUBLIC}${CUSTOMERS}/${id}`);
      expect(created.json.data).toMatchObject({ type: 'customerusers', attributes: { email: email.toLowerCase(), firstName: 'Grace', lastName: 'Hopper', enabled: true } });
      expectApiError(await call('POST', CUSTOMERS, 'admin', customerDoc({ email: email.toUpperCase(), password: 'a-long-new-password-9' })), 409);

      const listed = await call('GET', `${CUSTOMERS}?filter[search]=hopper&fields[customerusers]=email,lastName`, 'admin');
      expectApiDocument(listed, 200);
      expect(listed.json).toMatchObject({ data: [{ id, attributes: { email: email.toLowerCase(), lastName: 'Hopper' } }], meta: { totalCount: 1 } });
      expect(Object.keys((listed.json.data as ApiResource[])[0]?.attributes ?? {})).toEqual(['email', 'lastName']);
      expect((listed.json.links as Record<string, string>).self).toBe(`${PUBLIC}${CUSTOMERS}?filter%5Bsearch%5D=hopper&fields%5Bcustomerusers%5D=email%2ClastName&page%5Bnumber%5D=1&page%5Bsize%5D=10`);

      const patched = await call('PATCH', `${CUSTOMERS}/${id}`, 'admin', customerDoc({ firstName: '', lastName: 'Murray Hopper', enabled: false }, id));
      expectApiDocument(patched, 200);
      expect(patched.json.data).toMatchObject({ attributes: { firstName: null, lastName: 'Murray Hopper', enabled: false } });
      expectApiError(await call('PATCH', `${CUSTOMERS}/${id}`, 'admin', customerDoc({ locked: true }, id)), 422, { pointer: '/data/attributes/locked' });
      expectApiError(await call('PATCH', `${CUSTOMERS}/${id}`, 'admin', customerDoc({ firstName: 'bell\u0007' }, id)), 422, { pointer: '/data/attributes/firstName' });
      expectApiError(await call('PATCH', `${CUSTOMERS}/${id}`, 'admin', customerDoc({ email: `${customer.login.toUpperCase()}` }, id)), 409);

      expectApiDocument(await call('DELETE', `${CUSTOMERS}/${id}`, 'admin'), 204);
      expectApiError(await call('GET', `${CUSTOMERS}/${id}`, 'admin'), 404);
    });

    it('the password policy on POST and PATCH: 422 at /data/attributes/password', async () => {
      const local = unique('policy');
      const email = `${local}@example.com`;
      // The last: the local part of the user's own email.
      for (const password of ['short-1', 'qwerty123456', 'leavemealone', '$local']) {
        expectApiError(await call('POST', CUSTOMERS, 'admin', customerDoc({ email, password: password === '$local' ? local : password })), 422, { pointer: '/data/attributes/password' });
        const theirs = password === '$local' ? (customer.login.split('@')[0] as string) : password;
        expectApiError(await call('PATCH', `${CUSTOMERS}/${customer.id}`, 'admin', customerDoc({ password: theirs }, String(customer.id))), 422, { pointer: '/data/attributes/password' });
      }
      expect(await server.grantry.repos.users.findCustomerUserByEmail(email)).toBeUndefined();
    });

    it("an admin's password reset of a customer ends their tokens; disabling them too", async () => {
      const shopper = await createSideUser(server, 'storefront');
      const client = await server.createClient({ side: 'storefront', scopes: ['users:read'] });
      const first = await codeToken(shopper, client, 'users:read');
      expectApiDocument(await apiCall(server.url, 'GET', MINE, first), 200);
      expectApiDocument(await call('PATCH', `${CUSTOMERS}/${shopper.id}`, 'admin', customerDoc({ password: 'a-brand-new-password-7' }, String(shopper.id))), 200);
      expectApiError(await apiCall(server.url, 'GET', MINE, first), 401);
      const second = await codeToken({ ...shopper, password: 'a-brand-new-password-7', browser: new TestBrowser(server.url) }, client, 'users:read');
      expectApiDocument(await apiCall(server.url, 'GET', MINE, second), 200);
      expectApiDocument(await call('PATCH', `${CUSTOMERS}/${shopper.id}`, 'admin', customerDoc({ enabled: false }, String(shopper.id))), 200);
      expectApiError(await apiCall(server.url, 'GET', MINE, second), 401);
    });
  });

  describe('/api/customerusers/mine', () => {
    it('GET: the customer themselves, with sparse fieldsets', async () => {
      const answer = await call('GET', `${MINE}?fields[customerusers]=email`, 'customerRead');
      expectApiDocument(answer, 200);
      expect(answer.json.data).toEqual({ type: 'customerusers', id: String(customer.id), attributes: { email: customer.login }, links: { self: `${PUBLIC}${MINE}` } });
    });

    it('PATCH: names and email (normalised, unique), never someone else', async () => {
      const shopper = await createSideUser(server, 'storefront');
      const client = await server.createClient({ side: 'storefront', scopes: ['users:read', 'users:write'] });
      const token = await codeToken(shopper, client, 'users:read users:write');
      const email = `${unique('Moved')}@Example.COM`;
      const answer = await apiCall(server.url, 'PATCH', MINE, token, customerDoc({ firstName: 'Ada', lastName: 'Lovelace', email }, String(shopper.id)));
      expectApiDocument(answer, 200);
      expect(answer.json.data).toMatchObject({ id: String(shopper.id), attributes: { firstName: 'Ada', lastName: 'Lovelace', email: email.toLowerCase() } });
      // The new email is the login now.
      expect(await server.grantry.repos.users.findLoginAccount('storefront', email)).toMatchObject({ id: shopper.id });
      expectApiError(await apiCall(server.url, 'PATCH', MINE, token, customerDoc({ email: customer.login }, String(shopper.id))), 409);
      // Another id in the document: 409, and the other customer is untouched.
      expectApiError(await apiCall(server.url, 'PATCH', MINE, token, customerDoc({ firstName: 'Mallory' }, String(customer.id))), 409, { pointer: '/data/id' });
      expect((await server.grantry.repos.users.findCustomerUser(customer.id))?.firstName).not.toBe('Mallory');
    });

    it('PATCH: the password is refused with where to change it; enabled is not theirs to set', async () => {
      const error = expectApiError(await call('PATCH', MINE, 'customer', customerDoc({ password: 'a-brand-new-password-7' }, String(customer.id))), 422, { pointer: '/data/attributes/password' });
      expect(error.detail).toMatch(/current password.*account page/);
      expectApiError(await call('PATCH', MINE, 'customer', customerDoc({ enabled: false }, String(customer.id))), 422, { pointer: '/data/attributes/enabled' });
      expectApiError(await call('PATCH', MINE, 'customer', customerDoc({ email: 'nope' }, String(customer.id))), 422, { pointer: '/data/attributes/email' });
      expectApiError(await call('PATCH', MINE, 'customer', customerDoc({ lastName: 'x'.repeat(256) }, String(customer.id))), 422, { pointer: '/data/attributes/lastName' });
      expectApiError(await call('PATCH', MINE, 'customer', customerDoc({ firstName: 'Ada' }, String(customer.id)), { 'content-type': 'application/json' }), 415);
      expect(await server.grantry.repos.users.findCustomerUser(customer.id)).toMatchObject({ enabled: true });
    });
  });
});

