/**
 * Storefront guests over HTTP against a real server, on every backend: GET
 * /oauth2-token/authorize-visitor gives clients that allow guests a code for a fresh
 * `visitor:<random>` subject, without login or consent; the usual authorize rules still hold,
 * and each address gets a limited number of guest codes per window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { THROTTLE_PURPOSE } from '../../src/security/throttle.js';
import { BACKENDS } from '../helpers/backends.js';
import { TestBrowser } from '../helpers/browser.js';
import { call, type HttpCall, introspect, redirectQuery, revoke, VISITOR_PATH } from '../helpers/endpoints.js';
import { refresh } from '../helpers/lifecycle.js';
import { apiGet, pkcePair, tokenRequest } from '../helpers/oauth.js';
import { PUBLIC_URL, startTestServer, type TestServer } from '../helpers/server.js';
import { createSideUser, decodeJwt, expectTokenError, expectTokenSuccess, issueToken, type TestClient } from '../helpers/tokens.js';

const visitorUrl = (params: Record<string, string | undefined>) =>
  `${VISITOR_PATH}?${new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined))}`;

/** An HTML error page, never a redirect (RFC 6749 §4.1.2.1). */
function expectErrorPage(result: HttpCall, status: number): void {
  expect(result.status).toBe(status);
  expect(result.headers.get('location')).toBeNull();
  expect(result.headers.get('content-type')).toMatch(/^text\/html/);
}

