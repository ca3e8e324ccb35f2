/**
 * Brute-force protection over HTTP against real servers, on every backend: the login form, the
 * password grant and client secrets at the token, revocation and introspection endpoints. Limits
 * are small (3 failures per account and address, 6 per client and address, 60 per address, in a
 * 60-second window). The first server trusts X-Forwarded-For from 127.0.0.1 (the tests act as
 * its proxy), so each test comes from its own addresses; the second does not, and shares its
 * database with a second server process.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCleanup } from '../../src/management/cleanup.js';
import type { SideName } from '../../src/oauth/sides.js';
import { THROTTLE_PURPOSE } from '../../src/security/throttle.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { alertText, createUser, expectPage, fullwidth, loginPathOf, sessionCookieOf, type TestUser, unique } from '../helpers/authorize-pages.js';
import { BACKENDS } from '../helpers/backends.js';
import { formField, type PageResponse } from '../helpers/browser.js';
import { obtainCode, pkcePair, type TokenCall } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createSideUser, expectTokenError, expectTokenSuccess, SIDES, type TestClient } from '../helpers/tokens.js';
import { CLI } from '../../src/management/principal.js';

const MAX = 3;
const WINDOW = 60;
const GENERIC = 'Invalid credentials.';
const BLOCKED = /^Too many failed sign-in attempts\. Try again in 1 minute\.$/;
const BLOCKED_CLIENT = { error: 'invalid_client', error_description: 'too many failed attempts; try again later' };

let addressCounter = 0;
/** An address no other test of this file uses (TEST-NET-2). */
const freshAddress = () => {
  addressCounter += 1;
  return `198.51.${Math.floor(addressCounter / 250)}.${(addressCounter % 250) + 1}`;
};

/**
 * A browser at one address: keeps cookies like TestBrowser and sends X-Forwarded-For with
 * `address` (which only a server with trust_proxy believes).
 */
class AddressBrowser {
  readonly cookies = new Map<string, string>();

  constructor(
    readonly baseUrl: string,
    readonly address?: string,
  ) {}

  async request(method: 'GET' | 'POST', path: string, form?: Record<string, string>): Promise<PageResponse> {
    const headers: Record<string, string> = {};
    if (this.address) headers['x-forwarded-for'] = this.address;
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(this.baseUrl + path, { method, headers, body: form ? new URLSearchParams(form).toString() : undefined, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0/i.test(line)) this.cookies.delete(pair.slice(0, eq).trim());
      else this.cookies.set(pair.slice(0, eq).trim(), value);
    }
    return { status: response.status, headers: response.headers, body: await response.text(), location: response.headers.get('location') };
  }

  /** Posts the login form of `side` (with a CSRF token from a GET of the page). */
  async signIn(side: SideName, login: string, password: string): Promise<PageResponse> {
    const page = await this.request('GET', loginPathOf(side));
    return this.request('POST', loginPathOf(side), { csrf_token: formField(page.body, 'csrf_token') ?? '', login, password });
  }
}

