/**
 * The JSON:API over HTTP against a real server, on every backend: the documents of both sides
 * and the bearer-token guard (RFC 6750, RFC 9068, RFC 9700 §2.4.3).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePrivateKeyPem, signingKeyFromPem } from '../../src/oauth/keys.js';
import type { SideName } from '../../src/oauth/sides.js';
import { fixedKeySource } from '../../src/oauth/key-ring.js';
import { AccessTokenCodec, type AccessTokenClaims } from '../../src/oauth/tokens.js';
import { BACKENDS } from '../helpers/backends.js';
import { TestBrowser } from '../helpers/browser.js';
import { expectJsonApiDocument } from '../helpers/json-api-schema.js';
import { apiGet } from '../helpers/oauth.js';
import type { TestServer } from '../helpers/server.js';
import { API_PATH, decodeJwt, flipChar, ISSUER, issueToken, rawGet, SIDES, type SideUser, startServerWithSideUsers, withPayload } from '../helpers/tokens.js';
import { CLI } from '../../src/management/principal.js';

const JSON_API = 'application/vnd.api+json';

type ApiCall = Awaited<ReturnType<typeof apiGet>>;
type ErrorObject = { status: string; title: string; detail: string; code?: string };

/** Asserts a JSON:API error document with the media type and one error of `status`. */
function expectApiError(call: ApiCall, status: number): ErrorObject {
  expect(call.status).toBe(status);
  expect(call.headers.get('content-type')).toBe(JSON_API);
  const errors = call.json.errors as ErrorObject[];
  expect(Array.isArray(errors)).toBe(true);
  expect(errors).toHaveLength(1);
  const [error] = errors as [ErrorObject];
  expect(error.status).toBe(String(status));
  expect(typeof error.title).toBe('string');
  expect(error.title.length).toBeGreaterThan(0);
  expect(typeof error.detail).toBe('string');
  expect(error.detail.length).toBeGreaterThan(0);
  expect(call.json).not.toHaveProperty('data');
  expectJsonApiDocument(call.json);
  return error;
}

/** 401 with `WWW-Authenticate: Bearer ... error="invalid_token"` (RFC 6750 §3.1). */
function expectInvalidToken(call: ApiCall): void {
  expectApiError(call, 401);
  const challenge = call.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer( |$)/);
  expect(challenge).toContain('error="invalid_token"');
}

function expectOk(call: ApiCall): void {
  expect(call.status).toBe(200);
  expect(call.headers.get('content-type')).toBe(JSON_API);
  expect(call.headers.get('www-authenticate')).toBeNull();
  expect(call.json).toHaveProperty('data');
  expect(call.json).not.toHaveProperty('errors');
  expectJsonApiDocument(call.json);
}

type UserResource = { type: string; id: string; attributes: Record<string, unknown>; links: { self: string } };

