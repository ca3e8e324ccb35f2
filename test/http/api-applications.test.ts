/**
 * OAuth applications through the back-office JSON:API ({prefix}/api/oauthapplications), over
 * HTTP on every backend: the role matrix (route x principal -> status), what each role sees,
 * the secret shown only when made, the applications really working at the token endpoint, and
 * the JSON:API conventions (409, 422 with pointers, 415, 406, pages, filters, sparse fieldsets).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../../src/management/principal.js';
import { BACKENDS } from '../helpers/backends.js';
import { TestBrowser } from '../helpers/browser.js';
import { type ApiCall, apiCall, type ApiResource, expectApiDocument, expectApiError, expectInsufficientScope, JSON_API } from '../helpers/json-api-calls.js';
import { expectJsonApiDocument } from '../helpers/json-api-schema.js';
import { tokenRequest } from '../helpers/oauth.js';
import { createSideUser, exchangeCode, expectTokenError, expectTokenSuccess, issueToken, type SideUser, type TestClient } from '../helpers/tokens.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const PATH = '/admin/api/oauthapplications';
const BASE = `http://grantry.test${PATH}`;

type Resource = ApiResource & { relationships?: { owner: { data: { type: string; id: string } | null } } };

const api = (server: TestServer, method: string, path: string, token: string | undefined, document?: unknown, headers?: Record<string, string>) => apiCall(server.url, method, path, token, document, headers);

/** Asserts the answer of revoke-tokens: a JSON:API document with meta only (JSON:API 1.1 §7.1: data, errors or meta). */
function expectRevokedGrants(call: ApiCall, count?: number): void {
  expect({ status: call.status, body: call.json }).toMatchObject({ status: 200 });
  expect(call.headers.get('content-type')).toBe(JSON_API);
  expect(call.headers.get('cache-control')).toBe('no-store');
  expectJsonApiDocument(call.json);
  expect(Object.keys(call.json)).toEqual(['meta']);
  expect(typeof (call.json.meta as { revokedGrants: unknown }).revokedGrants).toBe('number');
  if (count !== undefined) expect(call.json).toEqual({ meta: { revokedGrants: count } });
}

const dataOf = (call: ApiCall) => call.json.data as Resource;
const listOf = (call: ApiCall) => call.json.data as Resource[];

let counter = 0;
const uniqueName = (what: string) => `${what} ${process.pid}-${++counter}`;

/** A create document for a back-office confidential authorization-code application. */
function newApplication(attributes: Record<string, unknown> = {}, relationships?: Record<string, unknown>) {
  return {
    data: {
      type: 'oauthapplications',
      attributes: { name: uniqueName('App'), clientType: 'confidential', grants: ['authorization_code'], redirectUris: ['https://ci.example/callback'], scopes: ['applications:read'], ...attributes },
      ...(relationships ? { relationships } : {}),
    },
  };
}

/** The principals of the role matrix. */
const PRINCIPALS = ['admin', 'staff', 'ccAdmin', 'ccStaff', 'readOnly', 'noScope', 'customer'] as const;
type Principal = (typeof PRINCIPALS)[number];
/** 403 with `error="insufficient_scope"`: the token lacks the route's scope (checked before the role). */
const SCOPE = 'insufficient_scope' as const;
type Expected = number | typeof SCOPE;

/** Whose application a route acts on: the staff user's, another staff user's (bob), or a storefront one. */
type Target = 'own' | 'others' | 'storefront';

interface MatrixRoute {
  name: string;
  target?: Target;
  call(server: TestServer, token: string, id: string): Promise<ApiCall>;
}

const show: MatrixRoute['call'] = (server, token, id) => api(server, 'GET', `${PATH}/${id}`, token);
const rename: MatrixRoute['call'] = (server, token, id) => api(server, 'PATCH', `${PATH}/${id}`, token, { data: { type: 'oauthapplications', id, attributes: { name: uniqueName('Renamed') } } });
const remove: MatrixRoute['call'] = (server, token, id) => api(server, 'DELETE', `${PATH}/${id}`, token);
const regenerate: MatrixRoute['call'] = (server, token, id) => api(server, 'POST', `${PATH}/${id}/secret`, token);
const revoke: MatrixRoute['call'] = (server, token, id) => api(server, 'POST', `${PATH}/${id}/revoke-tokens`, token);

/**
 * The role matrix as data: per route, the status of each principal, in PRINCIPALS order. Admins
 * (and client-credentials tokens of an admin's client) manage everything; staff (and their
 * clients' tokens) their own back-office applications: others' and storefront ones are 404,
 * registering a storefront one or allowing what only admins may is 403. readOnly is a staff
 * token with applications:read only, noScope an admin token with users:read only, customer a
 * storefront token (another audience: 401).
 */