describe.each(BACKENDS)('storefront guests (%s)', (backend) => {
  let server: TestServer;
  /** Public, PKCE, allows guests, with refresh tokens. */
  let guestClient: TestClient;
  /** Confidential, allows guests. */
  let confidentialGuestClient: TestClient;
  /** Public storefront client without allowGuests. */
  let noGuestsClient: TestClient;

  beforeAll(async () => {
    server = await startTestServer(backend);
    guestClient = await server.createClient({ side: 'storefront', type: 'public', allowGuests: true, grants: ['authorization_code', 'refresh_token'] });
    confidentialGuestClient = await server.createClient({ side: 'storefront', allowGuests: true });
    noGuestsClient = await server.createClient({ side: 'storefront', type: 'public' });
  });
  afterAll(() => server?.close());

  /** A guest code for the public guest client, through a bare GET with no cookies. */
  async function guestCode(params: Record<string, string | undefined> = {}) {
    const pkce = pkcePair();
    const result = await call(server.url, 'GET', visitorUrl({ response_type: 'code', client_id: guestClient.clientId, code_challenge: pkce.challenge, code_challenge_method: 'S256', ...params }));
    const location = redirectQuery(result, 302);
    return { result, location, code: location.searchParams.get('code') as string, verifier: pkce.verifier };
  }

  async function guestToken() {
    const { code, verifier } = await guestCode();
    const exchanged = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: guestClient.clientId, redirect_uri: guestClient.redirectUri, code, code_verifier: verifier });
    const accessToken = expectTokenSuccess(exchanged);
    return { accessToken, refreshToken: exchanged.json.refresh_token as string };
  }

  it('issues a code without login or consent: 302 to the redirect URI with code, state and iss', async () => {
    const { result, location, code } = await guestCode({ state: 'guest-state', scope: 'read' });
    expect(`${location.origin}${location.pathname}`).toBe(guestClient.redirectUri);
    expect(code).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(location.searchParams.get('state')).toBe('guest-state');
    expect(location.searchParams.get('iss')).toBe(PUBLIC_URL);
    expect(location.searchParams.get('error')).toBeNull();
    expect(result.headers.get('cache-control')).toBe('no-store');
    // No login session is started for a guest.
    expect(result.headers.getSetCookie().filter((c) => /session/i.test(c))).toEqual([]);
  });

  it('the token is for a fresh visitor:<random> subject; the storefront API accepts it, /api/customerusers/mine answers 403', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { accessToken } = await guestToken();
    const { payload } = decodeJwt(accessToken);
    expect(payload.sub).toMatch(/^visitor:[A-Za-z0-9_-]{16,}$/);
    expect(payload).toMatchObject({ iss: PUBLIC_URL, aud: `${PUBLIC_URL}/api`, client_id: guestClient.clientId });
    expect(payload.iat as number).toBeGreaterThanOrEqual(before);

    const mine = await apiGet(server.url, '/api/customerusers/mine', accessToken);
    expect(mine.status).toBe(403);
    expect(mine.headers.get('content-type')).toBe('application/vnd.api+json');
    // Accepted as a token (not a 401 challenge), refused as a customer user.
    expect(mine.headers.get('www-authenticate')).toBeNull();
    expect(mine.json).toMatchObject({ errors: [{ status: '403' }] });
    expect(mine.json).not.toHaveProperty('data');
    // Without a token, or with a broken one, the same URL is a 401: the 403 above came from an accepted token.
    expect((await apiGet(server.url, '/api/customerusers/mine')).status).toBe(401);
    expect((await apiGet(server.url, '/api/customerusers/mine', `${accessToken}x`)).status).toBe(401);
  });

  it('every guest authorization gets its own subject', async () => {
    const subjects = new Set<string>();
    for (let i = 0; i < 3; i++) subjects.add(decodeJwt((await guestToken()).accessToken).payload.sub as string);
    expect(subjects.size).toBe(3);
  });

  it('a guest token is refused by the back-office API', async () => {
    const { accessToken } = await guestToken();
    const result = await apiGet(server.url, '/admin/api/users', accessToken);
    expect(result.status).toBe(401);
    expect(result.headers.get('www-authenticate') ?? '').toContain('error="invalid_token"');
  });

  it('a guest refresh token rotates and keeps the visitor subject; introspection shows it; revocation ends it', async () => {
    const { accessToken, refreshToken } = await guestToken();
    expect(typeof refreshToken).toBe('string');
    const sub = decodeJwt(accessToken).payload.sub;
    const rotated = await refresh(server, guestClient, refreshToken);
    const next = expectTokenSuccess(rotated);
    expect(decodeJwt(next).payload.sub).toBe(sub);
    expect((await apiGet(server.url, '/api/customerusers/mine', next)).status).toBe(403);

    const rs = await server.createClient({ side: 'storefront' });
    expect((await introspect(server.url, rs, next)).json).toMatchObject({ active: true, sub, client_id: guestClient.clientId });
    expect((await introspect(server.url, rs, rotated.json.refresh_token as string)).json).toMatchObject({ active: true, sub });

    expect((await revoke(server.url, guestClient, rotated.json.refresh_token as string)).status).toBe(200);
    expect((await apiGet(server.url, '/api/customerusers/mine', next)).status).toBe(401);
    expect(JSON.parse((await introspect(server.url, rs, next)).text)).toEqual({ active: false });
  });

  it('a confidential client that allows guests may omit PKCE', async () => {
    const result = await call(server.url, 'GET', visitorUrl({ response_type: 'code', client_id: confidentialGuestClient.clientId, state: 'c' }));
    const code = redirectQuery(result).searchParams.get('code') as string;
    expect(code).toBeTruthy();
    const exchanged = await tokenRequest(server.url, {
      grant_type: 'authorization_code',
      client_id: confidentialGuestClient.clientId,
      client_secret: confidentialGuestClient.clientSecret,
      redirect_uri: confidentialGuestClient.redirectUri,
      code,
    });
    expect(decodeJwt(expectTokenSuccess(exchanged)).payload.sub).toMatch(/^visitor:/);
  });

  it('the guest code is single use and bound to its PKCE verifier', async () => {
    const { code, verifier } = await guestCode();
    const body = { grant_type: 'authorization_code', client_id: guestClient.clientId, redirect_uri: guestClient.redirectUri, code };
    expectTokenError(await tokenRequest(server.url, { ...body, code_verifier: pkcePair().verifier }), 400, 'invalid_grant');
    // The failed attempt consumed it (one try per code).
    expectTokenError(await tokenRequest(server.url, { ...body, code_verifier: verifier }), 400, 'invalid_grant');
  });

  it('a client without allowGuests gets an error redirect: unauthorized_client with state and iss, and no code', async () => {
    const pkce = pkcePair();
    const result = await call(server.url, 'GET', visitorUrl({ response_type: 'code', client_id: noGuestsClient.clientId, state: 'ng', code_challenge: pkce.challenge, code_challenge_method: 'S256' }));
    const location = redirectQuery(result);
    expect(`${location.origin}${location.pathname}`).toBe(noGuestsClient.redirectUri);
    expect(location.searchParams.get('error')).toBe('unauthorized_client');
    expect(location.searchParams.get('state')).toBe('ng');
    expect(location.searchParams.get('iss')).toBe(PUBLIC_URL);
    expect(location.searchParams.get('code')).toBeNull();
  });

  it('a signed-in customer still gets only a guest code there, never one for their account', async () => {
    const customer = await createSideUser(server, 'storefront');
    const userClient = await server.createClient({ side: 'storefront', skipConsent: true });
    await issueToken(server, 'storefront', { user: customer, client: userClient });
    // The browser now has a storefront session; a client without allowGuests is still refused.
    const refused = await customer.browser.get(visitorUrl({ response_type: 'code', client_id: userClient.clientId }));
    expect(new URL(refused.location as string).searchParams.get('error')).toBe('unauthorized_client');
    // With a guest client, the code is a guest's: the session's user is not used without consent.
    const pkce = pkcePair();
    const page = await customer.browser.get(visitorUrl({ response_type: 'code', client_id: guestClient.clientId, code_challenge: pkce.challenge, code_challenge_method: 'S256' }));
    expect(page.status).toBe(302);
    const code = new URL(page.location as string).searchParams.get('code') as string;
    const exchanged = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: guestClient.clientId, redirect_uri: guestClient.redirectUri, code, code_verifier: pkce.verifier });
    const sub = decodeJwt(expectTokenSuccess(exchanged)).payload.sub as string;
    expect(sub).toMatch(/^visitor:/);
    expect(sub).not.toBe(String(customer.id));
  });

  it('PKCE rules still apply: a public guest client without code_challenge, or with plain, gets invalid_request', async () => {
    for (const params of [{}, { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }, { code_challenge: 'short', code_challenge_method: 'S256' }]) {
      const result = await call(server.url, 'GET', visitorUrl({ response_type: 'code', client_id: guestClient.clientId, state: 'p', ...params }));
      const location = redirectQuery(result);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('state')).toBe('p');
      expect(location.searchParams.get('iss')).toBe(PUBLIC_URL);
      expect(location.searchParams.get('code')).toBeNull();
    }
  });

  it('other authorize rules still apply: response_type, scope', async () => {
    const pkce = { code_challenge: pkcePair().challenge, code_challenge_method: 'S256' };
    const token = await call(server.url, 'GET', visitorUrl({ response_type: 'token', client_id: guestClient.clientId, ...pkce }));
    expect(redirectQuery(token).searchParams.get('error')).toBe('unsupported_response_type');
    const scope = await call(server.url, 'GET', visitorUrl({ response_type: 'code', client_id: guestClient.clientId, scope: 'no-such-scope', ...pkce }));
    expect(redirectQuery(scope).searchParams.get('error')).toBe('invalid_scope');
  });

  it('unknown clients, back-office clients and unregistered redirect URIs get an error page, never a redirect', async () => {
    const pkce = { code_challenge: pkcePair().challenge, code_challenge_method: 'S256' };
    expectErrorPage(await call(server.url, 'GET', visitorUrl({ response_type: 'code', client_id: 'no-such-client', ...pkce })), 400);
    expectErrorPage(await call(server.url, 'GET', visitorUrl({ response_type: 'code', ...pkce })), 400);
    const backoffice = await server.createClient({ side: 'backoffice', type: 'public' });
    expectErrorPage(await call(server.url, 'GET', visitorUrl({ response_type: 'code', client_id: backoffice.clientId, ...pkce })), 404);
    expectErrorPage(await call(server.url, 'GET', visitorUrl({ response_type: 'code', client_id: guestClient.clientId, redirect_uri: 'https://evil.example/callback', ...pkce })), 400);
  });

  it('POST answers 405 with Allow: GET and issues nothing', async () => {
    const pkce = pkcePair();
    const result = await call(server.url, 'POST', VISITOR_PATH, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ response_type: 'code', client_id: guestClient.clientId, code_challenge: pkce.challenge, code_challenge_method: 'S256' }).toString(),
    });
    expect(result.status).toBe(405);
    expect(result.headers.get('allow')).toBe('GET');
    expect(result.headers.get('location')).toBeNull();
  });

  it('the route does not exist on the back office', async () => {
    const result = await call(server.url, 'GET', `/admin${visitorUrl({ response_type: 'code', client_id: guestClient.clientId })}`);
    expect(result.status).toBe(404);
    expect(result.headers.get('location')).toBeNull();
    expect((await call(server.url, 'POST', '/admin/oauth2-token/authorize-visitor')).status).toBe(404);
  });

  it('HEAD issues no code', async () => {
    const pkce = pkcePair();
    const before = await server.grantry.database.db.selectFrom('authorization_codes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const result = await fetch(server.url + visitorUrl({ response_type: 'code', client_id: guestClient.clientId, code_challenge: pkce.challenge, code_challenge_method: 'S256' }), { method: 'HEAD', redirect: 'manual' });
    expect(result.headers.get('location')).toBeNull();
    const after = await server.grantry.database.db.selectFrom('authorization_codes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it('a guest page hop needs no browser state at all', async () => {
    const browser = new TestBrowser(server.url);
    const pkce = pkcePair();
    const page = await browser.get(visitorUrl({ response_type: 'code', client_id: guestClient.clientId, code_challenge: pkce.challenge, code_challenge_method: 'S256' }));
    expect(page.status).toBe(302);
    expect(new URL(page.location as string).searchParams.get('code')).toBeTruthy();
    expect(browser.cookies.size).toBe(0);
  });
});

