/**
 * Text that no parameter may carry: NUL and other control characters, lone surrogates (which
 * have no UTF-8 form) and over-long values. PostgreSQL refuses NUL in text ("invalid byte
 * sequence"), so before the shared check such values reached it and the server answered 500.
 * Every entry point must answer with its own normal error instead, on every backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { alertText, expectErrorPage, expectErrorRedirect, issuerOf, loginPathOf } from '../helpers/authorize-pages.js';
import { BACKENDS } from '../helpers/backends.js';
import { formField, TestBrowser } from '../helpers/browser.js';
import { call, expectOAuthError, INTROSPECTION_PATH, REVOCATION_PATH } from '../helpers/endpoints.js';
import { authorizePath, basicHeader } from '../helpers/oauth.js';
import { DEFAULT_REDIRECT_URI, type TestServer } from '../helpers/server.js';
import { hashPassword } from '../../src/security/passwords.js';
import { createSideUser, expectTokenSuccess, rawTokenPost, SIDES, type SideUser, startServerWithSideUsers, type TestClient } from '../helpers/tokens.js';

/** Longer than any parameter may be (src/security/input.ts), and still inside the 64 KiB body limit. */
const OVER_LONG = 'x'.repeat(20_000);

/** A form body and a JSON body with `name` set to each kind of bad text (lone surrogates as raw bytes and as a JSON escape). */
function badBodies(fields: Record<string, string>, name: string): { label: string; body: string; type: string }[] {
  const form = (raw: string) => `${new URLSearchParams({ ...fields, [name]: 'x' })}`.replace(`${encodeURIComponent(name)}=x`, `${encodeURIComponent(name)}=${raw}`);
  const json = (raw: string) => JSON.stringify({ ...fields, [name]: 'x' }).replace(`"${name}":"x"`, `"${name}":${raw}`);
  const formType = 'application/x-www-form-urlencoded';
  const jsonType = 'application/json';
  return [
    { label: 'form, NUL', body: form('a%00b'), type: formType },
    { label: 'form, other control character', body: form('a%1Bb'), type: formType },
    { label: 'form, over-long', body: form(OVER_LONG), type: formType },
    { label: 'JSON, NUL', body: json('"a\\u0000b"'), type: jsonType },
    { label: 'JSON, lone surrogate', body: json('"a\\ud800b"'), type: jsonType },
    { label: 'JSON, over-long', body: json(`"${OVER_LONG}"`), type: jsonType },
  ];
}

