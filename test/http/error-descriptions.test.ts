/**
 * Error descriptions never echo what the request sent: a value put in any parameter of the
 * authorize, token, revocation and introspection endpoints (or an API path) must not come back
 * in the Location header or the body, where it would reach the client's redirect URI or its
 * logs as if Grantry had written it (markup, a phone number to call, a link). Only `state` is
 * returned, as RFC 6749 §4.1.2 requires, and it is never given a marker here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { signedInBrowser } from '../helpers/authorize-pages.js';
import { BACKENDS } from '../helpers/backends.js';
import { TestBrowser } from '../helpers/browser.js';
import { call, INTROSPECTION_PATH, postWithClient, REVOCATION_PATH } from '../helpers/endpoints.js';
import { pairOf } from '../helpers/lifecycle.js';
import { authorizePath, pkcePair } from '../helpers/oauth.js';
import type { TestServer } from '../helpers/server.js';
import { codeFor, SIDES, type SideUser, startServerWithSideUsers, type TestClient } from '../helpers/tokens.js';

const TAG = 'zq7marker';
/** A plain token (valid scope and grant_type syntax, so it gets past the syntax checks), markup, and a phone number. */
const MARKERS = [TAG, `<a href="https://evil.example">${TAG}</a>`, `call+1-555-0199-${TAG}`];

/** Fails when the marker appears in the Location header or the body, raw or percent-decoded. */
function expectNoEcho(what: string, response: { status: number; location: string | null; body: string }): void {
  const location = response.location ?? '';
  let decoded = location;
  try {
    decoded = decodeURIComponent(location.replace(/\+/g, ' '));
  } catch {
    // Left as it is.
  }
  expect(response.status, what).toBeLessThan(500);
  expect({ what, location: decoded.includes(TAG) ? decoded : '', body: response.body.includes(TAG) ? response.body : '' }).toEqual({ what, location: '', body: '' });
}

describe.each(BACKENDS)('error descriptions do not echo request values (%s)', (backend) => {
  let server: TestServer;
  let users: Record<SideName, SideUser>;

  beforeAll(async () => {
    // Wrong secrets are part of the run: the brute-force limit must not hide the answers behind 429s.
    ({ server, users } = await startServerWithSideUsers(backend, { passwordGrantEnabled: true, bruteForceMaxFailures: 1000 }));
  });
  afterAll(() => server?.close());

  describe.each(SIDES)('%s', (side) => {
    let client: TestClient;
    let browser: TestBrowser;

    beforeAll(async () => {
      client = await server.createClient({ side, grants: ['authorization_code', 'refresh_token', 'client_credentials', 'password'], owner: users[side].login });
      ({ browser } = await signedInBrowser(server, side));
    });

    it('authorize, GET and POST, signed in or not: every parameter', async () => {
      const pkce = pkcePair();
      const valid: Record<string, string> = {
        response_type: 'code',
        client_id: client.clientId,
        redirect_uri: client.redirectUri,
        scope: 'api',
        state: 'xyz',
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
      };
      const names = [...Object.keys(valid).filter((n) => n !== 'state'), 'decision', 'csrf_token', 'unknown_parameter'];
      const anonymous = new TestBrowser(server.url);
      for (const who of [anonymous, browser]) {
        for (const name of names) {
          for (const marker of MARKERS) {
            const params = { ...valid, [name]: marker };
            const get = await who.get(`${authorizePath(side)}?${new URLSearchParams(params)}`);
            expectNoEcho(`GET ${name}=${marker}`, get);
            const post = await who.post(authorizePath(side), params);
            expectNoEcho(`POST ${name}=${marker}`, post);
          }
        }
      }
    });

    it('token endpoint, every grant type, form and JSON: every parameter', async () => {
      const { refreshToken } = pairOf(await postWithClient(server.url, '/oauth2-token', client, {
        grant_type: 'authorization_code',
        code: await codeFor(users[side], client),
        redirect_uri: client.redirectUri,
      }));
      const grants: Record<string, string>[] = [
        { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: client.redirectUri, code_verifier: pkcePair().verifier },
        { grant_type: 'refresh_token', refresh_token: refreshToken, scope: 'api' },
        { grant_type: 'client_credentials', scope: 'api' },
        { grant_type: 'password', username: users[side].login, password: users[side].password, scope: 'api' },
      ];
      const bodies = grants.map((b): Record<string, string> => ({ client_id: client.clientId, client_secret: client.clientSecret as string, ...b }));
      for (const body of bodies) {
        for (const name of [...Object.keys(body), 'unknown_parameter']) {
          for (const marker of MARKERS) {
            for (const format of ['form', 'json'] as const) {
              const result = await postWithClient(server.url, '/oauth2-token', undefined, { ...body, [name]: marker }, { format });
              expectNoEcho(`${body.grant_type} ${format} ${name}=${marker}`, { status: result.status, location: null, body: result.text });
            }
          }
        }
      }
    });

    it.each([REVOCATION_PATH, INTROSPECTION_PATH])('%s: every parameter', async (path) => {
      const body: Record<string, string> = { client_id: client.clientId, client_secret: client.clientSecret as string, token: 'some-token', token_type_hint: 'refresh_token' };
      for (const name of [...Object.keys(body), 'unknown_parameter']) {
        for (const marker of MARKERS) {
          for (const format of ['form', 'json'] as const) {
            const result = await postWithClient(server.url, path, undefined, { ...body, [name]: marker }, { format });
            expectNoEcho(`${path} ${format} ${name}=${marker}`, { status: result.status, location: null, body: result.text });
          }
        }
      }
    });
  });

  it('the back-office API: a path that names no user or cannot be decoded', async () => {
    const client = await server.createClient({ side: 'backoffice', grants: ['client_credentials'], owner: users.backoffice.login });
    const token = await postWithClient(server.url, '/oauth2-token', client, { grant_type: 'client_credentials' }).then((r) => r.json.access_token as string);
    for (const path of [`/admin/api/users/${TAG}`, `/admin/api/users/${TAG}%zz`, `/admin/api/${TAG}`]) {
      const result = await call(server.url, 'GET', path, { headers: { authorization: `Bearer ${token}` } });
      expect(result.status, path).toBeGreaterThanOrEqual(400);
      expectNoEcho(path, { status: result.status, location: null, body: result.text });
    }
  });
});