describe.each(BACKENDS)('JSON:API (%s)', (backend) => {
  let server: TestServer;
  let users: Record<SideName, SideUser>;
  /** A token of each side that no test revokes (the back office's: a non-admin, who reads only themselves). */
  const tokens = {} as Record<SideName, string>;
  /** A back-office admin's token, who reads every user. */
  let adminToken: string;

  beforeAll(async () => {
    // Tokens asked for without a scope get "api": every API route allows it, within the user's role.
    ({ server, users } = await startServerWithSideUsers(backend, { defaultScope: 'api' }));
    for (const side of SIDES) tokens[side] = (await issueToken(server, side, { user: users[side] })).accessToken;
    const boss = await server.createBackofficeUser('api-boss', 'correct-horse-1', { isAdmin: true });
    adminToken = (await issueToken(server, 'backoffice', { user: { side: 'backoffice', id: boss.id, login: boss.username, password: boss.password, browser: new TestBrowser(server.url) } })).accessToken;
    // Enough back-office users for several pages of two.
    for (let i = 0; i < 5; i += 1) await server.createBackofficeUser(`listed-${i}`);
  });
  afterAll(() => server?.close());

  /** Every back-office user id, in the API's order (by id). */
  const allBackofficeIds = async () => {
    const { items, total } = await server.grantry.repos.users.listBackofficeUsers(0, 1000);
    expect(items).toHaveLength(total);
    return items.map((u) => String(u.id));
  };

  describe('back office: GET /admin/api/users', () => {
    it('a non-admin lists only themselves', async () => {
      const call = await apiGet(server.url, '/admin/api/users', tokens.backoffice);
      expectOk(call);
      expect(call.json.meta).toEqual({ totalCount: 1 });
      expect((call.json.data as UserResource[]).map((u) => u.id)).toEqual([String(users.backoffice.id)]);
    });

    it('an admin lists users as JSON:API resources with links and meta.totalCount', async () => {
      const call = await apiGet(server.url, '/admin/api/users', adminToken);
      expectOk(call);
      expect(call.headers.get('cache-control')).toBe('no-store');
      const ids = await allBackofficeIds();
      expect(ids.length).toBeGreaterThanOrEqual(7);
      const data = call.json.data as UserResource[];
      expect(data.map((u) => u.id)).toEqual(ids.slice(0, 10));
      expect(call.json.meta).toEqual({ totalCount: ids.length });
      const admin = data.find((u) => u.attributes.username === 'admin');
      expect(admin).toMatchObject({ type: 'users', attributes: { username: 'admin', admin: true, enabled: true, locked: false } });
      const me = data.find((u) => u.id === String(users.backoffice.id));
      expect(me).toMatchObject({
        type: 'users',
        id: String(users.backoffice.id),
        attributes: { username: users.backoffice.login, email: `${users.backoffice.login}@example.com`, admin: false },
        links: { self: `http://grantry.test/admin/api/users/${users.backoffice.id}` },
      });
      expect(new Date(me?.attributes.createdAt as string).toISOString()).toBe(me?.attributes.createdAt);
      // Never a password hash.
      for (const u of data) expect(Object.keys(u.attributes).some((k) => /pass/i.test(k))).toBe(false);
      expect(JSON.stringify(call.json)).not.toMatch(/argon2/i);
    });

    it('paginates with page[number] and page[size]: links.prev/next/first/last and meta.totalCount', async () => {
      const ids = await allBackofficeIds();
      const total = ids.length;
      const last = Math.ceil(total / 2);
      const page = async (n: number) => {
        const call = await apiGet(server.url, `/admin/api/users?page%5Bnumber%5D=${n}&page%5Bsize%5D=2`, adminToken);
        expectOk(call);
        expect(call.json.meta).toEqual({ totalCount: total });
        return { ids: (call.json.data as UserResource[]).map((u) => u.id), links: call.json.links as Record<string, string | undefined> };
      };
      const link = (n: number) => `http://grantry.test/admin/api/users?page%5Bnumber%5D=${n}&page%5Bsize%5D=2`;

      const first = await page(1);
      expect(first.ids).toEqual(ids.slice(0, 2));
      expect(first.links).toEqual({ self: link(1), first: link(1), last: link(last), next: link(2) });

      const second = await page(2);
      expect(second.ids).toEqual(ids.slice(2, 4));
      expect(second.links).toMatchObject({ self: link(2), prev: link(1), next: link(3), first: link(1), last: link(last) });

      const final = await page(last);
      expect(final.ids).toEqual(ids.slice((last - 1) * 2));
      expect(final.links.next).toBeUndefined();
      expect(final.links.prev).toBe(link(last - 1));

      // Following next links from the first page visits every user once.
      const seen: string[] = [];
      let url: string | undefined = link(1);
      for (let hops = 0; url && hops < 100; hops += 1) {
        const call = await apiGet(server.url, url.replace('http://grantry.test', ''), adminToken);
        expectOk(call);
        seen.push(...(call.json.data as UserResource[]).map((u) => u.id));
        url = (call.json.links as Record<string, string | undefined>).next;
      }
      expect(seen).toEqual(ids);
    });

    it('a page past the end is empty and points back to the last page', async () => {
      const total = (await allBackofficeIds()).length;
      const call = await apiGet(server.url, '/admin/api/users?page[number]=999&page[size]=2', adminToken);
      expectOk(call);
      expect(call.json.data).toEqual([]);
      expect(call.json.meta).toEqual({ totalCount: total });
      expect((call.json.links as Record<string, string>).next).toBeUndefined();
    });

    it.each([
      'page[size]=0',
      'page[size]=1000',
      'page[size]=101',
      'page[size]=-1',
      'page[size]=abc',
      'page[size]=1.5',
      'page[size]=',
      'page[number]=0',
      'page[number]=-3',
      'page[number]=x',
      'page[number]=99999999999999999999',
      'page[size]=2&page[size]=3',
    ])('invalid pagination %s: 400 JSON:API error document', async (query) => {
      const call = await apiGet(server.url, `/admin/api/users?${query}`, adminToken);
      const error = expectApiError(call, 400);
      expect(error.detail).toMatch(/page\[(size|number)\]/);
    });

    it('page[size]=100 is the largest page', async () => {
      const call = await apiGet(server.url, '/admin/api/users?page[size]=100', adminToken);
      expectOk(call);
      expect((call.json.data as unknown[]).length).toBe((await allBackofficeIds()).length);
    });
  });

  describe('back office: GET /admin/api/users/{id}', () => {
    it('200 with the user resource', async () => {
      const call = await apiGet(server.url, `/admin/api/users/${users.backoffice.id}`, tokens.backoffice);
      expectOk(call);
      expect(call.json.data).toMatchObject({
        type: 'users',
        id: String(users.backoffice.id),
        attributes: { username: users.backoffice.login, enabled: true, locked: false, admin: false },
        links: { self: `http://grantry.test/admin/api/users/${users.backoffice.id}` },
      });
    });

    it.each(['999999', '0', 'abc', '1e3', '-1', '%3Cscript%3E', '1234567890123456789'])('unknown id %s: 404 JSON:API error', async (id) => {
      const call = await apiGet(server.url, `/admin/api/users/${id}`, tokens.backoffice);
      expectApiError(call, 404);
    });

    it('an unknown API route with a valid token: 404 JSON:API error', async () => {
      expectApiError(await apiGet(server.url, '/admin/api/nothing-here', tokens.backoffice), 404);
      expectApiError(await apiGet(server.url, '/api/nothing-here', tokens.storefront), 404);
    });

    it('the unprefixed /api/users is not the back-office API', async () => {
      const call = await apiGet(server.url, '/api/users', tokens.backoffice);
      expect([401, 404]).toContain(call.status);
      expect(call.headers.get('content-type')).toBe(JSON_API);
    });
  });

  describe('storefront: GET /api/customerusers/mine', () => {
    it('200 with the customer user the token acts for', async () => {
      const call = await apiGet(server.url, '/api/customerusers/mine', tokens.storefront);
      expectOk(call);
      expect(call.headers.get('cache-control')).toBe('no-store');
      expect(call.json.data).toMatchObject({
        type: 'customerusers',
        id: String(users.storefront.id),
        attributes: { email: users.storefront.login, firstName: 'Test', lastName: 'Customer', enabled: true },
        links: { self: 'http://grantry.test/api/customerusers/mine' },
      });
      const attributes = (call.json.data as UserResource).attributes;
      expect(Object.keys(attributes).some((k) => /pass/i.test(k))).toBe(false);
    });

    it('each customer sees only themselves', async () => {
      const other = await issueToken(server, 'storefront');
      const call = await apiGet(server.url, '/api/customerusers/mine', other.accessToken);
      expectOk(call);
      expect((call.json.data as UserResource).id).toBe(String(other.user.id));
      expect((call.json.data as UserResource).id).not.toBe(String(users.storefront.id));
    });
  });

  describe.each(SIDES)('bearer guard on the %s API', (side) => {
    const other: SideName = side === 'backoffice' ? 'storefront' : 'backoffice';
    const path = API_PATH[side];

    it('no token: 401 with WWW-Authenticate: Bearer and no error attribute', async () => {
      const call = await apiGet(server.url, path);
      expectApiError(call, 401);
      const challenge = call.headers.get('www-authenticate') ?? '';
      expect(challenge).toMatch(/^Bearer( |$)/);
      expect(challenge).not.toMatch(/error=/);
    });

    it('Authorization: Basic: 401 with a Bearer challenge', async () => {
      const call = await rawGet(server.url, path, { authorization: `Basic ${Buffer.from('admin:admin-password-1').toString('base64')}` });
      expectApiError(call, 401);
      expect(call.headers.get('www-authenticate')).toMatch(/^Bearer( |$)/);
    });

    it('the bearer scheme is case-insensitive (RFC 7235 §2.1)', async () => {
      expectOk(await rawGet(server.url, path, { authorization: `bearer ${tokens[side]}` }));
      expectOk(await rawGet(server.url, path, { authorization: `BEARER ${tokens[side]}` }));
    });

    it.each(['garbage', 'a.b.c', 'x'.repeat(9000), 'eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.'])('garbage token %#: 401 invalid_token', async (token) => {
      expectInvalidToken(await apiGet(server.url, path, token));
    });

    it('"Bearer" with no token, or with characters outside the b64token syntax: 401 invalid_token', async () => {
      for (const authorization of ['Bearer', 'Bearer ', `Bearer ${tokens[side]} extra`, `Bearer "${tokens[side]}"`]) {
        const call = await rawGet(server.url, path, { authorization });
        expectInvalidToken(call);
      }
    });

    it('tampered token: a changed claim, a flipped payload character, a flipped signature character: 401 invalid_token', async () => {
      const token = tokens[side];
      const { payload } = decodeJwt(token);
      expectInvalidToken(await apiGet(server.url, path, withPayload(token, { ...payload, sub: `${payload.sub as string}0` })));
      expectInvalidToken(await apiGet(server.url, path, withPayload(token, { ...payload, exp: (payload.exp as number) + 1 })));
      const [h, p, s] = token.split('.') as [string, string, string];
      expectInvalidToken(await apiGet(server.url, path, `${h}.${flipChar(p, 10)}.${s}`));
      expectInvalidToken(await apiGet(server.url, path, `${h}.${p}.${flipChar(s, 20)}`));
      expectInvalidToken(await apiGet(server.url, path, `${h}.${p}.`));
      expectInvalidToken(await apiGet(server.url, path, `${h}.${p}`));
      // The untouched token still works: the refusals above are about the changes.
      expectOk(await apiGet(server.url, path, token));
    });

    it('alg "none" and a header naming another algorithm: 401 invalid_token', async () => {
      const [h, p] = tokens[side].split('.') as [string, string];
      const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
      for (const alg of ['none', 'HS256', 'ES256']) {
        const forged = Buffer.from(JSON.stringify({ ...header, alg })).toString('base64url');
        expectInvalidToken(await apiGet(server.url, path, `${forged}.${p}.`));
        expectInvalidToken(await apiGet(server.url, path, `${forged}.${p}.${tokens[side].split('.')[2]}`));
      }
    });

    it('a token signed by another key, even one claiming our kid: 401 invalid_token', async () => {
      const foreign = signingKeyFromPem(generatePrivateKeyPem('RS256'), 'RS256');
      const { payload } = decodeJwt(tokens[side]);
      const claims = payload as unknown as AccessTokenClaims;
      expectInvalidToken(await apiGet(server.url, path, await new AccessTokenCodec(fixedKeySource(foreign)).sign(claims)));
      expectInvalidToken(await apiGet(server.url, path, await new AccessTokenCodec(fixedKeySource({ ...foreign, kid: server.grantry.keys.signingKey().kid })).sign(claims)));
    });

    it('expired token, signed with the server key and a recorded jti: 401 invalid_token', async () => {
      const { accessToken } = await issueToken(server, side, { user: users[side] });
      const claims = decodeJwt(accessToken).payload as unknown as AccessTokenClaims;
      const codec = new AccessTokenCodec(server.grantry.keys);
      // Control: re-signing the same claims gives a token the API accepts.
      expectOk(await apiGet(server.url, path, await codec.sign(claims)));
      const now = Math.floor(Date.now() / 1000);
      expectInvalidToken(await apiGet(server.url, path, await codec.sign({ ...claims, iat: now - 7200, nbf: now - 7200, exp: now - 3600 })));
      expectInvalidToken(await apiGet(server.url, path, await codec.sign({ ...claims, iat: now - 3600, nbf: now - 3600, exp: now - 1 })));
    });

    it('a token not yet valid (nbf in the future): 401 invalid_token', async () => {
      const claims = decodeJwt(tokens[side]).payload as unknown as AccessTokenClaims;
      const now = Math.floor(Date.now() / 1000);
      const codec = new AccessTokenCodec(server.grantry.keys);
      expectInvalidToken(await apiGet(server.url, path, await codec.sign({ ...claims, nbf: now + 600, exp: now + 3600 })));
    });

    it('a well-signed token whose jti was never issued: 401 invalid_token', async () => {
      const claims = decodeJwt(tokens[side]).payload as unknown as AccessTokenClaims;
      const codec = new AccessTokenCodec(server.grantry.keys);
      expectInvalidToken(await apiGet(server.url, path, await codec.sign({ ...claims, jti: 'never-issued-jti-0000' })));
    });

    it('a token missing required claims: 401 invalid_token', async () => {
      const claims = decodeJwt(tokens[side]).payload as unknown as AccessTokenClaims;
      const codec = new AccessTokenCodec(server.grantry.keys);
      for (const drop of ['exp', 'sub', 'client_id', 'jti', 'aud', 'iss'] as const) {
        const partial: Record<string, unknown> = { ...claims };
        delete partial[drop];
        expectInvalidToken(await apiGet(server.url, path, await codec.sign(partial as unknown as AccessTokenClaims)));
      }
      expectInvalidToken(await apiGet(server.url, path, await codec.sign({ ...claims, exp: String(claims.exp) as unknown as number })));
    });

    it(`a ${other} token (wrong audience): 401 invalid_token`, async () => {
      expectInvalidToken(await apiGet(server.url, path, tokens[other]));
      // The same token is fine on its own API.
      expectOk(await apiGet(server.url, API_PATH[other], tokens[other]));
    });

    it('a token re-signed with the other side audience or issuer: 401 invalid_token', async () => {
      const claims = decodeJwt(tokens[side]).payload as unknown as AccessTokenClaims;
      const codec = new AccessTokenCodec(server.grantry.keys);
      expectInvalidToken(await apiGet(server.url, path, await codec.sign({ ...claims, aud: `${ISSUER[other]}/api` })));
      expectInvalidToken(await apiGet(server.url, path, await codec.sign({ ...claims, iss: ISSUER[other] })));
      expectInvalidToken(await apiGet(server.url, path, await codec.sign({ ...claims, aud: [claims.aud] as unknown as string })));
    });

    it('a token in the query string is refused even when valid: 400, error="invalid_request"', async () => {
      for (const call of [
        await apiGet(server.url, `${path}?access_token=${tokens[side]}`),
        await apiGet(server.url, `${path}?access_token=${tokens[side]}`, tokens[side]),
        await apiGet(server.url, `${path}?access_token=`),
      ]) {
        expectApiError(call, 400);
        const challenge = call.headers.get('www-authenticate') ?? '';
        expect(challenge).toMatch(/^Bearer( |$)/);
        expect(challenge).toContain('error="invalid_request"');
      }
    });

    it('deactivated client: its token is refused; re-activated: accepted again', async () => {
      const { accessToken, client } = await issueToken(server, side, { user: users[side] });
      expectOk(await apiGet(server.url, path, accessToken));
      await server.grantry.clients.setActive(CLI, client.clientId, false);
      expectInvalidToken(await apiGet(server.url, path, accessToken));
      await server.grantry.clients.setActive(CLI, client.clientId, true);
      expectOk(await apiGet(server.url, path, accessToken));
    });

    it('deleted client: its token is refused', async () => {
      const { accessToken, client } = await issueToken(server, side, { user: users[side] });
      expectOk(await apiGet(server.url, path, accessToken));
      await server.grantry.clients.delete(CLI, client.clientId);
      expectInvalidToken(await apiGet(server.url, path, accessToken));
    });

    it('disabled user: the token is refused; enabled again: accepted', async () => {
      const { accessToken, user } = await issueToken(server, side);
      expectOk(await apiGet(server.url, path, accessToken));
      await server.grantry.users.setFlag(CLI, side, String(user.id), 'enabled', false);
      expectInvalidToken(await apiGet(server.url, path, accessToken));
      await server.grantry.users.setFlag(CLI, side, String(user.id), 'enabled', true);
      expectOk(await apiGet(server.url, path, accessToken));
    });

    if (side === 'backoffice') {
      it('locked back-office user: the token is refused', async () => {
        const { accessToken, user } = await issueToken(server, side);
        expectOk(await apiGet(server.url, path, accessToken));
        await server.grantry.users.setFlag(CLI, 'backoffice', user.login, 'locked', true);
        expectInvalidToken(await apiGet(server.url, path, accessToken));
      });
    }

    it('a token from a public client works too', async () => {
      const { accessToken } = await issueToken(server, side, { user: users[side], type: 'public' });
      expectOk(await apiGet(server.url, path, accessToken));
    });
  });
});
