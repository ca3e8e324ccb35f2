/**
 * Token revocation (RFC 7009) at POST /oauth2-token/revoke and token introspection (RFC 7662)
 * at POST /oauth2-token/introspect, over HTTP against a real server, on every backend and side.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { BACKENDS } from '../helpers/backends.js';
import {
  expectInactive,
  expectOAuthError,
  expectRevoked,
  introspect,
  issueRefreshable,
  revoke,
  REVOCATION_PATH,
  INTROSPECTION_PATH,
  call,
} from '../helpers/endpoints.js';
import { refresh } from '../helpers/lifecycle.js';
import { apiGet } from '../helpers/oauth.js';
import type { TestServer } from '../helpers/server.js';
import { subjectAt } from '../helpers/subjects.js';
import { API_PATH, decodeJwt, expectTokenError, expectTokenSuccess, flipChar, ISSUER, issueToken, SIDES, type SideUser, startServerWithSideUsers, type TestClient } from '../helpers/tokens.js';
import { CLI } from '../../src/management/principal.js';

type ApiCall = Awaited<ReturnType<typeof apiGet>>;

function expectApiAccepts(result: ApiCall): void {
  expect(result.status).toBe(200);
  expect(result.headers.get('www-authenticate')).toBeNull();
}

function expectApiRefuses(result: ApiCall): void {
  expect(result.status).toBe(401);
  expect(result.headers.get('www-authenticate') ?? '').toMatch(/^Bearer .*error="invalid_token"/);
}

describe.each(BACKENDS)('revocation and introspection (%s)', (backend) => {
  let server: TestServer;
  let users: Record<SideName, SideUser>;
  /** A confidential client of each side acting as a resource server that introspects. */
  const resourceServers = {} as Record<SideName, TestClient>;

  beforeAll(async () => {
    ({ server, users } = await startServerWithSideUsers(backend));
    for (const side of SIDES) resourceServers[side] = await server.createClient({ side, grants: ['authorization_code'] });
  });
  afterAll(() => server?.close());

  describe.each(SIDES)('%s', (side) => {
    const otherSide: SideName = side === 'backoffice' ? 'storefront' : 'backoffice';
    const api = (token: string) => apiGet(server.url, API_PATH[side], token);

    describe('revocation (RFC 7009)', () => {
      it('a confidential client (secret in the body) revokes its refresh token: the refresh fails and the whole family is refused', async () => {
        const t = await issueRefreshable(server, side, { user: users[side] });
        expectApiAccepts(await api(t.accessToken));
        expectRevoked(await revoke(server.url, t.client, t.refreshToken));
        expectTokenError(await refresh(server, t.client, t.refreshToken), 400, 'invalid_grant');
        // The access token of the same authorization dies with its family.
        expectApiRefuses(await api(t.accessToken));
      });

      it('a confidential client with HTTP Basic revokes its access token: the API refuses it on the next request', async () => {
        const t = await issueRefreshable(server, side, { user: users[side] });
        expectApiAccepts(await api(t.accessToken));
        expectRevoked(await revoke(server.url, t.client, t.accessToken, { auth: 'basic' }));
        expectApiRefuses(await api(t.accessToken));
        expectInactive(await introspect(server.url, resourceServers[side], t.accessToken));
      });

      it('a JSON body works as well', async () => {
        const t = await issueRefreshable(server, side, { user: users[side] });
        expectRevoked(await revoke(server.url, t.client, t.accessToken, { format: 'json' }));
        expectApiRefuses(await api(t.accessToken));
      });

      it('a public client authenticates with its client_id only and revokes its refresh token and its access token', async () => {
        const t = await issueRefreshable(server, side, { user: users[side], type: 'public' });
        expect(t.client.clientSecret).toBeUndefined();
        expectApiAccepts(await api(t.accessToken));
        expectRevoked(await revoke(server.url, t.client, t.accessToken));
        expectApiRefuses(await api(t.accessToken));
        expectRevoked(await revoke(server.url, t.client, t.refreshToken));
        expectTokenError(await refresh(server, t.client, t.refreshToken), 400, 'invalid_grant');
      });

      it('a public client sending a client_secret is refused with invalid_request and the token keeps working', async () => {
        const t = await issueRefreshable(server, side, { user: users[side], type: 'public' });
        expectOAuthError(await revoke(server.url, { clientId: t.client.clientId, clientSecret: 'made-up' }, t.accessToken), 400, 'invalid_request');
        expectApiAccepts(await api(t.accessToken));
      });

      it.each([
        ['access_token', 'access_token'],
        ['refresh_token', 'refresh_token'],
        ['access_token', 'refresh_token'],
        ['refresh_token', 'access_token'],
        ['access_token', 'unknown_hint'],
        ['refresh_token', 'unknown_hint'],
      ] as const)('a %s revoked with token_type_hint=%s is revoked (a wrong or unknown hint does not prevent it)', async (kind, hint) => {
        const t = await issueRefreshable(server, side, { user: users[side] });
        const token = kind === 'access_token' ? t.accessToken : t.refreshToken;
        expectRevoked(await revoke(server.url, t.client, token, { hint }));
        if (kind === 'access_token') expectApiRefuses(await api(t.accessToken));
        else expectTokenError(await refresh(server, t.client, t.refreshToken), 400, 'invalid_grant');
      });

      it('revoking the rotated (newest) refresh token revokes the access token issued with it', async () => {
        const t = await issueRefreshable(server, side, { user: users[side] });
        const rotated = await refresh(server, t.client, t.refreshToken);
        const newAccess = expectTokenSuccess(rotated);
        const newRefresh = rotated.json.refresh_token as string;
        expectApiAccepts(await api(newAccess));
        expectRevoked(await revoke(server.url, t.client, newRefresh));
        expectApiRefuses(await api(newAccess));
        expectTokenError(await refresh(server, t.client, newRefresh), 400, 'invalid_grant');
      });

      it('revoking the same token twice answers 200 both times', async () => {
        const t = await issueRefreshable(server, side, { user: users[side] });
        expectRevoked(await revoke(server.url, t.client, t.refreshToken));
        expectRevoked(await revoke(server.url, t.client, t.refreshToken));
        expectRevoked(await revoke(server.url, t.client, t.accessToken));
        expectRevoked(await revoke(server.url, t.client, t.accessToken));
      });

      it('unknown tokens answer 200: random strings, forged and malformed JWTs, an over-long token', async () => {
        const t = await issueRefreshable(server, side, { user: users[side] });
        const { signature } = decodeJwt(t.accessToken);
        const forged = t.accessToken.slice(0, t.accessToken.length - signature.length) + flipChar(signature, 5);
        for (const token of [randomBytes(32).toString('base64url'), 'a.b.c', forged, 'x'.repeat(9000)]) {
          expectRevoked(await revoke(server.url, t.client, token));
        }
        // None of that touched the real tokens.
        expectApiAccepts(await api(t.accessToken));
        expectTokenSuccess(await refresh(server, t.client, t.refreshToken));
      });

      it("a client cannot revoke another client's refresh or access token: 400 unauthorized_client, and the tokens keep working", async () => {
        const victim = await issueRefreshable(server, side, { user: users[side] });
        const attackers: TestClient[] = [
          await server.createClient({ side, grants: ['authorization_code', 'refresh_token'] }),
          await server.createClient({ side, type: 'public', grants: ['authorization_code', 'refresh_token'] }),
          await server.createClient({ side: otherSide, grants: ['authorization_code'] }),
        ];
        for (const attacker of attackers) {
          expectOAuthError(await revoke(server.url, attacker, victim.refreshToken), 400, 'unauthorized_client');
          expectOAuthError(await revoke(server.url, attacker, victim.accessToken), 400, 'unauthorized_client');
        }
        expectApiAccepts(await api(victim.accessToken));
        expectTokenSuccess(await refresh(server, victim.client, victim.refreshToken));
      });

      it('client authentication failures: 401 invalid_client and the token is left alone', async () => {
        const t = await issueRefreshable(server, side, { user: users[side] });
        const wrong = { clientId: t.client.clientId, clientSecret: `${t.client.clientSecret}x` };
        expectOAuthError(await revoke(server.url, wrong, t.accessToken), 401, 'invalid_client');
        const basic = await revoke(server.url, wrong, t.accessToken, { auth: 'basic' });
        expectOAuthError(basic, 401, 'invalid_client');
        expect(basic.headers.get('www-authenticate')).toMatch(/^Basic /);
        expectOAuthError(await revoke(server.url, { clientId: t.client.clientId }, t.accessToken), 401, 'invalid_client');
        expectOAuthError(await revoke(server.url, undefined, t.accessToken), 401, 'invalid_client');
        expectOAuthError(await revoke(server.url, { clientId: 'no-such-client', clientSecret: 'x' }, t.refreshToken), 401, 'invalid_client');
        expectApiAccepts(await api(t.accessToken));
        expectTokenSuccess(await refresh(server, t.client, t.refreshToken));
      });

      it('an inactive client cannot revoke: 401 invalid_client', async () => {
        const t = await issueRefreshable(server, side, { user: users[side] });
        await server.grantry.clients.setActive(CLI, t.client.clientId, false);
        expectOAuthError(await revoke(server.url, t.client, t.refreshToken), 401, 'invalid_client');
        await server.grantry.clients.setActive(CLI, t.client.clientId, true);
        expectTokenSuccess(await refresh(server, t.client, t.refreshToken));
      });

      it('a missing or repeated token parameter: 400 invalid_request', async () => {
        const t = await issueRefreshable(server, side, { user: users[side] });
        expectOAuthError(await revoke(server.url, t.client, undefined), 400, 'invalid_request');
        const body = new URLSearchParams({ client_id: t.client.clientId, client_secret: t.client.clientSecret as string });
        body.append('token', t.accessToken);
        body.append('token', t.refreshToken);
        const repeated = await call(server.url, 'POST', REVOCATION_PATH, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
        expectOAuthError(repeated, 400, 'invalid_request');
        expectApiAccepts(await api(t.accessToken));
      });

      it('GET is not a revocation request', async () => {
        const t = await issueRefreshable(server, side, { user: users[side] });
        const get = await call(server.url, 'GET', `${REVOCATION_PATH}?${new URLSearchParams({ token: t.accessToken, client_id: t.client.clientId, client_secret: t.client.clientSecret as string })}`);
        expect([404, 405]).toContain(get.status);
        expectApiAccepts(await api(t.accessToken));
      });
    });

    describe('introspection (RFC 7662)', () => {
      it('an active access token: every claim, matching the JWT, with token_type Bearer', async () => {
        const t = await issueRefreshable(server, side, { user: users[side], scope: 'read write' });
        const result = await introspect(server.url, resourceServers[side], t.accessToken);
        expect(result.status).toBe(200);
        expect(result.headers.get('cache-control')).toBe('no-store');
        expect(result.headers.get('content-type')).toMatch(/^application\/json(;|$)/);
        const { payload } = decodeJwt(t.accessToken);
        expect(result.json).toEqual({
          active: true,
          scope: 'read write',
          client_id: t.client.clientId,
          sub: await subjectAt(server, t.client.clientId, users[side].id),
          aud: `${ISSUER[side]}/api`,
          iss: ISSUER[side],
          exp: payload.exp,
          iat: payload.iat,
          nbf: payload.nbf,
          jti: payload.jti,
          token_type: 'Bearer',
        });
        expect(result.json.exp).toBe((payload.iat as number) + 3600);
      });

      it('HTTP Basic, a JSON body, and the owning client itself may introspect', async () => {
        const t = await issueRefreshable(server, side, { user: users[side] });
        for (const [client, options] of [
          [resourceServers[side], { auth: 'basic' as const }],
          [resourceServers[side], { format: 'json' as const }],
          [t.client, {}],
        ] as const) {
          const result = await introspect(server.url, client, t.accessToken, options);
          expect(result.status).toBe(200);
          expect(result.json).toMatchObject({ active: true, client_id: t.client.clientId, token_type: 'Bearer' });
        }
      });

      it('an active refresh token: active with scope, client_id, sub, aud, iss, exp, iat, no token_type; inactive once used', async () => {
        const before = Math.floor(Date.now() / 1000);
        const t = await issueRefreshable(server, side, { user: users[side], scope: 'profile' });
        const after = Math.floor(Date.now() / 1000);
        const result = await introspect(server.url, resourceServers[side], t.refreshToken, { hint: 'refresh_token' });
        expect(result.status).toBe(200);
        expect(result.headers.get('cache-control')).toBe('no-store');
        expect(result.json).toMatchObject({
          active: true,
          scope: 'profile',
          client_id: t.client.clientId,
          sub: await subjectAt(server, t.client.clientId, users[side].id),
          aud: `${ISSUER[side]}/api`,
          iss: ISSUER[side],
        });
        // RFC 7662 §2.2: token_type is the RFC 6749 type of an access token ("Bearer"), which a
        // refresh token does not have; and a refresh token has no jti claim of an access token.
        expect(result.json).not.toHaveProperty('token_type');
        expect(result.json).not.toHaveProperty('jti');
        const iat = result.json.iat as number;
        expect(iat).toBeGreaterThanOrEqual(before);
        expect(iat).toBeLessThanOrEqual(after);
        expect(result.json.exp).toBe(iat + server.config.refreshTokenTtl);
        // A wrong hint changes nothing.
        expect((await introspect(server.url, resourceServers[side], t.refreshToken, { hint: 'access_token' })).json).toMatchObject({ active: true });

        const rotated = await refresh(server, t.client, t.refreshToken);
        expectTokenSuccess(rotated);
        expectInactive(await introspect(server.url, resourceServers[side], t.refreshToken));
        expect((await introspect(server.url, resourceServers[side], rotated.json.refresh_token as string)).json).toMatchObject({ active: true, client_id: t.client.clientId });
      });

      it('revoked access and refresh tokens are inactive', async () => {
        const a = await issueRefreshable(server, side, { user: users[side] });
        expectRevoked(await revoke(server.url, a.client, a.accessToken));
        expectInactive(await introspect(server.url, resourceServers[side], a.accessToken));
        // Revoking the access token alone leaves the refresh token active.
        expect((await introspect(server.url, resourceServers[side], a.refreshToken)).json).toMatchObject({ active: true });

        const b = await issueRefreshable(server, side, { user: users[side] });
        expectRevoked(await revoke(server.url, b.client, b.refreshToken));
        expectInactive(await introspect(server.url, resourceServers[side], b.refreshToken));
        expectInactive(await introspect(server.url, resourceServers[side], b.accessToken));
      });

      it('an expired access token (validly signed, stored, exp in the past) and an expired refresh token are inactive', async () => {
        const t = await issueRefreshable(server, side, { user: users[side] });
        const { payload } = decodeJwt(t.accessToken);
        const row = await server.grantry.database.db.selectFrom('access_tokens').selectAll().where('jti', '=', payload.jti as string).executeTakeFirstOrThrow();
        const now = Math.floor(Date.now() / 1000);
        const jti = randomBytes(16).toString('base64url');
        const claims = { ...(payload as Record<string, unknown>), jti, iat: now - 7200, nbf: now - 7200, exp: now - 3600 };
        const expired = await server.grantry.accessTokens.codec.sign(claims as never, now);
        await server.grantry.repos.grants.recordIssued({ jti, grantId: row.grant_id, clientPk: row.client_pk, issuedAt: now - 7200, expiresAt: now - 3600 });
        expectInactive(await introspect(server.url, resourceServers[side], expired));
        expectApiRefuses(await api(expired));
        // The same construction with a future exp is active: only the expiry made the difference.
        const liveJti = randomBytes(16).toString('base64url');
        const live = await server.grantry.accessTokens.codec.sign({ ...claims, jti: liveJti, exp: now + 600 } as never, now);
        await server.grantry.repos.grants.recordIssued({ jti: liveJti, grantId: row.grant_id, clientPk: row.client_pk, issuedAt: now - 7200, expiresAt: now + 600 });
        expect((await introspect(server.url, resourceServers[side], live)).json).toMatchObject({ active: true, jti: liveJti });

        expect((await introspect(server.url, resourceServers[side], t.refreshToken)).json).toMatchObject({ active: true });
        await server.grantry.database.db
          .updateTable('refresh_tokens')
          .set({ expires_at: now - 1 })
          .where('grant_id', '=', row.grant_id)
          .execute();
        expectInactive(await introspect(server.url, resourceServers[side], t.refreshToken));
      });

      it("the other side's tokens are inactive (foreign), for access and refresh tokens alike", async () => {
        const foreign = await issueRefreshable(server, otherSide, { user: users[otherSide] });
        expectInactive(await introspect(server.url, resourceServers[side], foreign.accessToken));
        expectInactive(await introspect(server.url, resourceServers[side], foreign.refreshToken));
        // The same tokens are active for a resource server of their own side.
        expect((await introspect(server.url, resourceServers[otherSide], foreign.accessToken)).json).toMatchObject({ active: true });
      });

      it('garbage, forged and over-long tokens are inactive', async () => {
        const t = await issueToken(server, side, { user: users[side] });
        const { signature } = decodeJwt(t.accessToken);
        const forged = t.accessToken.slice(0, t.accessToken.length - signature.length) + flipChar(signature, 3);
        for (const token of ['garbage', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.', forged, randomBytes(32).toString('base64url'), 'y'.repeat(9000)]) {
          expectInactive(await introspect(server.url, resourceServers[side], token));
        }
      });

      it("tokens of an inactive client or a disabled user are inactive", async () => {
        const t = await issueRefreshable(server, side);
        await server.grantry.clients.setActive(CLI, t.client.clientId, false);
        expectInactive(await introspect(server.url, resourceServers[side], t.accessToken));
        expectInactive(await introspect(server.url, resourceServers[side], t.refreshToken));
        await server.grantry.clients.setActive(CLI, t.client.clientId, true);
        expect((await introspect(server.url, resourceServers[side], t.accessToken)).json).toMatchObject({ active: true });

        await server.grantry.users.setFlag(CLI, side, t.user.login, 'enabled', false);
        expectInactive(await introspect(server.url, resourceServers[side], t.accessToken));
        expectInactive(await introspect(server.url, resourceServers[side], t.refreshToken));
      });

      it('a public client may not introspect: 401 invalid_client', async () => {
        const t = await issueToken(server, side, { user: users[side] });
        const publicClient = await server.createClient({ side, type: 'public' });
        const result = await introspect(server.url, publicClient, t.accessToken);
        expectOAuthError(result, 401, 'invalid_client');
        expect(result.json).not.toHaveProperty('active');
      });

      it('bad, missing or unknown client credentials: 401 invalid_client and no answer about the token', async () => {
        const t = await issueToken(server, side, { user: users[side] });
        const rs = resourceServers[side];
        for (const result of [
          await introspect(server.url, { clientId: rs.clientId, clientSecret: `${rs.clientSecret}x` }, t.accessToken),
          await introspect(server.url, { clientId: rs.clientId, clientSecret: 'wrong' }, t.accessToken, { auth: 'basic' }),
          await introspect(server.url, { clientId: rs.clientId }, t.accessToken),
          await introspect(server.url, undefined, t.accessToken),
          await introspect(server.url, { clientId: 'no-such-client', clientSecret: 'x' }, t.accessToken),
        ]) {
          expectOAuthError(result, 401, 'invalid_client');
          expect(result.json).not.toHaveProperty('active');
        }
      });

      it('a missing token parameter: 400 invalid_request', async () => {
        expectOAuthError(await introspect(server.url, resourceServers[side], undefined), 400, 'invalid_request');
      });

      it('GET is not an introspection request', async () => {
        const t = await issueToken(server, side, { user: users[side] });
        const rs = resourceServers[side];
        const get = await call(server.url, 'GET', `${INTROSPECTION_PATH}?${new URLSearchParams({ token: t.accessToken, client_id: rs.clientId, client_secret: rs.clientSecret as string })}`);
        expect([404, 405]).toContain(get.status);
        expect(get.json).not.toHaveProperty('active');
      });
    });
  });
});