/** A POST to a token endpoint from `address` (JSON body, optional HTTP Basic). */
async function post(baseUrl: string, path: string, body: Record<string, string | undefined>, options: { address?: string; basic?: { id: string; secret: string } } = {}): Promise<TokenCall> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.address) headers['x-forwarded-for'] = options.address;
  if (options.basic) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(options.basic.id)}:${encodeURIComponent(options.basic.secret)}`).toString('base64')}`;
  const response = await fetch(baseUrl + path, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Asserts a Retry-After of whole seconds within the window, and returns it. */
function expectRetryAfter(headers: Headers): number {
  const value = headers.get('retry-after');
  expect(value).toMatch(/^\d+$/);
  const seconds = Number(value);
  expect(seconds).toBeGreaterThanOrEqual(1);
  expect(seconds).toBeLessThanOrEqual(WINDOW);
  return seconds;
}

/** Asserts the login page's "blocked" answer: 429, the form again, the generic message, no session. */
function expectBlockedLogin(response: PageResponse, side: SideName): void {
  expectPage(response, 429);
  expectRetryAfter(response.headers);
  expect(alertText(response.body)).toMatch(BLOCKED);
  expect(response.body).toContain('name="password"');
  expect(response.body).toContain('name="csrf_token"');
  expect(response.headers.getSetCookie().some((c) => c.startsWith(`${sessionCookieOf(side)}=`))).toBe(false);
}

function expectFailedLogin(response: PageResponse): void {
  expectPage(response, 401);
  expect(alertText(response.body)).toBe(GENERIC);
}

/** Asserts the 429 invalid_client (or invalid_grant) answer of the token endpoints. */
function expectBlockedCall(call: TokenCall, error: 'invalid_client' | 'invalid_grant' = 'invalid_client'): void {
  expect({ status: call.status, json: call.json }).toEqual({ status: 429, json: { ...BLOCKED_CLIENT, error } });
  expect(call.headers.get('cache-control')).toBe('no-store');
  expect(call.headers.get('content-type')).toMatch(/^application\/json(;|$)/);
  expectRetryAfter(call.headers);
}

/** Moves every window of failed attempts into the past, as if the window had ended. */
const endWindows = (server: TestServer) => server.grantry.database.db.updateTable('failed_attempts').set({ window_start: 1 }).execute();

/** Whether a row exists for the raw throttle key (stored only as its keyed hash). */
async function hasRow(server: TestServer, key: string): Promise<boolean> {
  const row = await server.grantry.database.db.selectFrom('failed_attempts').select('key').where('key', '=', server.grantry.hasher.hash(THROTTLE_PURPOSE, key)).executeTakeFirst();
  return row !== undefined;
}

describe.each(BACKENDS)('brute-force protection behind a trusted proxy (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { bruteForceMaxFailures: MAX, bruteForceWindow: WINDOW, passwordGrantEnabled: true, trustProxy: ['127.0.0.1'] });
  });
  afterAll(() => server?.close());

  const at = (address = freshAddress()) => new AddressBrowser(server.url, address);

  describe.each(SIDES)('login form, %s', (side) => {
    it(`${MAX} wrong passwords, then even the right one gets 429 with Retry-After and the generic message, and no session; another address still signs in`, async () => {
      const user = await createUser(server, side);
      const browser = at();
      for (let i = 0; i < MAX; i++) expectFailedLogin(await browser.signIn(side, user.login, `wrong-${i}`));
      const blocked = await browser.signIn(side, user.login, user.password);
      expectBlockedLogin(blocked, side);
      expect(browser.cookies.has(sessionCookieOf(side))).toBe(false);
      // Still blocked on the next try, right or wrong.
      expectBlockedLogin(await browser.signIn(side, user.login, 'wrong-again'), side);
      // Per account and address: the user elsewhere is not locked out.
      const elsewhere = at();
      const ok = await elsewhere.signIn(side, user.login, user.password);
      expect(ok.status).toBe(303);
      expect(elsewhere.cookies.has(sessionCookieOf(side))).toBe(true);
    });

    it('another user at the same address is not blocked by them', async () => {
      const [victim, other] = [await createUser(server, side), await createUser(server, side)];
      const browser = at();
      for (let i = 0; i < MAX; i++) expectFailedLogin(await browser.signIn(side, victim.login, `wrong-${i}`));
      expectBlockedLogin(await browser.signIn(side, victim.login, victim.password), side);
      expect((await browser.signIn(side, other.login, other.password)).status).toBe(303);
    });

    it('an unknown login counts the same and gets the same answers as a known one', async () => {
      const known = await createUser(server, side);
      const unknown = side === 'backoffice' ? unique('nobody') : `${unique('nobody')}@example.com`;
      const [a, b] = [at(), at()];
      for (let i = 0; i < MAX; i++) {
        expectFailedLogin(await a.signIn(side, known.login, `wrong-${i}`));
        expectFailedLogin(await b.signIn(side, unknown, `wrong-${i}`));
      }
      const [blockedKnown, blockedUnknown] = [await a.signIn(side, known.login, known.password), await b.signIn(side, unknown, 'anything-1')];
      expectBlockedLogin(blockedKnown, side);
      expectBlockedLogin(blockedUnknown, side);
      expect(alertText(blockedUnknown.body)).toBe(alertText(blockedKnown.body));
    });

    it('a burst of parallel attempts cannot slip under the limit: at most the limit are checked', async () => {
      const user = await createUser(server, side);
      const address = freshAddress();
      const burst = [...Array.from({ length: 15 }, (_, i) => `wrong-${i}`), user.password].map((password) => at(address).signIn(side, user.login, password));
      const statuses = (await Promise.all(burst)).map((r) => r.status);
      // 401 (wrong) and 303 (right) mean the password was verified; 429 means it was not.
      expect(statuses.filter((status) => status === 401 || status === 303).length).toBeLessThanOrEqual(MAX);
      expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(16 - MAX);
    });

    it('every spelling of one login shares its count (case, width, trailing dot); a username and its email count apart', async () => {
      const user = await createUser(server, side);
      const browser = at();
      const spellings = [user.login.toUpperCase(), fullwidth(user.login), ` ${user.login.charAt(0).toUpperCase()}${user.login.slice(1)} `];
      for (const spelling of spellings) expectFailedLogin(await browser.signIn(side, spelling, 'wrong-password'));
      expectBlockedLogin(await browser.signIn(side, user.login, user.password), side);
      // The back-office email is another login with its own count: it still signs in.
      if (side === 'backoffice') expect((await browser.signIn(side, `${user.login.toUpperCase()}@example.com.`, user.password)).status).toBe(303);
    });

    it(`the statuses of ${MAX + 3} attempts are the same for an existing and an unknown login, spellings and email included (login form and password grant)`, async () => {
      const known = await createUser(server, side);
      const unknown = side === 'backoffice' ? unique('nobody') : `${unique('nobody')}@example.com`;
      const client = await server.createClient({ side, grants: ['password'] });
      const viaForm = async (login: string, password: string, address: string) => (await at(address).signIn(side, login, password)).status;
      const viaGrant = async (login: string, password: string, address: string) =>
        (await post(server.url, '/oauth2-token', { grant_type: 'password', client_id: client.clientId, client_secret: client.clientSecret, username: login, password }, { address })).status;
      /** MAX wrong passwords, then other spellings of the login, then its email (back office), from one new address. */
      const statuses = async (attempt: typeof viaForm, login: string) => {
        const address = freshAddress();
        const result: number[] = [];
        for (let i = 0; i < MAX; i++) result.push(await attempt(login, `wrong-${i}`, address));
        for (const spelling of [login.toUpperCase(), `${fullwidth(login)}${side === 'storefront' ? '.' : ''}`]) result.push(await attempt(spelling, `wrong-${spelling}`, address));
        if (side === 'backoffice') result.push(await attempt(`${login}@example.com`, 'wrong-email', address));
        return result;
      };
      const blocked = side === 'backoffice' ? [429, 429, expect.any(Number)] : [429, 429];
      for (const [attempt, failed] of [[viaForm, 401], [viaGrant, 400]] as const) {
        const [ofKnown, ofUnknown] = [await statuses(attempt, known.login), await statuses(attempt, unknown)];
        expect(ofKnown).toEqual(ofUnknown);
        expect(ofKnown).toEqual([...Array<number>(MAX).fill(failed), ...blocked]);
        // The email counts apart from the username: it was not blocked by the username's failures.
        if (side === 'backoffice') expect(ofKnown.at(-1)).toBe(failed);
      }
    });

    it('after the window the right password works, and a success resets the count of that account at that address', async () => {
      const user = await createUser(server, side);
      const address = freshAddress();
      const browser = at(address);
      for (let i = 0; i < MAX; i++) expectFailedLogin(await browser.signIn(side, user.login, `wrong-${i}`));
      expectBlockedLogin(await browser.signIn(side, user.login, user.password), side);
      await endWindows(server);
      expect((await browser.signIn(side, user.login, user.password)).status).toBe(303);
      // MAX - 1 failures, a success, MAX - 1 failures: never blocked, since the success reset the
      // count (without the reset, the last failure would already get 429).
      const again = at(address);
      for (let i = 0; i < MAX - 1; i++) expectFailedLogin(await again.signIn(side, user.login, `wrong-${i}`));
      expect(await hasRow(server, `login:${side}:${user.login}:${address}`)).toBe(true);
      expect((await again.signIn(side, user.login, user.password)).status).toBe(303);
      expect(await hasRow(server, `login:${side}:${user.login}:${address}`)).toBe(false);
      for (let i = 0; i < MAX - 1; i++) expectFailedLogin(await at(address).signIn(side, user.login, `wrong-${i}`));
      expect((await at(address).signIn(side, user.login, user.password)).status).toBe(303);
    });
  });

  it(`one address failing ${20 * MAX} times over many logins is blocked for every account, even with a right password; a success does not reset that`, async () => {
    const address = freshAddress();
    const browser = at(address);
    const page = await browser.request('GET', loginPathOf('storefront'));
    const csrf = formField(page.body, 'csrf_token') ?? '';
    const users: Record<SideName, TestUser> = { backoffice: await createUser(server, 'backoffice'), storefront: await createUser(server, 'storefront') };
    const fail = async (i: number) => {
      const side: SideName = i % 2 ? 'backoffice' : 'storefront';
      expectFailedLogin(await browser.request('POST', loginPathOf(side), { csrf_token: csrf, login: `${unique('sprayed')}@example.com`, password: `guess-${i}` }));
    };
    // Failures in small parallel batches, to keep the test fast.
    const sprayed = 20 * MAX - 2;
    for (let i = 0; i < sprayed; i += 6) await Promise.all(Array.from({ length: Math.min(6, sprayed - i) }, (_, j) => fail(i + j)));
    // One short of the limit, a right password still works: it resets that account's count
    // (one failure here), never the address's.
    expectFailedLogin(await at(address).signIn('storefront', users.storefront.login, 'wrong-password'));
    expect((await at(address).signIn('storefront', users.storefront.login, users.storefront.password)).status).toBe(303);
    await fail(20 * MAX);
    expectBlockedLogin(await at(address).signIn('backoffice', users.backoffice.login, users.backoffice.password), 'backoffice');
    expectBlockedLogin(await at(address).signIn('storefront', users.storefront.login, users.storefront.password), 'storefront');
    // The address's limit covers client secrets too.
    const client = await server.createClient({ side: 'storefront' });
    expectBlockedCall(await post(server.url, '/oauth2-token', { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret }, { address }));
    // Other addresses are not affected.
    expect((await at().signIn('backoffice', users.backoffice.login, users.backoffice.password)).status).toBe(303);
  });

  describe.each(SIDES)('client secrets, %s', (side) => {
    /** A confidential client-credentials client, so a right secret alone gets a token. */
    const ccClient = async (): Promise<TestClient> => server.createClient({ side, grants: ['client_credentials'], owner: (await createSideUser(server, side)).login });
    const cc = (client: TestClient, secret: string | undefined, address: string, basic = false) =>
      basic
        ? post(server.url, '/oauth2-token', { grant_type: 'client_credentials' }, { address, basic: { id: client.clientId, secret: secret ?? '' } })
        : post(server.url, '/oauth2-token', { grant_type: 'client_credentials', client_id: client.clientId, client_secret: secret }, { address });

    it(`${2 * MAX} wrong secrets, then the right one gets 429 invalid_client with Retry-After and no-store; revoke and introspect are blocked too; another address is not`, async () => {
      const client = await ccClient();
      const address = freshAddress();
      const token = expectTokenSuccess(await cc(client, client.clientSecret, address));
      // Body and HTTP Basic count the same.
      for (let i = 0; i < 2 * MAX; i++) expectTokenError(await cc(client, `wrong-secret-${i}`, address, i % 2 === 1), 401, 'invalid_client');
      const blocked = await cc(client, client.clientSecret, address);
      expectBlockedCall(blocked);
      expect(blocked.headers.get('www-authenticate')).toBeNull();
      expectBlockedCall(await cc(client, client.clientSecret, address, true));
      const auth = { client_id: client.clientId, client_secret: client.clientSecret };
      expectBlockedCall(await post(server.url, '/oauth2-token/revoke', { ...auth, token }, { address }));
      expectBlockedCall(await post(server.url, '/oauth2-token/introspect', { ...auth, token }, { address }));
      expectBlockedCall(await post(server.url, '/oauth2-token/introspect', { token }, { address, basic: { id: client.clientId, secret: client.clientSecret as string } }));
      // The token was neither revoked nor looked at; from another address all works.
      const elsewhere = freshAddress();
      expect((await post(server.url, '/oauth2-token/introspect', { ...auth, token }, { address: elsewhere })).json).toMatchObject({ active: true });
      expectTokenSuccess(await cc(client, client.clientSecret, elsewhere));
      expect((await post(server.url, '/oauth2-token/revoke', { ...auth, token }, { address: elsewhere })).status).toBe(200);
    });

    it('wrong secrets at the revocation and introspection endpoints count too', async () => {
      const client = await ccClient();
      const address = freshAddress();
      for (let i = 0; i < 2 * MAX; i++) {
        const path = i % 2 ? '/oauth2-token/revoke' : '/oauth2-token/introspect';
        expectTokenError(await post(server.url, path, { client_id: client.clientId, client_secret: `wrong-${i}`, token: 'x' }, { address }), 401, 'invalid_client');
      }
      expectBlockedCall(await cc(client, client.clientSecret, address));
    });

    it('a right secret resets the count of that client at that address', async () => {
      const client = await ccClient();
      const address = freshAddress();
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 2 * MAX - 1; i++) expectTokenError(await cc(client, `wrong-${round}-${i}`, address), 401, 'invalid_client');
        expectTokenSuccess(await cc(client, client.clientSecret, address));
      }
      expect(await hasRow(server, `client:${client.clientId}:${address}`)).toBe(false);
    });

    it('a public client is unaffected: it sends no secret, its failures are not counted, and a blocked address does not stop it', async () => {
      const user = await createSideUser(server, side);
      const client = await server.createClient({ side, type: 'public' });
      const address = freshAddress();
      for (let i = 0; i < 2 * MAX + 1; i++) {
        const call = await post(server.url, '/oauth2-token', { grant_type: 'authorization_code', client_id: client.clientId, redirect_uri: client.redirectUri, code: `bad-code-${i}`, code_verifier: 'v'.repeat(43) }, { address });
        expectTokenError(call, 400, 'invalid_grant');
      }
      expect(await hasRow(server, `client:${client.clientId}:${address}`)).toBe(false);
      expect(await hasRow(server, `ip:${address}`)).toBe(false);
      // Block the address with wrong secrets of unknown clients: confidential clients are refused, the public one is not.
      for (let i = 0; i < 20 * MAX; i += 6) {
        await Promise.all(Array.from({ length: 6 }, (_, j) => post(server.url, '/oauth2-token', { grant_type: 'client_credentials', client_id: `unknown-${i + j}`, client_secret: 'guess' }, { address })));
      }
      const confidential = await ccClient();
      expectBlockedCall(await cc(confidential, confidential.clientSecret, address));
      const pkce = pkcePair();
      const code = await obtainCode(user.browser, side, { response_type: 'code', client_id: client.clientId, code_challenge: pkce.challenge, code_challenge_method: 'S256' }, { login: user.login, password: user.password });
      expectTokenSuccess(
        await post(server.url, '/oauth2-token', { grant_type: 'authorization_code', client_id: client.clientId, redirect_uri: client.redirectUri, code, code_verifier: pkce.verifier }, { address }),
      );
    });
  });

  describe.each(SIDES)('password grant, %s', (side) => {
    it(`${MAX} failures, then 429 invalid_grant with Retry-After even for the right password; the login form shares the count; another address is not blocked`, async () => {
      const user = await createSideUser(server, side);
      const client = await server.createClient({ side, grants: ['password'] });
      const address = freshAddress();
      const pw = (password: string, from = address) =>
        post(server.url, '/oauth2-token', { grant_type: 'password', client_id: client.clientId, client_secret: client.clientSecret, username: user.login, password }, { address: from });
      for (let i = 0; i < MAX; i++) expectTokenError(await pw(`wrong-${i}`), 400, 'invalid_grant');
      expectBlockedCall(await pw(user.password), 'invalid_grant');
      expectBlockedLogin(await at(address).signIn(side, user.login, user.password), side);
      expectTokenSuccess(await pw(user.password, freshAddress()));
    });

    it('a disabled or locked account with the right password counts as a failure: blocked after the limit', async () => {
      const flags = side === 'backoffice' ? (['enabled', 'locked'] as const) : (['enabled'] as const);
      for (const flag of flags) {
        const user = await createSideUser(server, side);
        const client = await server.createClient({ side, grants: ['password'] });
        await server.grantry.users.setFlag(CLI, side, user.login, flag, flag === 'locked');
        const address = freshAddress();
        const pw = () => post(server.url, '/oauth2-token', { grant_type: 'password', client_id: client.clientId, client_secret: client.clientSecret, username: user.login, password: user.password }, { address });
        for (let i = 0; i < MAX; i++) expectTokenError(await pw(), 400, 'invalid_grant');
        expectBlockedCall(await pw(), 'invalid_grant');
      }
    });

    it('failures at the login form count against the password grant, and a success resets them', async () => {
      const user = await createSideUser(server, side);
      const client = await server.createClient({ side, grants: ['password'] });
      const address = freshAddress();
      const pw = (password: string) =>
        post(server.url, '/oauth2-token', { grant_type: 'password', client_id: client.clientId, client_secret: client.clientSecret, username: user.login, password }, { address });
      for (let i = 0; i < MAX - 1; i++) expectFailedLogin(await at(address).signIn(side, user.login, `wrong-${i}`));
      expectTokenSuccess(await pw(user.password));
      for (let i = 0; i < MAX - 1; i++) expectTokenError(await pw(`wrong-${i}`), 400, 'invalid_grant');
      expectFailedLogin(await at(address).signIn(side, user.login, 'wrong-last'));
      expectBlockedCall(await pw(user.password), 'invalid_grant');
    });
  });
});