const MATRIX: [MatrixRoute, Expected[]][] = [
  //                                                                                                                    admin  staff  ccAdmin ccStaff readOnly noScope customer
  [{ name: 'GET list', call: (server, token) => api(server, 'GET', PATH, token) },                                       [200,   200,   200,    200,    200,     SCOPE,  401]],
  [{ name: 'GET own', target: 'own', call: show },                                                                       [200,   200,   200,    200,    200,     SCOPE,  401]],
  [{ name: "GET another's", target: 'others', call: show },                                                              [200,   404,   200,    404,    404,     SCOPE,  401]],
  [{ name: 'GET storefront', target: 'storefront', call: show },                                                         [200,   404,   200,    404,    404,     SCOPE,  401]],
  [{ name: 'GET unknown id', call: (server, token) => show(server, token, 'no-such-client') },                             [404,   404,   404,    404,    404,     SCOPE,  401]],
  [{ name: 'POST back office', call: (server, token) => api(server, 'POST', PATH, token, newApplication()) },             [201,   201,   201,    201,    SCOPE,   SCOPE,  401]],
  [{ name: 'POST storefront', call: (server, token) => api(server, 'POST', PATH, token, newApplication({ side: 'storefront', scopes: ['api'] })) }, [201, 403, 201, 403, SCOPE, SCOPE, 401]],
  [{ name: 'POST skipConsent', call: (server, token) => api(server, 'POST', PATH, token, newApplication({ skipConsent: true })) }, [201, 403, 201, 403, SCOPE, SCOPE, 401]],
  [{ name: 'POST password grant', call: (server, token) => api(server, 'POST', PATH, token, newApplication({ grants: ['password'], redirectUris: [] })) }, [201, 403, 201, 403, SCOPE, SCOPE, 401]],
  [{ name: 'PATCH own', target: 'own', call: rename },                                                                   [200,   200,   200,    200,    SCOPE,   SCOPE,  401]],
  [{ name: "PATCH another's", target: 'others', call: rename },                                                          [200,   404,   200,    404,    SCOPE,   SCOPE,  401]],
  [{ name: 'PATCH storefront', target: 'storefront', call: rename },                                                     [200,   404,   200,    404,    SCOPE,   SCOPE,  401]],
  [{ name: 'DELETE own', target: 'own', call: remove },                                                                  [204,   204,   204,    204,    SCOPE,   SCOPE,  401]],
  [{ name: "DELETE another's", target: 'others', call: remove },                                                         [204,   404,   204,    404,    SCOPE,   SCOPE,  401]],
  [{ name: 'DELETE storefront', target: 'storefront', call: remove },                                                    [204,   404,   204,    404,    SCOPE,   SCOPE,  401]],
  [{ name: 'POST own secret', target: 'own', call: regenerate },                                                         [200,   200,   200,    200,    SCOPE,   SCOPE,  401]],
  [{ name: "POST another's secret", target: 'others', call: regenerate },                                                [200,   404,   200,    404,    SCOPE,   SCOPE,  401]],
  [{ name: 'POST own revoke-tokens', target: 'own', call: revoke },                                                      [200,   200,   200,    200,    SCOPE,   SCOPE,  401]],
  [{ name: "POST another's revoke-tokens", target: 'others', call: revoke },                                             [200,   404,   200,    404,    SCOPE,   SCOPE,  401]],
];

const CASES = MATRIX.flatMap(([route, statuses]) => PRINCIPALS.map((principal, i) => ({ route, principal, expected: statuses[i] as Expected })));