describe.each(BACKENDS)('control characters, lone surrogates and over-long text (%s)', (backend) => {
  let server: TestServer;
  let users: Record<SideName, SideUser>;
  let client: TestClient;

  beforeAll(async () => {
    ({ server, users } = await startServerWithSideUsers(backend, { passwordGrantEnabled: true }));
    client = await server.createClient({ side: 'backoffice', grants: ['authorization_code', 'password', 'client_credentials'], owner: users.backoffice.login });
  });
  afterAll(() => server?.close());

  const post = (path: string, body: string, type: string, headers: Record<string, string> = {}) =>
    call(server.url, 'POST', path, { headers: { 'content-type': type, ...headers }, body });

  describe('token, revocation and introspection endpoints: 400 invalid_request', () => {
    const cases = (): [string, Record<string, string>, string][] => [
      ['/oauth2-token', { grant_type: 'client_credentials', client_secret: client.clientSecret as string }, 'client_id'],
      ['/oauth2-token', { grant_type: 'password', client_id: client.clientId, client_secret: client.clientSecret as string, password: 'whatever-1' }, 'username'],
      // A login of its own: these wrong passwords are counted by the brute-force limit.
      ['/oauth2-token', { grant_type: 'password', client_id: client.clientId, client_secret: client.clientSecret as string, username: 'someone-else' }, 'password'],
      ['/oauth2-token', { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret as string }, 'scope'],
      [REVOCATION_PATH, { client_secret: client.clientSecret as string, token: 't' }, 'client_id'],
      [REVOCATION_PATH, { client_id: client.clientId, client_secret: client.clientSecret as string }, 'token'],
      [INTROSPECTION_PATH, { client_id: client.clientId, client_secret: client.clientSecret as string }, 'token'],
    ];

    it('in every parameter, as a form or as JSON', async () => {
      for (const [path, fields, name] of cases()) {
        for (const { label, body, type } of badBodies(fields, name)) {
          const result = await post(path, body, type);
          // A presented password is only hashed: any character is merely a wrong password; only its length is refused.
          if (name === 'password' && !label.endsWith('over-long')) {
            expectOAuthError(result, 400, 'invalid_grant');
            continue;
          }
          expect({ path, name, label, status: result.status, error: result.json.error }).toEqual({ path, name, label, status: 400, error: 'invalid_request' });
          expectOAuthError(result, 400, 'invalid_request');
          expect(result.json.error_description).toBe(`the ${name} parameter ${label.endsWith('over-long') ? 'is too long' : 'contains characters that are not allowed'}`);
        }
      }
      // Nothing was stored, and the client still works.
      expectTokenSuccess(await rawTokenPost(server.url, JSON.stringify({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret }), { 'content-type': 'application/json' }));
    });

    it('invalid UTF-8 in a form body is read as U+FFFD: an unknown client, not a server error', async () => {
      const result = await post('/oauth2-token', 'grant_type=client_credentials&client_id=%ED%A0%80&client_secret=s', 'application/x-www-form-urlencoded');
      expectOAuthError(result, 401, 'invalid_client');
    });

    it('a NUL or control character in HTTP Basic credentials: 401 invalid_client', async () => {
      for (const [id, secret] of [['a\u0000b', 's'], [client.clientId, `${client.clientSecret}\u0000`], ['a\u001fb', 's']] as const) {
        const result = await post('/oauth2-token', 'grant_type=client_credentials', 'application/x-www-form-urlencoded', { authorization: basicHeader(id, secret) });
        expectOAuthError(result, 401, 'invalid_client');
      }
    });
  });

  describe.each(SIDES)('authorize endpoint, %s', (side) => {
    it('client_id or redirect_uri with a NUL, a control character or over-long: the error page, never a redirect', async () => {
      const browser = new TestBrowser(server.url);
      const own = side === 'backoffice' ? client.clientId : (await server.createClient({ side })).clientId;
      for (const params of [
        { client_id: 'a\u0000b' } as Record<string, string>,
        { client_id: 'a\nb' },
        { client_id: own, redirect_uri: `${DEFAULT_REDIRECT_URI}\u0000` },
        { client_id: own, redirect_uri: `${DEFAULT_REDIRECT_URI}\t` },
      ]) {
        const query = new URLSearchParams({ response_type: 'code', ...params });
        const title = 'redirect_uri' in params ? 'Invalid redirect URI' : 'Invalid client';
        expectErrorPage(await browser.get(`${authorizePath(side)}?${query}`), 400, title);
        expectErrorPage(await browser.post(authorizePath(side), Object.fromEntries(query)), 400, title);
      }
      const long = await browser.post(authorizePath(side), { response_type: 'code', client_id: OVER_LONG });
      expectErrorPage(long, 400, 'Invalid client');
      expect(long.body).toContain('the client_id parameter is too long');
    });

    it('any other parameter with a NUL or over-long: an invalid_request redirect (without the bad state)', async () => {
      const browser = new TestBrowser(server.url);
      const own = side === 'backoffice' ? client.clientId : (await server.createClient({ side })).clientId;
      const base = { response_type: 'code', client_id: own, state: 'xyz' };
      for (const [name, value] of [['scope', 'api\u0000'], ['state', 'a\u0000b'], ['code_challenge', 'a\u0001'], ['response_type', 'code\u0000'], ['scope', OVER_LONG]] as const) {
        const params = { ...base, [name]: value };
        const expected = { target: DEFAULT_REDIRECT_URI, error: 'invalid_request', state: name === 'state' ? null : 'xyz', iss: issuerOf(side) };
        if (value !== OVER_LONG) expectErrorRedirect(await browser.get(`${authorizePath(side)}?${new URLSearchParams(params)}`), expected);
        expectErrorRedirect(await browser.post(authorizePath(side), params), { ...expected, status: 303 });
      }
    });
  });

  describe.each(SIDES)('login form, %s', (side) => {
    /** Posts an exact body to the login form with a valid CSRF token. */
    async function postLogin(body: (csrf: string) => string, type = 'application/x-www-form-urlencoded') {
      const browser = new TestBrowser(server.url);
      const page = await browser.get(loginPathOf(side));
      const csrf = formField(page.body, 'csrf_token') as string;
      const cookie = [...browser.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
      const response = await fetch(server.url + loginPathOf(side), { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': type }, body: body(csrf) });
      return { status: response.status, body: await response.text() };
    }

    it('a NUL, a control character, a lone surrogate or an over-long login or password: the generic failure', async () => {
      const user = users[side];
      const form = (login: string, password: string) => (csrf: string) => `csrf_token=${encodeURIComponent(csrf)}&login=${login}&password=${password}`;
      const json = (login: string, password: string) => (csrf: string) => `{"csrf_token":${JSON.stringify(csrf)},"login":${login},"password":${password}}`;
      const login = encodeURIComponent(user.login);
      const password = encodeURIComponent(user.password);
      for (const [label, body, type] of [
        ['NUL in the login', form('a%00b', password)],
        ['NUL after a real login', form(`${login}%00`, password)],
        ['escape character in the login', form(`${login}%1B`, password)],
        ['raw invalid UTF-8 in the login', form('%ED%A0%80', password)],
        ['over-long login', form(OVER_LONG, password)],
        ['NUL in the password', form(login, `${password}%00`)],
        ['over-long password', form(login, OVER_LONG)],
        ['JSON, lone surrogate in the login', json('"\\ud800"', JSON.stringify(user.password)), 'application/json'],
        ['JSON, NUL in the login', json('"a\\u0000"', JSON.stringify(user.password)), 'application/json'],
      ] as const) {
        const result = await postLogin(body, type);
        expect({ label, status: result.status, alert: alertText(result.body) }).toEqual({ label, status: 401, alert: 'Invalid credentials.' });
      }
      // The account still signs in.
      expect((await postLogin(form(login, password))).status).toBe(303);
    });

    it('a password holding a TAB or an escape character, set before the text rule, still signs in (form and password grant)', async () => {
      // RFC 6749 Appendix A allows every character but CR and LF in passwords; only new ones are refused such text.
      const user = await createSideUser(server, side);
      const password = 'tab\there\u001bescape-1';
      const table = side === 'backoffice' ? 'backoffice_users' : 'customer_users';
      await server.grantry.database.db.updateTable(table).set({ password_hash: await hashPassword(password) }).where('id', '=', user.id).execute();
      const form = (csrf: string) => `csrf_token=${encodeURIComponent(csrf)}&login=${encodeURIComponent(user.login)}&password=${encodeURIComponent(password)}`;
      expect((await postLogin(form)).status).toBe(303);
      if (side === 'backoffice') {
        const grant = await rawTokenPost(server.url, JSON.stringify({ grant_type: 'password', username: user.login, password, client_id: client.clientId, client_secret: client.clientSecret }), { 'content-type': 'application/json' });
        expectTokenSuccess(grant);
      }
    });
  });

  describe('back-office API: path and query parameters', () => {
    it('a NUL in the path or the query is 400 Bad request (JSON:API); an id beyond 32 bits is 404', async () => {
      const token = expectTokenSuccess(await rawTokenPost(server.url, JSON.stringify({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret }), { 'content-type': 'application/json' }));
      const get = (path: string) => call(server.url, 'GET', path, { headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.api+json' } });
      for (const path of ['/admin/api/users/%00', '/admin/api/users/1%00', '/admin/api/users?page[number]=%00', '/admin/api/users?x=%1B']) {
        const result = await get(path);
        expect({ path, status: result.status }).toEqual({ path, status: 400 });
        expect(result.headers.get('content-type')).toBe('application/vnd.api+json');
        expect(result.json).toEqual({ errors: [{ status: '400', title: 'Bad request', detail: expect.any(String) }] });
      }
      for (const id of ['99999999999', '2147483648', '0', '9'.repeat(40)]) {
        const result = await get(`/admin/api/users/${id}`);
        expect({ id, status: result.status }).toEqual({ id, status: 404 });
      }
      expect((await get(`/admin/api/users/${users.backoffice.id}`)).status).toBe(200);
    });
  });
});