describe.each(BACKENDS)('brute-force limits without a proxy, shared by server processes (%s)', (backend) => {
  let server: TestServer;
  let twin: RunningServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { bruteForceMaxFailures: MAX, bruteForceWindow: WINDOW, cleanupInterval: 0 });
    twin = await startServer(server.config, () => {});
  });
  afterAll(async () => {
    await twin?.close();
    await server?.close();
  });
  // Every request here comes from 127.0.0.1: each test starts from no failures.
  beforeEach(async () => {
    await server.grantry.database.db.deleteFrom('failed_attempts').execute();
  });

  it('X-Forwarded-For is not believed without trust_proxy: changing it does not escape the limit', async () => {
    const user = await createUser(server, 'backoffice');
    for (let i = 0; i < MAX; i++) expectFailedLogin(await new AddressBrowser(server.url, freshAddress()).signIn('backoffice', user.login, `wrong-${i}`));
    expectBlockedLogin(await new AddressBrowser(server.url, freshAddress()).signIn('backoffice', user.login, user.password), 'backoffice');
    expect(await hasRow(server, `login:backoffice:${user.login}:127.0.0.1`)).toBe(true);
  });

  it('two server processes on one database share the counts of logins and client secrets', async () => {
    expect(twin.url).not.toBe(server.url);
    const urls = [server.url, twin.url];
    const user = await createUser(server, 'storefront');
    for (let i = 0; i < MAX; i++) expectFailedLogin(await new AddressBrowser(urls[i % 2] as string).signIn('storefront', user.login, `wrong-${i}`));
    for (const url of urls) expectBlockedLogin(await new AddressBrowser(url).signIn('storefront', user.login, user.password), 'storefront');

    const client = await server.createClient({ side: 'storefront', grants: ['client_credentials'], owner: user.login });
    const cc = (url: string, secret: string | undefined) => post(url, '/oauth2-token', { grant_type: 'client_credentials', client_id: client.clientId, client_secret: secret });
    for (let i = 0; i < 2 * MAX; i++) expectTokenError(await cc(urls[i % 2] as string, `wrong-${i}`), 401, 'invalid_client');
    for (const url of urls) expectBlockedCall(await cc(url, client.clientSecret));

    // When the window is over, both let the right credentials in again.
    await endWindows(server);
    expect((await new AddressBrowser(twin.url).signIn('storefront', user.login, user.password)).status).toBe(303);
    expectTokenSuccess(await cc(twin.url, client.clientSecret));
    expectTokenSuccess(await cc(server.url, client.clientSecret));
  });

  it('concurrent failures from both processes are each counted once (one atomic statement)', async () => {
    const key = `test:${unique('concurrent')}`;
    const stored = server.grantry.hasher.hash(THROTTLE_PURPOSE, key);
    const now = Math.floor(Date.now() / 1000);
    const repos = [server.grantry.repos.throttle, twin.grantry.repos.throttle];
    const counts = (await Promise.all(Array.from({ length: 20 }, (_, i) => (repos[i % 2] as (typeof repos)[number]).recordFailure(stored, now, WINDOW)))).map((w) => w.failures);
    expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await server.grantry.repos.throttle.failures([stored], now - WINDOW)).toEqual([{ key: stored, failures: 20, windowStart: now }]);
    // A failure after the window starts a new one.
    expect(await server.grantry.repos.throttle.recordFailure(stored, now + WINDOW, WINDOW)).toEqual({ failures: 1, windowStart: now + WINDOW });
    expect(await server.grantry.repos.throttle.failures([stored], now)).toEqual([{ key: stored, failures: 1, windowStart: now + WINDOW }]);
  });

  it('failed_attempts holds only keyed hashes, never a login, client_id or address', async () => {
    const user = await createUser(server, 'backoffice');
    const unknown = unique('ghost');
    for (const login of [user.login, unknown]) expectFailedLogin(await new AddressBrowser(server.url).signIn('backoffice', login, 'wrong-password'));
    const client = await server.createClient({ side: 'backoffice', grants: ['client_credentials'], owner: user.login });
    expectTokenError(await post(server.url, '/oauth2-token', { grant_type: 'client_credentials', client_id: client.clientId, client_secret: 'wrong' }), 401, 'invalid_client');
    const rows = await server.grantry.database.db.selectFrom('failed_attempts').selectAll().execute();
    // Two logins, one client, one address.
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.key).toMatch(/^[A-Za-z0-9_-]{43}$/);
      for (const raw of [user.login, unknown, client.clientId, '127.0.0.1', 'login:', 'client:', 'ip:']) expect(row.key).not.toContain(raw);
    }
    expect(await hasRow(server, `login:backoffice:${user.login}:127.0.0.1`)).toBe(true);
    expect(await hasRow(server, `login:backoffice:${unknown.toLowerCase()}:127.0.0.1`)).toBe(true);
    expect(await hasRow(server, `client:${client.clientId}:127.0.0.1`)).toBe(true);
    expect(Number((await server.grantry.database.db.selectFrom('failed_attempts').select('failures').where('key', '=', server.grantry.hasher.hash(THROTTLE_PURPOSE, 'ip:127.0.0.1')).executeTakeFirstOrThrow()).failures)).toBe(3);
  });

  it('the cleanup deletes the counts whose window is over and keeps the others', async () => {
    const user = await createUser(server, 'backoffice');
    for (const login of [user.login, unique('ghost')]) expectFailedLogin(await new AddressBrowser(server.url).signIn('backoffice', login, 'wrong-password'));
    const now = Math.floor(Date.now() / 1000);
    const liveKey = server.grantry.hasher.hash(THROTTLE_PURPOSE, `login:backoffice:${user.login}:127.0.0.1`);
    // Everything but the user's count is from a window that ended a second ago.
    await server.grantry.database.db.updateTable('failed_attempts').set({ window_start: now - WINDOW - 1 }).where('key', '!=', liveKey).execute();
    const deleted = await runCleanup(server.grantry, now);
    expect(deleted.failed_attempts).toBe(2);
    expect((await server.grantry.database.db.selectFrom('failed_attempts').select('key').execute()).map((r) => r.key)).toEqual([liveKey]);
  });
});
