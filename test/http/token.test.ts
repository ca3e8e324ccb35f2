/**
 * POST /oauth2-token over HTTP against a real server, on every backend: client authentication,
 * request parsing, the authorization_code grant's checks (redirect URI, PKCE, single use,
 * binding to the client, expiry) and the access token it mints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SigningAlgorithm } from '../../src/config/index.js';
import type { SideName } from '../../src/oauth/sides.js';
import { BACKENDS } from '../helpers/backends.js';
import { CODE_PURPOSE } from '../../src/oauth/authorization-codes.js';
import { randomToken } from '../../src/security/tokens.js';
import { apiGet, pkcePair, tokenRequest } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { subjectAt } from '../helpers/subjects.js';
import {
  API_PATH,
  codeFor,
  codeRow,
  createSideUser,
  decodeJwt,
  expectTokenError,
  expectTokenSuccess,
  ISSUER,
  issueToken,
  rawTokenPost,
  SIDES,
  type SideUser,
  startServerWithSideUsers,
  type TestClient,
} from '../helpers/tokens.js';
import { CLI } from '../../src/management/principal.js';

/** Percent-encodes every character, which form-urlencoding allows (RFC 6749 §2.3.1, Appendix B). */
const encodeAll = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

describe.each(BACKENDS)('token endpoint (%s)', (backend) => {
  let server: TestServer;
  let users: Record<SideName, SideUser>;

  beforeAll(async () => {
    ({ server, users } = await startServerWithSideUsers(backend));
  });
  afterAll(() => server?.close());

  /** The token request body of a confidential client's code exchange. */
  const exchange = (client: TestClient, code: string, extra: Record<string, string | undefined> = {}) => ({
    grant_type: 'authorization_code',
    client_id: client.clientId,
    client_secret: client.clientSecret,
    redirect_uri: client.redirectUri,
    code,
    ...extra,
  });

  describe.each(SIDES)('%s client', (side) => {
    const otherSide: SideName = side === 'backoffice' ? 'storefront' : 'backoffice';

    describe('successful exchanges', () => {
      it('confidential client, client_secret_post, JSON body: 200 and a token the API accepts', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client, { state: 'xyz' });
        const call = await tokenRequest(server.url, exchange(client, code));
        const token = expectTokenSuccess(call);
        expect(call.headers.get('pragma')).toBe('no-cache');
        expect(call.json).not.toHaveProperty('refresh_token');
        const api = await apiGet(server.url, API_PATH[side], token);
        expect(api.status).toBe(200);
      });

      it('confidential client, HTTP Basic, form body: 200', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        const call = await tokenRequest(
          server.url,
          { grant_type: 'authorization_code', redirect_uri: client.redirectUri, code },
          { format: 'form', basic: { id: client.clientId, secret: client.clientSecret as string } },
        );
        const token = expectTokenSuccess(call);
        expect((await apiGet(server.url, API_PATH[side], token)).status).toBe(200);
      });

      it('HTTP Basic credentials are form-urlencoded: a fully percent-encoded id and secret authenticate', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        const authorization = `Basic ${Buffer.from(`${encodeAll(client.clientId)}:${encodeAll(client.clientSecret as string)}`).toString('base64')}`;
        const call = await rawTokenPost(server.url, new URLSearchParams({ grant_type: 'authorization_code', redirect_uri: client.redirectUri, code }).toString(), {
          'content-type': 'application/x-www-form-urlencoded',
          authorization,
        });
        expectTokenSuccess(call);
      });

      it('HTTP Basic with the client_id repeated in the body (same value): 200', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        const call = await tokenRequest(
          server.url,
          { grant_type: 'authorization_code', client_id: client.clientId, redirect_uri: client.redirectUri, code },
          { format: 'form', basic: { id: client.clientId, secret: client.clientSecret as string } },
        );
        expectTokenSuccess(call);
      });

      it('public client with an S256 verifier, form body: 200', async () => {
        const client = await server.createClient({ side, type: 'public' });
        const { verifier, challenge } = pkcePair();
        const code = await codeFor(users[side], client, { code_challenge: challenge, code_challenge_method: 'S256' });
        const call = await tokenRequest(
          server.url,
          { grant_type: 'authorization_code', client_id: client.clientId, redirect_uri: client.redirectUri, code, code_verifier: verifier },
          { format: 'form' },
        );
        const token = expectTokenSuccess(call);
        expect((await apiGet(server.url, API_PATH[side], token)).status).toBe(200);
      });

      it('confidential client with PKCE, JSON body: 200', async () => {
        const client = await server.createClient({ side });
        const { verifier, challenge } = pkcePair();
        const code = await codeFor(users[side], client, { code_challenge: challenge, code_challenge_method: 'S256' });
        expectTokenSuccess(await tokenRequest(server.url, exchange(client, code, { code_verifier: verifier })));
      });

      it('the access token is an RFC 9068 JWT with the side issuer, audience, subject and lifetime', async () => {
        const client = await server.createClient({ side });
        const before = Math.floor(Date.now() / 1000);
        const code = await codeFor(users[side], client);
        const call = await tokenRequest(server.url, exchange(client, code));
        const after = Math.floor(Date.now() / 1000);
        const token = expectTokenSuccess(call, 3600);
        const { header, payload } = decodeJwt(token);
        expect(header).toMatchObject({ typ: 'at+jwt', alg: 'RS256' });
        expect(header.kid).toBe(server.grantry.keys.signingKey().kid);
        expect(typeof header.kid).toBe('string');
        expect((header.kid as string).length).toBeGreaterThan(0);
        expect(payload).toMatchObject({
          iss: ISSUER[side],
          aud: `${ISSUER[side]}/api`,
          sub: await subjectAt(server, client.clientId, users[side].id),
          client_id: client.clientId,
        });
        // rowId: the issuance time in milliseconds (12 hex digits), then 128 random bits, so
        // that the stored ids land at the end of their indexes; its grant id is made the same way.
        const jti = payload.jti as string;
        expect(jti).toMatch(/^[0-9a-f]{12}[A-Za-z0-9_-]{22}$/);
        expect(parseInt(jti.slice(0, 12), 16)).toBeGreaterThanOrEqual(before * 1000);
        expect(parseInt(jti.slice(0, 12), 16)).toBeLessThan((after + 1) * 1000);
        const stored = await server.grantry.database.db.selectFrom('access_tokens').select('grant_id').where('jti', '=', jti).executeTakeFirstOrThrow();
        expect(stored.grant_id).toMatch(/^[0-9a-f]{12}[A-Za-z0-9_-]{22}$/);
        const iat = payload.iat as number;
        expect(Number.isInteger(iat)).toBe(true);
        expect(iat).toBeGreaterThanOrEqual(before);
        expect(iat).toBeLessThanOrEqual(after);
        expect(payload.nbf).toBe(iat);
        expect(payload.exp).toBe(iat + 3600);
      });

      it('two exchanges give tokens with distinct jti', async () => {
        const a = await issueToken(server, side, { user: users[side] });
        const b = await issueToken(server, side, { user: users[side] });
        expect(decodeJwt(a.accessToken).payload.jti).not.toBe(decodeJwt(b.accessToken).payload.jti);
      });
    });

    describe('client authentication', () => {
      it('HTTP Basic and client_secret in the body together: 400 invalid_request', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        const call = await tokenRequest(server.url, exchange(client, code), { format: 'form', basic: { id: client.clientId, secret: client.clientSecret as string } });
        expectTokenError(call, 400, 'invalid_request');
      });

      it('HTTP Basic with a different client_id in the body: invalid_request', async () => {
        const client = await server.createClient({ side });
        const other = await server.createClient({ side });
        const call = await tokenRequest(
          server.url,
          { grant_type: 'authorization_code', client_id: other.clientId, redirect_uri: client.redirectUri, code: 'whatever' },
          { format: 'form', basic: { id: client.clientId, secret: client.clientSecret as string } },
        );
        expectTokenError(call, 400, 'invalid_request');
      });

      it('a public client sending a client_secret: 400 invalid_request, and its code is not burned', async () => {
        const client = await server.createClient({ side, type: 'public' });
        const { verifier, challenge } = pkcePair();
        const code = await codeFor(users[side], client, { code_challenge: challenge, code_challenge_method: 'S256' });
        const body = { grant_type: 'authorization_code', client_id: client.clientId, redirect_uri: client.redirectUri, code, code_verifier: verifier };
        expectTokenError(await tokenRequest(server.url, { ...body, client_secret: 'anything-at-all' }), 400, 'invalid_request');
        expectTokenError(await tokenRequest(server.url, { ...body, client_id: undefined }, { basic: { id: client.clientId, secret: 'x' } }), 400, 'invalid_request');
        expectTokenSuccess(await tokenRequest(server.url, body));
      });

      it('wrong secret in the body: 401 invalid_client with a WWW-Authenticate challenge', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        const call = await tokenRequest(server.url, exchange(client, code, { client_secret: `${client.clientSecret}x` }));
        expectTokenError(call, 401, 'invalid_client');
        // The code was not consumed by an unauthenticated request.
        expectTokenSuccess(await tokenRequest(server.url, exchange(client, code)));
      });

      it('wrong secret with HTTP Basic: 401 invalid_client with WWW-Authenticate: Basic', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        const call = await tokenRequest(
          server.url,
          { grant_type: 'authorization_code', redirect_uri: client.redirectUri, code },
          { format: 'form', basic: { id: client.clientId, secret: 'not-the-secret' } },
        );
        expectTokenError(call, 401, 'invalid_client');
        expect(call.headers.get('www-authenticate')).toMatch(/^Basic /);
      });

      it('malformed HTTP Basic credentials (no colon): 401 invalid_client with WWW-Authenticate: Basic', async () => {
        const call = await rawTokenPost(server.url, 'grant_type=authorization_code&code=x&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback', {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from('no-colon-here').toString('base64')}`,
        });
        expectTokenError(call, 401, 'invalid_client');
        expect(call.headers.get('www-authenticate')).toMatch(/^Basic /);
      });

      it('a confidential client without its secret: 401 invalid_client', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        expectTokenError(await tokenRequest(server.url, exchange(client, code, { client_secret: undefined })), 401, 'invalid_client');
      });

      it('unknown client (body and Basic): 401 invalid_client', async () => {
        const body = { grant_type: 'authorization_code', redirect_uri: 'https://app.example/callback', code: 'abc' };
        expectTokenError(await tokenRequest(server.url, { ...body, client_id: 'no-such-client', client_secret: 'x' }), 401, 'invalid_client');
        expectTokenError(await tokenRequest(server.url, { ...body, client_id: 'no-such-client' }), 401, 'invalid_client');
        const basic = await tokenRequest(server.url, body, { format: 'form', basic: { id: 'no-such-client', secret: 'x' } });
        expectTokenError(basic, 401, 'invalid_client');
        expect(basic.headers.get('www-authenticate')).toMatch(/^Basic /);
      });

      it('no client authentication at all: 401 invalid_client', async () => {
        expectTokenError(await tokenRequest(server.url, { grant_type: 'authorization_code', code: 'abc', redirect_uri: 'https://app.example/callback' }), 401, 'invalid_client');
      });

      it('a very long client_id: 401 invalid_client, not 500', async () => {
        expectTokenError(await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: 'c'.repeat(5000), client_secret: 's', code: 'x', redirect_uri: 'https://a.example/' }), 401, 'invalid_client');
      });

      it('an inactive confidential client: 401 invalid_client even with the right secret; active again: 200', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        await server.grantry.clients.setActive(CLI, client.clientId, false);
        expectTokenError(await tokenRequest(server.url, exchange(client, code)), 401, 'invalid_client');
        expectTokenError(
          await tokenRequest(server.url, { grant_type: 'authorization_code', redirect_uri: client.redirectUri, code }, { format: 'form', basic: { id: client.clientId, secret: client.clientSecret as string } }),
          401,
          'invalid_client',
        );
        await server.grantry.clients.setActive(CLI, client.clientId, true);
        expectTokenSuccess(await tokenRequest(server.url, exchange(client, code)));
      });

      it('an inactive public client: 401 invalid_client', async () => {
        const client = await server.createClient({ side, type: 'public' });
        const { verifier, challenge } = pkcePair();
        const code = await codeFor(users[side], client, { code_challenge: challenge, code_challenge_method: 'S256' });
        await server.grantry.clients.setActive(CLI, client.clientId, false);
        const call = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: client.clientId, redirect_uri: client.redirectUri, code, code_verifier: verifier });
        expectTokenError(call, 401, 'invalid_client');
      });

      it('missing grant_type: 400 invalid_request', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        expectTokenError(await tokenRequest(server.url, exchange(client, code, { grant_type: undefined })), 400, 'invalid_request');
        expectTokenError(await tokenRequest(server.url, exchange(client, code, { grant_type: '' })), 400, 'invalid_request');
      });

      // password is off by default (RFC 9700 §2.4), so it is as unknown as the rest.
      it.each(['password', 'foo', 'implicit', 'AUTHORIZATION_CODE'])('grant_type=%s: 400 unsupported_grant_type', async (grantType) => {
        const client = await server.createClient({ side });
        const call = await tokenRequest(server.url, {
          grant_type: grantType,
          client_id: client.clientId,
          client_secret: client.clientSecret,
          username: users[side].login,
          password: users[side].password,
          refresh_token: 'x',
        });
        expectTokenError(call, 400, 'unsupported_grant_type');
      });

      it.each(['client_credentials', 'refresh_token'])('grant_type=%s, supported but not granted to the client: 400 unauthorized_client', async (grantType) => {
        const client = await server.createClient({ side });
        const call = await tokenRequest(server.url, { grant_type: grantType, client_id: client.clientId, client_secret: client.clientSecret, refresh_token: 'x' });
        expectTokenError(call, 400, 'unauthorized_client');
      });
    });

    // RFC 6749 §4.1.3 and behaviour.md §5: redirect_uri is required at the token endpoint only
    // when the authorization request carried it, and must then be identical to it.
    describe('redirect_uri', () => {
      it('sent at authorize, missing at the token endpoint: 400 invalid_request, and the code is spent', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client, { redirect_uri: client.redirectUri });
        const call = await tokenRequest(server.url, exchange(client, code, { redirect_uri: undefined }));
        expectTokenError(call, 400, 'invalid_request');
        expect(call.json.error_description).toMatch(/redirect_uri is required/);
        // One try per code, as for every other check made after the code is consumed.
        expectTokenError(await tokenRequest(server.url, exchange(client, code)), 400, 'invalid_grant');
      });

      it('different from the one used at authorize: 400 invalid_grant', async () => {
        const client = await server.createClient({ side, redirectUris: ['https://app.example/one', 'https://app.example/two'] });
        const code = await codeFor(users[side], client, { redirect_uri: 'https://app.example/two' });
        expectTokenError(await tokenRequest(server.url, exchange(client, code, { redirect_uri: 'https://app.example/one' })), 400, 'invalid_grant');
      });

      it.each(['https://app.example/callback/', 'https://APP.example/callback', 'https://app.example/callback?x=1', 'https://app.example/callback#f'])(
        'near miss %s: 400 invalid_grant',
        async (near) => {
          const client = await server.createClient({ side });
          const code = await codeFor(users[side], client, { redirect_uri: client.redirectUri });
          expectTokenError(await tokenRequest(server.url, exchange(client, code, { redirect_uri: near })), 400, 'invalid_grant');
        },
      );

      it('omitted at authorize and at the token endpoint: 200 (the single registered URI was used)', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        expectTokenSuccess(await tokenRequest(server.url, exchange(client, code, { redirect_uri: undefined })));
      });

      it('omitted at authorize and at the token endpoint, form body with HTTP Basic and an empty redirect_uri: 200', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        const call = await tokenRequest(server.url, { grant_type: 'authorization_code', code, redirect_uri: '' }, {
          format: 'form',
          basic: { id: client.clientId, secret: client.clientSecret as string },
        });
        expectTokenSuccess(call);
      });

      it('omitted at authorize, the registered one sent at the token endpoint: 200', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        expectTokenSuccess(await tokenRequest(server.url, exchange(client, code, { redirect_uri: client.redirectUri })));
      });

      it('omitted at authorize: a URI other than the registered one at the token endpoint is invalid_grant', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        expectTokenError(await tokenRequest(server.url, exchange(client, code, { redirect_uri: 'https://evil.example/callback' })), 400, 'invalid_grant');
      });

      it('omitted at authorize by a public client with PKCE, omitted at the token endpoint: 200', async () => {
        const client = await server.createClient({ side, type: 'public' });
        const { verifier, challenge } = pkcePair();
        const code = await codeFor(users[side], client, { code_challenge: challenge, code_challenge_method: 'S256' });
        expectTokenSuccess(await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: client.clientId, code, code_verifier: verifier }));
      });
    });

    describe('PKCE', () => {
      const publicCode = async (challenge?: string) => {
        const client = await server.createClient({ side, type: 'public' });
        const code = await codeFor(users[side], client, challenge ? { code_challenge: challenge, code_challenge_method: 'S256' } : {});
        const body = (verifier: string | undefined) => ({ grant_type: 'authorization_code', client_id: client.clientId, redirect_uri: client.redirectUri, code, code_verifier: verifier });
        return { client, code, body };
      };

      it('verifier mismatch: 400 invalid_grant', async () => {
        const { challenge } = pkcePair();
        const { body } = await publicCode(challenge);
        expectTokenError(await tokenRequest(server.url, body(pkcePair().verifier)), 400, 'invalid_grant');
      });

      it('verifier missing although a challenge was sent: 400 invalid_grant (public and confidential)', async () => {
        const { challenge } = pkcePair();
        const { body } = await publicCode(challenge);
        expectTokenError(await tokenRequest(server.url, body(undefined)), 400, 'invalid_grant');

        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client, { code_challenge: pkcePair().challenge, code_challenge_method: 'S256' });
        expectTokenError(await tokenRequest(server.url, exchange(client, code)), 400, 'invalid_grant');
      });

      it('verifier sent although no challenge was sent (downgrade): 400 invalid_grant', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        expectTokenError(await tokenRequest(server.url, exchange(client, code, { code_verifier: pkcePair().verifier })), 400, 'invalid_grant');
      });

      it('the challenge itself sent as verifier: 400 invalid_grant', async () => {
        const { challenge } = pkcePair();
        const { body } = await publicCode(challenge);
        expectTokenError(await tokenRequest(server.url, body(challenge)), 400, 'invalid_grant');
      });

      it.each([
        ['too short (42 characters)', 'a'.repeat(42)],
        ['too long (129 characters)', 'a'.repeat(129)],
        ['a forbidden character', `${'a'.repeat(50)}+`],
        ['a space', `${'a'.repeat(25)} ${'a'.repeat(25)}`],
        ['non-ASCII', `${'a'.repeat(50)}é`],
      ])('malformed verifier, %s: 400 invalid_request', async (_label, verifier) => {
        const { challenge } = pkcePair();
        const { body } = await publicCode(challenge);
        expectTokenError(await tokenRequest(server.url, body(verifier)), 400, 'invalid_request');
      });
    });

    describe('authorization codes', () => {
      it('a second exchange of a code: invalid_grant, and the first token is revoked at the API', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        const token = expectTokenSuccess(await tokenRequest(server.url, exchange(client, code)));
        expect((await apiGet(server.url, API_PATH[side], token)).status).toBe(200);

        expectTokenError(await tokenRequest(server.url, exchange(client, code)), 400, 'invalid_grant');

        const api = await apiGet(server.url, API_PATH[side], token);
        expect(api.status).toBe(401);
        expect(api.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
        // A third try is refused too.
        expectTokenError(await tokenRequest(server.url, exchange(client, code)), 400, 'invalid_grant');
      });

      it('reuse by a public client revokes its token as well', async () => {
        const client = await server.createClient({ side, type: 'public' });
        const { verifier, challenge } = pkcePair();
        const code = await codeFor(users[side], client, { code_challenge: challenge, code_challenge_method: 'S256' });
        const body = { grant_type: 'authorization_code', client_id: client.clientId, redirect_uri: client.redirectUri, code, code_verifier: verifier };
        const token = expectTokenSuccess(await tokenRequest(server.url, body, { format: 'form' }));
        expectTokenError(await tokenRequest(server.url, body, { format: 'form' }), 400, 'invalid_grant');
        expect((await apiGet(server.url, API_PATH[side], token)).status).toBe(401);
      });

      it('a code presented by another client of the same side: invalid_grant, and the code still works for its own client', async () => {
        const owner = await server.createClient({ side });
        const thief = await server.createClient({ side });
        const code = await codeFor(users[side], owner);
        expectTokenError(await tokenRequest(server.url, exchange(thief, code, { redirect_uri: owner.redirectUri })), 400, 'invalid_grant');
        expectTokenSuccess(await tokenRequest(server.url, exchange(owner, code)));
      });

      it('a code presented by a client of the other side: invalid_grant, and the code still works for its own client', async () => {
        const owner = await server.createClient({ side });
        const thief = await server.createClient({ side: otherSide });
        const code = await codeFor(users[side], owner);
        expectTokenError(await tokenRequest(server.url, exchange(thief, code, { redirect_uri: owner.redirectUri })), 400, 'invalid_grant');
        expectTokenSuccess(await tokenRequest(server.url, exchange(owner, code)));
      });

      it('a redirect_uri mismatch burns the code: one try per code', async () => {
        const client = await server.createClient({ side, redirectUris: ['https://app.example/one', 'https://app.example/two'] });
        const code = await codeFor(users[side], client, { redirect_uri: 'https://app.example/one' });
        expectTokenError(await tokenRequest(server.url, exchange(client, code, { redirect_uri: 'https://app.example/two' })), 400, 'invalid_grant');
        expectTokenError(await tokenRequest(server.url, exchange(client, code, { redirect_uri: 'https://app.example/one' })), 400, 'invalid_grant');
      });

      it('a code issued before codes carried their time (43 characters, stored under its hash alone) is still exchanged, once', async () => {
        const client = await server.createClient({ side });
        const current = await codeFor(users[side], client);
        expect(current).toMatch(/^[0-9a-f]{12}[A-Za-z0-9_-]{43}$/);
        // The same authorization, stored as the previous version stored its codes.
        const old = randomToken(32);
        await server.grantry.database.db
          .updateTable('authorization_codes')
          .set({ code_hash: server.grantry.hasher.hash(CODE_PURPOSE, old) })
          .where('code_hash', '=', server.grantry.hasher.storageKey(CODE_PURPOSE, current))
          .execute();
        expectTokenError(await tokenRequest(server.url, exchange(client, current)), 400, 'invalid_grant');
        const token = expectTokenSuccess(await tokenRequest(server.url, exchange(client, old)));
        expect((await apiGet(server.url, API_PATH[side], token)).status).toBe(200);
        expect((await codeRow(server, old))?.used_at).not.toBeNull();
        expectTokenError(await tokenRequest(server.url, exchange(client, old)), 400, 'invalid_grant');
      });

      it.each([
        ['garbage', 'not-a-code'],
        ['a code-shaped random string', 'A'.repeat(43)],
        ['a code-shaped random string with a time in front', `${Date.now().toString(16).padStart(12, '0')}${'A'.repeat(43)}`],
        ['a 10 kB code', 'x'.repeat(10 * 1024)],
        ['a code with control and non-ASCII characters', 'abc\u0000\u00e9\u{1F600}'],
      ])('%s: 400 invalid_grant or invalid_request, never 5xx', async (_label, code) => {
        const client = await server.createClient({ side });
        for (const format of ['json', 'form'] as const) {
          const call = await tokenRequest(server.url, exchange(client, code), { format });
          expect(call.status).toBe(400);
          expect(['invalid_grant', 'invalid_request']).toContain(call.json.error);
          expectTokenError(call, 400, call.json.error as string);
        }
      });

      it('missing code: 400 invalid_request', async () => {
        const client = await server.createClient({ side });
        expectTokenError(await tokenRequest(server.url, exchange(client, '')), 400, 'invalid_request');
        expectTokenError(await tokenRequest(server.url, exchange(client, undefined as unknown as string)), 400, 'invalid_request');
      });

      it('a code whose grant was revoked before the exchange: invalid_grant', async () => {
        const client = await server.createClient({ side });
        const code = await codeFor(users[side], client);
        const row = await codeRow(server, code);
        await server.grantry.repos.grants.revokeGrant(row?.grant_id as string, Math.floor(Date.now() / 1000));
        expectTokenError(await tokenRequest(server.url, exchange(client, code)), 400, 'invalid_grant');
        expect((await codeRow(server, code))?.used_at).toBeNull();
      });

      it('a code whose user was disabled before the exchange: invalid_grant', async () => {
        const user = await createSideUser(server, side);
        const client = await server.createClient({ side });
        const code = await codeFor(user, client);
        await server.grantry.users.setFlag(CLI, side, String(user.id), 'enabled', false);
        expectTokenError(await tokenRequest(server.url, exchange(client, code)), 400, 'invalid_grant');
      });
    });
  });

  describe('request bodies', () => {
    let client: TestClient;
    beforeAll(async () => {
      client = await server.createClient({ side: 'backoffice' });
    });

    const validBody = async () => {
      const code = await codeFor(users.backoffice, client);
      return { grant_type: 'authorization_code', client_id: client.clientId, client_secret: client.clientSecret as string, redirect_uri: client.redirectUri, code };
    };

    it('application/json with a charset parameter is accepted', async () => {
      const call = await rawTokenPost(server.url, JSON.stringify(await validBody()), { 'content-type': 'application/json; charset=utf-8' });
      expectTokenSuccess(call);
    });

    it('application/x-www-form-urlencoded with a charset parameter is accepted', async () => {
      const call = await rawTokenPost(server.url, new URLSearchParams(await validBody()).toString(), { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' });
      expectTokenSuccess(call);
    });

    it('unknown parameters are ignored', async () => {
      expectTokenSuccess(await tokenRequest(server.url, { ...(await validBody()), foo: 'bar', scope_extra: '1' }, { format: 'form' }));
    });

    it('text/plain (even holding valid JSON): 400 invalid_request', async () => {
      const call = await rawTokenPost(server.url, JSON.stringify(await validBody()), { 'content-type': 'text/plain' });
      expectTokenError(call, 400, 'invalid_request');
    });

    it.each(['application/xml', 'multipart/form-data; boundary=x', 'application/octet-stream'])('content type %s: 400 invalid_request', async (type) => {
      const call = await rawTokenPost(server.url, 'grant_type=authorization_code', { 'content-type': type });
      expectTokenError(call, 400, 'invalid_request');
    });

    it('no content type: 400 invalid_request', async () => {
      const call = await rawTokenPost(server.url, new Uint8Array(Buffer.from(new URLSearchParams(await validBody()).toString())), {});
      expectTokenError(call, 400, 'invalid_request');
    });

    it('no body at all: 400 invalid_request', async () => {
      expectTokenError(await rawTokenPost(server.url, undefined, {}), 400, 'invalid_request');
      expectTokenError(await rawTokenPost(server.url, '', { 'content-type': 'application/json' }), 400, 'invalid_request');
    });

    it('an empty form body is an empty parameter set: no client authentication, 401 invalid_client', async () => {
      expectTokenError(await rawTokenPost(server.url, '', { 'content-type': 'application/x-www-form-urlencoded' }), 401, 'invalid_client');
    });

    it.each(['{"grant_type":', '{grant_type: "authorization_code"}', 'not json at all', '{"a":1}}', '\u0000'])('malformed JSON %j: 400 invalid_request, never 500', async (body) => {
      const call = await rawTokenPost(server.url, body, { 'content-type': 'application/json' });
      expectTokenError(call, 400, 'invalid_request');
    });

    it.each(['[]', '[{"grant_type":"authorization_code"}]', 'null', '"authorization_code"', '42', 'true'])('JSON body %s that is not an object: 400 invalid_request', async (body) => {
      const call = await rawTokenPost(server.url, body, { 'content-type': 'application/json' });
      expectTokenError(call, 400, 'invalid_request');
    });

    it('a JSON __proto__ key: 400 invalid_request, never 500', async () => {
      const call = await rawTokenPost(server.url, '{"__proto__":{"grant_type":"authorization_code"},"code":"x"}', { 'content-type': 'application/json' });
      expect(call.status).toBeLessThan(500);
      expectTokenError(call, call.status, call.json.error as string);
    });

    it.each([
      ['code', 123],
      ['code', ['a', 'b']],
      ['code', { a: 1 }],
      ['code', true],
      ['redirect_uri', 1],
      ['grant_type', ['authorization_code']],
      ['code_verifier', 12345],
    ])('non-string value for %s (%j): 400 invalid_request', async (name, value) => {
      const body: Record<string, unknown> = { ...(await validBody()), [name]: value };
      const call = await rawTokenPost(server.url, JSON.stringify(body), { 'content-type': 'application/json' });
      expectTokenError(call, 400, 'invalid_request');
    });

    it('non-string client_id or client_secret: invalid_request or invalid_client, never 500', async () => {
      for (const patch of [{ client_id: 5 }, { client_secret: ['a'] }, { client_id: null, client_secret: 7 }]) {
        const call = await rawTokenPost(server.url, JSON.stringify({ ...(await validBody()), ...patch }), { 'content-type': 'application/json' });
        expect([400, 401]).toContain(call.status);
        expectTokenError(call, call.status, call.status === 400 ? 'invalid_request' : 'invalid_client');
      }
    });

    it.each(['code', 'grant_type', 'redirect_uri', 'client_id', 'client_secret'])('%s repeated in a form body: 400 invalid_request', async (name) => {
      const body = await validBody();
      const form = new URLSearchParams(body);
      form.append(name, body[name as keyof typeof body]);
      const call = await rawTokenPost(server.url, form.toString(), { 'content-type': 'application/x-www-form-urlencoded' });
      expectTokenError(call, 400, 'invalid_request');
      // The well-formed request with the same code still works: the duplicate did not burn it.
      expectTokenSuccess(await tokenRequest(server.url, body, { format: 'form' }));
    });

    it('a body over the size limit: 413 or 400 invalid_request, never 500', async () => {
      const call = await rawTokenPost(server.url, JSON.stringify({ grant_type: 'authorization_code', code: 'x'.repeat(100 * 1024) }), { 'content-type': 'application/json' });
      expect([400, 413]).toContain(call.status);
      expectTokenError(call, call.status, 'invalid_request');
    });

    it('GET /oauth2-token is not a token request', async () => {
      const response = await fetch(`${server.url}/oauth2-token?grant_type=authorization_code`);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
    });
  });
});

describe.each(BACKENDS)('token endpoint with short code lifetime (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { authorizationCodeTtl: 10 });
  });
  afterAll(() => server?.close());

  /** A code of a new user for a new client of `side`, with its stored row. */
  const newCode = async (side: SideName) => {
    const user = await createSideUser(server, side);
    const client = await server.createClient({ side });
    const code = await codeFor(user, client);
    return { client, code, row: await codeRow(server, code) };
  };

  /** Moves the stored expiry of the code to `expiresAt`, then exchanges the code. */
  const exchangeExpiringAt = async ({ client, code, row }: Awaited<ReturnType<typeof newCode>>, expiresAt: number) => {
    await server.grantry.database.db
      .updateTable('authorization_codes')
      .set({ expires_at: expiresAt })
      .where('code_hash', '=', row?.code_hash as string)
      .execute();
    return tokenRequest(server.url, { grant_type: 'authorization_code', client_id: client.clientId, client_secret: client.clientSecret, redirect_uri: client.redirectUri, code });
  };

  it.each(SIDES)('%s: codes live authorizationCodeTtl seconds, and an expired code is invalid_grant', async (side) => {
    const issued = await newCode(side);
    expect(issued.row).toBeDefined();
    expect(Number(issued.row?.expires_at) - Number(issued.row?.created_at)).toBe(10);

    const call = await exchangeExpiringAt(issued, 1);
    expectTokenError(call, 400, 'invalid_grant');
  });

  it.each(SIDES)('%s: a code expiring right now is already expired', async (side) => {
    const issued = await newCode(side);
    const call = await exchangeExpiringAt(issued, Math.floor(Date.now() / 1000) - 1);
    expectTokenError(call, 400, 'invalid_grant');
  });
});

describe.each(BACKENDS)('token endpoint with accessTokenTtl 120 (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { accessTokenTtl: 120 });
  });
  afterAll(() => server?.close());

  it.each(SIDES)('%s: expires_in is 120 and exp = iat + 120', async (side) => {
    const { accessToken, call } = await issueToken(server, side);
    expect(call.json.expires_in).toBe(120);
    const { payload } = decodeJwt(accessToken);
    expect(payload.exp).toBe((payload.iat as number) + 120);
  });
});

const ALGORITHMS: SigningAlgorithm[] = ['ES256', 'PS256', 'EdDSA'];

describe.each(BACKENDS.flatMap((backend) => ALGORITHMS.map((alg) => [backend, alg] as const)))('signing algorithm (%s, %s)', (backend, alg) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { signingAlgorithm: alg });
  });
  afterAll(() => server?.close());

  it.each(SIDES)(`%s: the token is signed with ${alg} and accepted by the API`, async (side) => {
    const { accessToken } = await issueToken(server, side, { type: side === 'storefront' ? 'public' : 'confidential' });
    const { header, payload, signature } = decodeJwt(accessToken);
    expect(header).toMatchObject({ typ: 'at+jwt', alg, kid: server.grantry.keys.signingKey().kid });
    expect(payload.iss).toBe(ISSUER[side]);
    if (alg === 'ES256') expect(Buffer.from(signature, 'base64url')).toHaveLength(64);
    if (alg === 'EdDSA') expect(Buffer.from(signature, 'base64url')).toHaveLength(64);
    if (alg === 'PS256') expect(Buffer.from(signature, 'base64url')).toHaveLength(256);
    const api = await apiGet(server.url, API_PATH[side], accessToken);
    expect(api.status).toBe(200);
  });
});
