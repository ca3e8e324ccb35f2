/**
 * A JSON body that names a key twice is refused, as a form that repeats a parameter is (RFC 6749
 * §3.1): JSON.parse keeps the last value, and a proxy or firewall reading the first would judge
 * another request than the one Grantry serves. At the top level the endpoint names the
 * repeated parameter (when it is one it reads); inside a nested object the body is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { BACKENDS } from '../helpers/backends.js';
import { call, expectOAuthError, INTROSPECTION_PATH, REVOCATION_PATH } from '../helpers/endpoints.js';
import type { TestServer } from '../helpers/server.js';
import { expectTokenSuccess, SIDES, type SideUser, startServerWithSideUsers, type TestClient } from '../helpers/tokens.js';

/** `fields` as JSON text with `extra` appended verbatim, so that a key can appear twice. */
const jsonWith = (fields: Record<string, string>, extra: string) => `${JSON.stringify(fields).slice(0, -1)},${extra}}`;

describe.each(BACKENDS)('repeated keys in JSON bodies (%s)', (backend) => {
  let server: TestServer;
  let users: Record<SideName, SideUser>;

  beforeAll(async () => {
    ({ server, users } = await startServerWithSideUsers(backend));
  });
  afterAll(() => server?.close());

  describe.each(SIDES)('%s', (side) => {
    let client: TestClient;
    let other: TestClient;
    let auth: Record<string, string>;
    let token: string;
    const post = (path: string, body: string) => call(server.url, 'POST', path, { headers: { 'content-type': 'application/json' }, body });

    beforeAll(async () => {
      client = await server.createClient({ side, grants: ['client_credentials'], owner: users[side].login });
      other = await server.createClient({ side, grants: ['client_credentials'], owner: users[side].login });
      auth = { client_id: client.clientId, client_secret: client.clientSecret as string };
      token = expectTokenSuccess(await post('/oauth2-token', JSON.stringify({ grant_type: 'client_credentials', ...auth })));
    });

    it('token endpoint: a repeated parameter is 400 invalid_request naming it, whatever the two values', async () => {
      const base = { grant_type: 'client_credentials', ...auth };
      for (const [name, extra] of [
        ['grant_type', '"grant_type":"client_credentials"'],
        ['grant_type', '"grant_type":"password"'],
        ['client_id', `"client_id":${JSON.stringify(other.clientId)}`],
        ['client_secret', `"client_secret":${JSON.stringify(client.clientSecret)}`],
        // The same key spelled with an escape is the same key.
        ['client_id', `"client\\u005fid":${JSON.stringify(client.clientId)}`],
        ['scope', '"scope":"api","scope":"read"'],
      ] as const) {
        const result = await post('/oauth2-token', jsonWith(base, extra));
        expectOAuthError(result, 400, 'invalid_request');
        expect({ extra, description: result.json.error_description }).toEqual({ extra, description: `the ${name} parameter must not be repeated` });
      }
    });

    it('token endpoint: a key repeated inside a nested object is 400 invalid_request; __proto__ stays refused', async () => {
      const base = { grant_type: 'client_credentials', ...auth };
      for (const extra of ['"x":{"a":1,"a":2}', '"x":[{"a":1},{"b":[{"c":1,"c":1}]}]', '"__proto__":{"grant_type":"password"}', '"constructor":{"prototype":{"admin":true}}']) {
        const result = await post('/oauth2-token', jsonWith(base, extra));
        expectOAuthError(result, 400, 'invalid_request');
        expect(result.text).not.toContain('"a"');
      }
    });

    it('keys that are only alike, or repeated in different objects, are no repetition', async () => {
      const base = { grant_type: 'client_credentials', ...auth };
      for (const extra of ['"Client_id":"x"', '"x":[{"a":1},{"a":2}]', '"y":{"a":{"a":1}}', '"z":"\\"client_id\\":1"']) {
        expectTokenSuccess(await post('/oauth2-token', jsonWith(base, extra)));
      }
      // Like a repeated form field the token endpoint does not read, a repeated unknown key is ignored.
      expectTokenSuccess(await post('/oauth2-token', jsonWith(base, '"unknown":1,"unknown":2')));
    });

    it.each([REVOCATION_PATH, INTROSPECTION_PATH])('%s: a repeated token or client credential is 400 invalid_request', async (path) => {
      for (const [name, extra] of [
        ['token', `"token":${JSON.stringify(token)}`],
        ['token', '"token":"something-else"'],
        ['client_secret', `"client_secret":${JSON.stringify(client.clientSecret)}`],
      ] as const) {
        const result = await post(path, jsonWith({ ...auth, token }, extra));
        expectOAuthError(result, 400, 'invalid_request');
        expect(result.json.error_description).toBe(`the ${name} parameter must not be repeated`);
      }
      const nested = await post(path, jsonWith({ ...auth, token }, '"x":{"a":1,"a":1}'));
      expectOAuthError(nested, 400, 'invalid_request');
      // The token was neither revoked nor otherwise touched.
      const introspected = await post(INTROSPECTION_PATH, JSON.stringify({ ...auth, token }));
      expect(introspected.json.active).toBe(true);
    });
  });
});