describe.each(BACKENDS)('JSON:API OAuth applications (%s)', (backend) => {
  let server: TestServer;
  let admin: SideUser;
  let staff: SideUser;
  let bob: { id: number; username: string };
  const tokens = {} as Record<Principal, string>;

  /** An authorization-code token of `user` for `scope`, through an unowned client that may hold every API scope. */
  let userClient: TestClient;
  const userToken = async (user: SideUser, scope: string) => expectTokenSuccess(await exchangeCode(user, userClient, server, { scope }), server.config.accessTokenTtl);

  /** A client-credentials token of a new confidential client owned by `ownerId`. */
  const clientCredentialsToken = async (ownerId: number, scope = 'applications:read applications:write') => {
    const client = await server.createClient({ side: 'backoffice', grants: ['client_credentials'], redirectUris: [], owner: String(ownerId), scopes: ['applications:read', 'applications:write'] });
    return expectTokenSuccess(await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, scope }));
  };

  /** A new application, made through management as the CLI, of `target`'s kind. */
  const targetApplication = async (target: Target) => {
    const input: Parameters<TestServer['createClient']>[0] =
      target === 'storefront' ? { side: 'storefront', scopes: ['api'] } : { side: 'backoffice', owner: String(target === 'own' ? staff.id : bob.id), scopes: ['applications:read'] };
    return (await server.createClient(input)).clientId;
  };

  beforeAll(async () => {
    server = await startTestServer(backend);
    const boss = await server.createBackofficeUser('boss', undefined, { isAdmin: true });
    admin = { side: 'backoffice', id: boss.id, login: boss.username, password: boss.password, browser: new TestBrowser(server.url) };
    staff = await createSideUser(server, 'backoffice');
    bob = await server.createBackofficeUser('bob');
    userClient = await server.createClient({ side: 'backoffice', scopes: ['api', 'users:read', 'users:write', 'applications:read', 'applications:write'] });
    tokens.admin = await userToken(admin, 'applications:read applications:write');
    tokens.staff = await userToken(staff, 'applications:read applications:write');
    tokens.readOnly = await userToken(staff, 'applications:read');
    tokens.noScope = await userToken(admin, 'users:read');
    tokens.ccAdmin = await clientCredentialsToken(admin.id);
    tokens.ccStaff = await clientCredentialsToken(staff.id);
    tokens.customer = (await issueToken(server, 'storefront')).accessToken;
  });
  afterAll(() => server?.close());

  describe('role matrix', () => {
    it.each(CASES)('$route.name as $principal: $expected', async ({ route, principal, expected }) => {
      const id = route.target ? await targetApplication(route.target) : 'none';
      const call = await route.call(server, tokens[principal], id);
      if (expected === SCOPE) {
        expectInsufficientScope(call, route.name.startsWith('GET') ? 'applications:read' : 'applications:write');
      } else if (expected === 200 && route.name.endsWith('revoke-tokens')) {
        expectRevokedGrants(call);
      } else if (expected >= 400) {
        expectApiError(call, expected);
        if (expected === 401) expect(call.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
        else expect(call.headers.get('www-authenticate')).toBeNull();
      } else {
        expectApiDocument(call, expected);
      }
      // What a refusal leaves: the application as it was; what success does: what it says.
      if (route.target) {
        const after = await server.grantry.repos.clients.findByClientId(id);
        if (route.name.startsWith('DELETE')) expect(after === undefined).toBe(expected === 204);
        else expect(after).toBeDefined();
        if (route.name.startsWith('PATCH')) expect(after?.name.startsWith('Renamed')).toBe(expected === 200);
      }
      if (expected === 201) {
        expect(call.headers.get('location')).toBe(dataOf(call).links.self);
        // A non-admin's application is theirs; one an admin's client registers is unowned unless it names an owner.
        const owner = dataOf(call).relationships?.owner.data;
        if (principal === 'staff' || principal === 'ccStaff') expect(owner).toEqual({ type: 'users', id: String(staff.id) });
        else expect(owner).toBeNull();
      }
    });
  });

  describe('what each role sees', () => {
    it('staff list only their own back-office applications; filters cannot widen that', async () => {
      await targetApplication('own');
      await targetApplication('others');
      await targetApplication('storefront');
      const everything = await server.grantry.clients.list(CLI, { page: 1, size: 1000 });
      const own = everything.items.filter((c) => c.side === 'backoffice' && c.ownerUserId === staff.id).map((c) => c.clientId);
      expect(own.length).toBeGreaterThan(0);
      expect(own.length).toBeLessThan(everything.total);

      const mine = await api(server, 'GET', `${PATH}?page[size]=100`, tokens.staff);
      expectApiDocument(mine, 200);
      expect(listOf(mine).map((r) => r.id)).toEqual(own);
      expect(mine.json.meta).toEqual({ totalCount: own.length });
      for (const r of listOf(mine)) expect(r.relationships?.owner.data).toEqual({ type: 'users', id: String(staff.id) });

      const all = await api(server, 'GET', `${PATH}?page[size]=100`, tokens.admin);
      expectApiDocument(all, 200);
      expect(all.json.meta).toEqual({ totalCount: everything.total });

      for (const filter of ['filter[side]=storefront', `filter[owner]=${bob.id}`, `filter[owner]=${admin.id}`]) {
        const call = await api(server, 'GET', `${PATH}?${filter}`, tokens.staff);
        expectApiDocument(call, 200);
        expect(call.json.data).toEqual([]);
        expect(call.json.meta).toEqual({ totalCount: 0 });
      }
      const ownByFilter = await api(server, 'GET', `${PATH}?filter[owner]=${staff.id}&page[size]=100`, tokens.staff);
      expect(listOf(ownByFilter).map((r) => r.id)).toEqual(own);
    });

    it("a token of a staff user's client acts as that user, with the user's current role", async () => {
      const call = await api(server, 'GET', `${PATH}?page[size]=100`, tokens.ccStaff);
      expectApiDocument(call, 200);
      expect(listOf(call).every((r) => r.relationships?.owner.data?.id === String(staff.id))).toBe(true);
      // Made an admin, the same token sees every application; no longer, it sees its own again.
      await server.grantry.users.setAdmin(CLI, String(staff.id), true);
      try {
        const wide = await api(server, 'GET', `${PATH}?filter[side]=storefront`, tokens.ccStaff);
        expectApiDocument(wide, 200);
        expect((wide.json.meta as { totalCount: number }).totalCount).toBeGreaterThan(0);
      } finally {
        await server.grantry.users.setAdmin(CLI, String(staff.id), false);
      }
      const narrow = await api(server, 'GET', `${PATH}?filter[side]=storefront`, tokens.ccStaff);
      expect(narrow.json.meta).toEqual({ totalCount: 0 });
    });
  });

  describe('the secret, and the applications at the token endpoint', () => {
    it('the secret is in the create and regenerate answers only, never in a GET', async () => {
      const created = await api(server, 'POST', PATH, tokens.staff, newApplication());
      expectApiDocument(created, 201);
      const { id, attributes } = dataOf(created);
      const secret = attributes.secret as string;
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      for (const call of [await api(server, 'GET', `${PATH}/${id}`, tokens.staff), await api(server, 'GET', `${PATH}?page[size]=100`, tokens.staff), await api(server, 'GET', `${PATH}?page[size]=100`, tokens.admin)]) {
        expectApiDocument(call, 200);
        expect(call.text).not.toContain(secret);
        expect(call.text).not.toContain('"secret"');
      }
      const patched = await api(server, 'PATCH', `${PATH}/${id}`, tokens.staff, { data: { type: 'oauthapplications', id, attributes: { name: uniqueName('Patched') } } });
      expectApiDocument(patched, 200);
      expect(dataOf(patched).attributes).not.toHaveProperty('secret');

      const regenerated = await api(server, 'POST', `${PATH}/${id}/secret`, tokens.staff);
      expectApiDocument(regenerated, 200);
      const newSecret = dataOf(regenerated).attributes.secret as string;
      expect(newSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(newSecret).not.toBe(secret);
      expect((await api(server, 'GET', `${PATH}/${id}`, tokens.staff)).text).not.toContain(newSecret);

      // Sparse fieldsets cannot drop a secret that is shown only once.
      const sparse = await api(server, 'POST', `${PATH}?fields[oauthapplications]=name`, tokens.staff, newApplication());
      expectApiDocument(sparse, 201);
      expect(Object.keys(dataOf(sparse).attributes).sort()).toEqual(['name', 'secret']);
    });

    it('a public application has no secret: none at create, and regenerating is 422', async () => {
      const created = await api(server, 'POST', PATH, tokens.staff, newApplication({ clientType: 'public' }));
      expectApiDocument(created, 201);
      expect(dataOf(created).attributes).not.toHaveProperty('secret');
      expect(dataOf(created).attributes.clientType).toBe('public');
      expectApiError(await api(server, 'POST', `${PATH}/${dataOf(created).id}/secret`, tokens.staff), 422);
    });

    it('a client registered through the API works at the token endpoint with its secret; regenerate, revoke-tokens and deactivate act at once', async () => {
      const created = await api(server, 'POST', PATH, tokens.staff, newApplication({ grants: ['client_credentials'], redirectUris: [], scopes: ['applications:read'] }));
      expectApiDocument(created, 201);
      const { id } = dataOf(created);
      const clientToken = async (secret: string) => tokenRequest(server.url, { grant_type: 'client_credentials', client_id: id, client_secret: secret, scope: 'applications:read' });

      // It works, and its token acts as the staff user who registered it.
      const firstSecret = dataOf(created).attributes.secret as string;
      const token = expectTokenSuccess(await clientToken(firstSecret));
      expectApiDocument(await api(server, 'GET', `${PATH}/${id}`, token), 200);
      expectApiError(await api(server, 'GET', `${PATH}/${(await targetApplication('others'))}`, token), 404);

      // A new secret: the old one stops working at once.
      const regenerated = await api(server, 'POST', `${PATH}/${id}/secret`, tokens.staff);
      expectApiDocument(regenerated, 200);
      const secret = dataOf(regenerated).attributes.secret as string;
      expectTokenError(await clientToken(firstSecret), 401, 'invalid_client');
      const second = expectTokenSuccess(await clientToken(secret));

      // Revoking its tokens kills them: both the one before the new secret and the one after.
      expectRevokedGrants(await api(server, 'POST', `${PATH}/${id}/revoke-tokens`, tokens.staff), 2);
      expectApiError(await api(server, 'GET', `${PATH}/${id}`, token), 401);
      expectApiError(await api(server, 'GET', `${PATH}/${id}`, second), 401);

      // Deactivated through PATCH: no token is issued; active again: issued again.
      const third = expectTokenSuccess(await clientToken(secret));
      const off = await api(server, 'PATCH', `${PATH}/${id}`, tokens.staff, { data: { type: 'oauthapplications', id, attributes: { active: false } } });
      expectApiDocument(off, 200);
      expect(dataOf(off).attributes.active).toBe(false);
      expectTokenError(await clientToken(secret), 401, 'invalid_client');
      expectApiError(await api(server, 'GET', `${PATH}/${id}`, third), 401);
      expect((await api(server, 'GET', `${PATH}?filter[active]=false&page[size]=100`, tokens.staff).then(listOf)).map((r) => r.id)).toContain(id);
      const on = await api(server, 'PATCH', `${PATH}/${id}`, tokens.staff, { data: { type: 'oauthapplications', id, attributes: { active: true } } });
      expect(dataOf(on).attributes.active).toBe(true);
      expectTokenSuccess(await clientToken(secret));

      // Deleted: gone, and its secret with it.
      expectApiDocument(await api(server, 'DELETE', `${PATH}/${id}`, tokens.staff), 204);
      expectApiError(await api(server, 'GET', `${PATH}/${id}`, tokens.staff), 404);
      expectTokenError(await clientToken(secret), 401, 'invalid_client');
    });

    it('an admin registers a storefront application owned by a customer, and one created inactive', async () => {
      const customer = await server.createCustomerUser(`owner-${process.pid}@example.com`);
      const created = await api(
        server,
        'POST',
        PATH,
        tokens.admin,
        newApplication({ side: 'storefront', grants: ['client_credentials'], redirectUris: [], scopes: ['users:read'], active: false }, { owner: { data: { type: 'customerusers', id: String(customer.id) } } }),
      );
      expectApiDocument(created, 201);
      expect(dataOf(created)).toMatchObject({
        type: 'oauthapplications',
        attributes: {
          side: 'storefront',
          clientType: 'confidential',
          grants: ['client_credentials'],
          redirectUris: [],
          scopes: ['users:read'],
          skipConsent: false,
          allowGuests: false,
          postLogoutRedirectUris: [],
          idTokenSignedResponseAlg: null,
          subjectType: 'public',
          active: false,
          lastUsedAt: null,
        },
        relationships: { owner: { data: { type: 'customerusers', id: String(customer.id) } } },
        links: { self: `${BASE}/${dataOf(created).id}` },
      });
      const { createdAt } = dataOf(created).attributes;
      expect(new Date(createdAt as string).toISOString()).toBe(createdAt);
      // Inactive: its secret gets no token.
      expectTokenError(await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: dataOf(created).id, client_secret: dataOf(created).attributes.secret as string }), 401, 'invalid_client');
    });
  });

  describe('refusals', () => {
    it('409 for a duplicate name (create and rename) and for a document of another type or id', async () => {
      const name = uniqueName('Taken');
      expectApiDocument(await api(server, 'POST', PATH, tokens.staff, newApplication({ name })), 201);
      expectApiError(await api(server, 'POST', PATH, tokens.staff, newApplication({ name })), 409);
      const other = dataOf(await api(server, 'POST', PATH, tokens.staff, newApplication()));
      expectApiError(await api(server, 'PATCH', `${PATH}/${other.id}`, tokens.staff, { data: { type: 'oauthapplications', id: other.id, attributes: { name } } }), 409);
      expectApiError(await api(server, 'POST', PATH, tokens.staff, { data: { ...newApplication().data, type: 'users' } }), 409, { pointer: '/data/type' });
      expectApiError(await api(server, 'PATCH', `${PATH}/${other.id}`, tokens.staff, { data: { type: 'oauthapplications', id: 'another-id', attributes: { name: 'x' } } }), 409, { pointer: '/data/id' });
      expectApiError(await api(server, 'POST', PATH, tokens.staff, { data: { ...newApplication().data, id: 'chosen-by-me' } }), 403, { pointer: '/data/id' });
      expect((await server.grantry.clients.get(CLI, other.id)).name).toBe(other.attributes.name);
    });

    it.each([
      ['a redirect URI with a fragment', { redirectUris: ['https://ci.example/cb#frag'] }, '/data/attributes/redirectUris', /redirect URI/],
      ['a redirect URI that is not absolute', { redirectUris: ['/callback'] }, '/data/attributes/redirectUris', /redirect URI/],
      ['authorization_code without a redirect URI', { redirectUris: [] }, '/data/attributes/redirectUris', /redirect URI/],
      ['an unknown scope', { scopes: ['no-such-scope'] }, '/data/attributes/scopes', /unknown scope no-such-scope/],
      ['an unknown grant type', { grants: ['implicit'] }, '/data/attributes/grants', /unknown grant type/],
      ['a public client with client credentials', { clientType: 'public', grants: ['client_credentials'], redirectUris: [] }, '/data/attributes/grants', /public clients/],
      ['a client type that is none', { clientType: 'secret' }, '/data/attributes/clientType', /confidential or public/],
      ['an empty name', { name: '  ' }, '/data/attributes/name', /name/],
      ['guests on a back-office client', { allowGuests: true }, '/data/attributes/allowGuests', /guests/],
      ['grants that are not a list', { grants: 'authorization_code' }, '/data/attributes/grants', /list/],
      ['skipConsent that is not a boolean', { skipConsent: 'yes' }, '/data/attributes/skipConsent', /true or false/],
      ['an attribute that cannot be set', { clientSecret: 'mine' }, '/data/attributes/clientSecret', /no attribute clientSecret/],
      ['a read-only attribute', { createdAt: '2020-01-01T00:00:00.000Z' }, '/data/attributes/createdAt', /no attribute createdAt/],
    ])('422 with its pointer: %s', async (_what, attributes, pointer, detail) => {
      const before = (await server.grantry.clients.list(CLI, { page: 1, size: 1 })).total;
      const error = expectApiError(await api(server, 'POST', PATH, tokens.admin, newApplication(attributes)), 422, { pointer });
      expect(error.detail).toMatch(detail);
      expect((await server.grantry.clients.list(CLI, { page: 1, size: 1 })).total).toBe(before);
    });

    it('422 for a missing name, and for client credentials without an owner (pointing at the relationship)', async () => {
      const { name: _, ...withoutName } = newApplication().data.attributes;
      expectApiError(await api(server, 'POST', PATH, tokens.admin, { data: { type: 'oauthapplications', attributes: withoutName } }), 422, { pointer: '/data/attributes' });
      const error = expectApiError(await api(server, 'POST', PATH, tokens.admin, newApplication({ grants: ['client_credentials'], redirectUris: [] })), 422, { pointer: '/data/relationships/owner' });
      expect(error.detail).toBe('the client_credentials grant needs an owner user');
    });

    it('an owner of the wrong type is 422; one that does not exist 404 (JSON:API 1.1 §7.1.4)', async () => {
      const cc = { grants: ['client_credentials'], redirectUris: [] };
      expectApiError(await api(server, 'POST', PATH, tokens.admin, newApplication(cc, { owner: { data: { type: 'customerusers', id: String(staff.id) } } })), 422, { pointer: '/data/relationships/owner/data/type' });
      expectApiError(await api(server, 'POST', PATH, tokens.admin, newApplication(cc, { owner: { data: { type: 'users', id: '999999' } } })), 404);
      expectApiError(await api(server, 'POST', PATH, tokens.admin, newApplication(cc, { owner: { data: { type: 'users', id: staff.login } } })), 404);
      expectApiError(await api(server, 'POST', PATH, tokens.admin, newApplication(cc, { owner: { data: { id: String(staff.id) } } })), 400, { pointer: '/data/relationships/owner/data' });
      // An owner can be given, and changed by an admin, not removed.
      const created = await api(server, 'POST', PATH, tokens.admin, newApplication(cc, { owner: { data: { type: 'users', id: String(bob.id) } } }));
      expectApiDocument(created, 201);
      const { id } = dataOf(created);
      const moved = await api(server, 'PATCH', `${PATH}/${id}`, tokens.admin, { data: { type: 'oauthapplications', id, relationships: { owner: { data: { type: 'users', id: String(staff.id) } } } } });
      expectApiDocument(moved, 200);
      expect(dataOf(moved).relationships?.owner.data).toEqual({ type: 'users', id: String(staff.id) });
      expectApiError(await api(server, 'PATCH', `${PATH}/${id}`, tokens.admin, { data: { type: 'oauthapplications', id, relationships: { owner: { data: null } } } }), 403, { pointer: '/data/relationships/owner' });
      // Moved to staff, it is theirs now.
      expectApiDocument(await api(server, 'GET', `${PATH}/${id}`, tokens.staff), 200);
    });

    it('side and type cannot change (403); sent back unchanged they are fine', async () => {
      const { id, attributes } = dataOf(await api(server, 'POST', PATH, tokens.staff, newApplication()));
      const patch = (changes: Record<string, unknown>) => api(server, 'PATCH', `${PATH}/${id}`, tokens.staff, { data: { type: 'oauthapplications', id, attributes: changes } });
      expectApiError(await patch({ clientType: 'public' }), 403, { pointer: '/data/attributes/clientType' });
      // JSON:API reserves the member name type: the attribute is clientType.
      expectApiError(await patch({ type: 'public' }), 422, { pointer: '/data/attributes/type' });
      expectApiError(await patch({ side: 'storefront' }), 403, { pointer: '/data/attributes/side' });
      const same = await patch({ side: 'backoffice', clientType: 'confidential', name: attributes.name, redirectUris: ['https://ci.example/other'] });
      expectApiDocument(same, 200);
      expect(dataOf(same).attributes).toMatchObject({ side: 'backoffice', clientType: 'confidential', redirectUris: ['https://ci.example/other'] });
    });

    it('415 for a body of another media type, 406 for an Accept the API cannot answer', async () => {
      const body = JSON.stringify(newApplication());
      for (const contentType of ['application/json', 'text/plain', `${JSON_API}; charset=utf-8`]) {
        expectApiError(await api(server, 'POST', PATH, tokens.admin, body, { 'content-type': contentType }), 415, { header: 'Content-Type' });
      }
      const { id } = dataOf(await api(server, 'POST', PATH, tokens.admin, newApplication()));
      expectApiError(await api(server, 'PATCH', `${PATH}/${id}`, tokens.admin, JSON.stringify({ data: { type: 'oauthapplications', id, attributes: {} } }), { 'content-type': 'application/x-www-form-urlencoded' }), 415);
      expectApiError(await api(server, 'GET', PATH, tokens.admin, undefined, { accept: 'text/html' }), 406, { header: 'Accept' });
      expectApiError(await api(server, 'GET', `${PATH}/${id}`, tokens.admin, undefined, { accept: `${JSON_API}; charset=utf-8` }), 406);
      // The actions take no body: none needs no media type.
      expectApiDocument(await api(server, 'POST', `${PATH}/${id}/secret`, tokens.admin), 200);
    });

    it('bad query parameters are 400 naming the parameter', async () => {
      for (const [query, parameter] of [
        ['filter[side]=both', 'filter[side]'],
        ['filter[type]=secret', 'filter[type]'],
        ['filter[grant]=implicit', 'filter[grant]'],
        ['filter[active]=yes', 'filter[active]'],
        ['filter[owner]=bob', 'filter[owner]'],
        ['filter[owner]=99999999999', 'filter[owner]'],
        [`filter[search]=${'x'.repeat(256)}`, 'filter[search]'],
        ['filter[name]=x', 'filter[name]'],
        ['fields[oauthapplications]=secret', 'fields[oauthapplications]'],
        ['fields[users]=name', 'fields[users]'],
        ['sort=name', 'sort'],
        ['page[size]=101', 'page[size]'],
      ] as const) {
        expectApiError(await api(server, 'GET', `${PATH}?${query}`, tokens.admin), 400, { parameter });
      }
    });
  });

  describe('pages, filters and sparse fieldsets', () => {
    it('pages of a filtered list link to each other, keeping the filters', async () => {
      const tag = uniqueName('Paged').replace(/ /g, '-');
      const made: string[] = [];
      for (let i = 0; i < 5; i += 1) made.push(dataOf(await api(server, 'POST', PATH, tokens.admin, newApplication({ name: `${tag} ${i}` }))).id);
      const link = (n: number) => `${BASE}?filter%5Bsearch%5D=${tag}&page%5Bnumber%5D=${n}&page%5Bsize%5D=2`;
      const seen: string[] = [];
      let url: string | undefined = link(1);
      const pages: Record<string, string | undefined>[] = [];
      while (url) {
        const call = await api(server, 'GET', url.replace('http://grantry.test', ''), tokens.admin);
        expectApiDocument(call, 200);
        expect(call.json.meta).toEqual({ totalCount: 5 });
        seen.push(...listOf(call).map((r) => r.id));
        pages.push(call.json.links as Record<string, string | undefined>);
        url = (call.json.links as Record<string, string | undefined>).next;
      }
      expect(seen).toEqual(made);
      expect(pages[0]).toEqual({ self: link(1), first: link(1), last: link(3), next: link(2) });
      expect(pages[1]).toEqual({ self: link(2), first: link(1), last: link(3), prev: link(1), next: link(3) });
      expect(pages[2]).toEqual({ self: link(3), first: link(1), last: link(3), prev: link(2) });
    });

    it('filters by side, type, grant, active state, owner and search', async () => {
      const tag = uniqueName('Filtered').replace(/ /g, '-');
      const create = async (attributes: Record<string, unknown>, relationships?: Record<string, unknown>) => {
        const call = await api(server, 'POST', PATH, tokens.admin, newApplication({ name: `${tag} ${++counter}`, ...attributes }, relationships));
        expectApiDocument(call, 201);
        return dataOf(call).id;
      };
      const plain = await create({});
      const pub = await create({ clientType: 'public' });
      const store = await create({ side: 'storefront', scopes: ['api'] });
      const machine = await create({ grants: ['client_credentials'], redirectUris: [] }, { owner: { data: { type: 'users', id: String(bob.id) } } });
      const inactive = await create({ active: false });
      const ids = async (filter: string) => {
        const call = await api(server, 'GET', `${PATH}?filter[search]=${tag}&${filter}&page[size]=100`, tokens.admin);
        expectApiDocument(call, 200);
        return listOf(call).map((r) => r.id);
      };
      expect(await ids('filter[side]=storefront')).toEqual([store]);
      expect(await ids('filter[side]=backoffice')).toEqual([plain, pub, machine, inactive]);
      expect(await ids('filter[type]=public')).toEqual([pub]);
      expect(await ids('filter[grant]=client_credentials')).toEqual([machine]);
      expect(await ids('filter[active]=false')).toEqual([inactive]);
      expect(await ids('filter[active]=true')).toEqual([plain, pub, store, machine]);
      expect(await ids(`filter[owner]=${bob.id}`)).toEqual([machine]);
      expect(await ids('filter[type]=confidential&filter[side]=backoffice&filter[active]=true')).toEqual([plain, machine]);
      // The search is case-insensitive and matches the client_id too.
      const byId = await api(server, 'GET', `${PATH}?filter[search]=${encodeURIComponent(machine)}`, tokens.admin);
      expect(listOf(byId).map((r) => r.id)).toEqual([machine]);
      expect(await api(server, 'GET', `${PATH}?filter[search]=${tag.toUpperCase()}&page[size]=100`, tokens.admin).then((c) => listOf(c).length)).toBe(5);
    });

    it('sparse fieldsets return only the fields asked for, attributes and the owner relationship alike', async () => {
      const { id } = dataOf(await api(server, 'POST', PATH, tokens.staff, newApplication()));
      const one = await api(server, 'GET', `${PATH}/${id}?fields[oauthapplications]=name,active`, tokens.staff);
      expectApiDocument(one, 200);
      expect(dataOf(one)).toEqual({ type: 'oauthapplications', id, attributes: { name: expect.any(String), active: true }, links: { self: `${BASE}/${id}` } });
      const withOwner = await api(server, 'GET', `${PATH}?fields[oauthapplications]=owner,scopes`, tokens.staff);
      expectApiDocument(withOwner, 200);
      for (const r of listOf(withOwner)) {
        expect(Object.keys(r.attributes)).toEqual(['scopes']);
        expect(r.relationships?.owner.data).toEqual({ type: 'users', id: String(staff.id) });
      }
      const full = await api(server, 'GET', `${PATH}/${id}`, tokens.staff);
      expect(Object.keys(dataOf(full).attributes)).toEqual([
        'side',
        'name',
        'clientType',
        'grants',
        'redirectUris',
        'scopes',
        'skipConsent',
        'allowGuests',
        'postLogoutRedirectUris',
        'idTokenSignedResponseAlg',
        'subjectType',
        'active',
        'createdAt',
        'updatedAt',
        'lastUsedAt',
      ]);
    });
  });

  describe('scopes limited by the role the application acts for', () => {
    it("a staff user's application may hold only staff scopes: 422 naming the scope and the role", async () => {
      const error = expectApiError(await api(server, 'POST', PATH, tokens.staff, newApplication({ scopes: ['applications:read', 'users:write'] })), 422, { pointer: '/data/attributes/scopes' });
      // Only the scope beyond the role is refused, and the scopes the role may hold are named.
      expect(error.detail).toMatch(/^the staff role may not hold the scope users:write, .* it may hold api, users:read, applications:read, applications:write$/);
      // The same through PATCH of their own application.
      const { id } = dataOf(await api(server, 'POST', PATH, tokens.staff, newApplication({ scopes: ['applications:read', 'applications:write', 'users:read', 'read'] })));
      expectApiError(await api(server, 'PATCH', `${PATH}/${id}`, tokens.staff, { data: { type: 'oauthapplications', id, attributes: { scopes: ['users:write'] } } }), 422, { pointer: '/data/attributes/scopes' });
    });

    it("an admin's unowned or own back-office application may hold anything; one owned by staff, not users:write", async () => {
      expectApiDocument(await api(server, 'POST', PATH, tokens.admin, newApplication({ scopes: ['users:write', 'applications:write'] })), 201);
      const cc = { grants: ['client_credentials'], redirectUris: [], scopes: ['users:write'] };
      expectApiDocument(await api(server, 'POST', PATH, tokens.admin, newApplication(cc, { owner: { data: { type: 'users', id: String(admin.id) } } })), 201);
      const error = expectApiError(await api(server, 'POST', PATH, tokens.admin, newApplication(cc, { owner: { data: { type: 'users', id: String(bob.id) } } })), 422, { pointer: '/data/attributes/scopes' });
      expect(error.detail).toMatch(/staff role may not hold the scope users:write/);
    });

    it('a storefront application may hold only customer scopes', async () => {
      const error = expectApiError(await api(server, 'POST', PATH, tokens.admin, newApplication({ side: 'storefront', scopes: ['users:read', 'applications:read', 'applications:write'] })), 422, { pointer: '/data/attributes/scopes' });
      expect(error.detail).toMatch(/customer role may not hold the scope applications:read, applications:write/);
      expectApiDocument(await api(server, 'POST', PATH, tokens.admin, newApplication({ side: 'storefront', scopes: ['users:read', 'users:write', 'api', 'read'] })), 201);
    });
  });
});