describe.each(BACKENDS)('storefront guests with the storefront disabled (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { storefrontEnabled: false });
  });
  afterAll(() => server?.close());

  it('there is no guest route at all', async () => {
    const client = await server.createClient({ side: 'backoffice', type: 'public' });
    const result = await call(server.url, 'GET', visitorUrl({ response_type: 'code', client_id: client.clientId, code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
    expect(result.status).toBe(404);
    expect(result.headers.get('location')).toBeNull();
  });
});

describe.each(BACKENDS)('storefront guests are throttled per address (%s)', (backend) => {
  const LIMIT = 3;
  const WINDOW = 60;
  let server: TestServer;
  let guestClient: TestClient;
  beforeAll(async () => {
    // trust_proxy, so each test speaks from its own X-Forwarded-For address.
    server = await startTestServer(backend, { guestMaxAuthorizations: LIMIT, bruteForceWindow: WINDOW, trustProxy: ['127.0.0.1'] });
    guestClient = await server.createClient({ side: 'storefront', type: 'public', allowGuests: true });
  });
  afterAll(() => server?.close());

  const countRows = async (table: 'authorization_codes' | 'grants') =>
    Number((await server.grantry.database.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const guestFrom = (address: string, params: Record<string, string> = {}) =>
    call(server.url, 'GET', visitorUrl({ response_type: 'code', client_id: guestClient.clientId, code_challenge: pkcePair().challenge, code_challenge_method: 'S256', ...params }), {
      headers: { 'x-forwarded-for': address },
    });

  it(`after ${LIMIT} guest authorizations from one address: temporarily_unavailable back to the client with state, iss and Retry-After; nothing written`, async () => {
    const address = '203.0.113.10';
    for (let i = 0; i < LIMIT; i++) expect(redirectQuery(await guestFrom(address)).searchParams.get('code')).toBeTruthy();
    const [codes, grants] = [await countRows('authorization_codes'), await countRows('grants')];
    for (let i = 0; i < 2; i++) {
      const refused = await guestFrom(address, { state: `s${i}` });
      const location = redirectQuery(refused);
      expect(`${location.origin}${location.pathname}`).toBe(guestClient.redirectUri);
      expect(Object.fromEntries(location.searchParams)).toEqual({
        error: 'temporarily_unavailable',
        error_description: 'too many guest authorizations from this address; try again later',
        state: `s${i}`,
        iss: PUBLIC_URL,
      });
      expect(refused.headers.get('cache-control')).toBe('no-store');
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(WINDOW);
    }
    expect([await countRows('authorization_codes'), await countRows('grants')]).toEqual([codes, grants]);
    // Another address is not affected; the same address gets codes again once the window is over.
    expect(redirectQuery(await guestFrom('203.0.113.11')).searchParams.get('code')).toBeTruthy();
    await server.grantry.database.db.updateTable('failed_attempts').set({ window_start: 1 }).execute();
    expect(redirectQuery(await guestFrom(address)).searchParams.get('code')).toBeTruthy();
  });

  it('requests refused before the client is trusted write nothing and are not counted; the limit never touches sign-ins', async () => {
    const address = '203.0.113.20';
    for (let i = 0; i < LIMIT + 2; i++) expectErrorPage(await guestFrom(address, { client_id: 'no-such-client' }), 400);
    for (let i = 0; i < LIMIT; i++) expect(redirectQuery(await guestFrom(address)).searchParams.get('code')).toBeTruthy();
    expect(redirectQuery(await guestFrom(address)).searchParams.get('error')).toBe('temporarily_unavailable');
    // Guests are counted apart from failed passwords: the address's sign-in count is untouched.
    const signInCount = await server.grantry.database.db.selectFrom('failed_attempts').select('key').where('key', '=', server.grantry.hasher.hash(THROTTLE_PURPOSE, `ip:${address}`)).executeTakeFirst();
    expect(signInCount).toBeUndefined();
  });
});
