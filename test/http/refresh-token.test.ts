/**
 * grant_type=refresh_token over HTTP against real servers, on every backend and both sides:
 * issuance with the code grant, rotation on every use, reuse detection revoking the family,
 * the optional grace period for retries, concurrent refreshes of one token, binding to the
 * client, the user and client checks on refresh, scope narrowing, and expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCleanup } from '../../src/management/cleanup.js';
import type { SideName } from '../../src/oauth/sides.js';
import { BACKENDS } from '../helpers/backends.js';
import {
  expectApiAccepts,
  expectApiRefuses,
  expectRefreshRefused,
  familyRows,
  firstPair,
  grantIdOf,
  grantRow,
  type Pair,
  pairOf,
  refresh,
  refreshClient,
  refreshHash,
  refreshRow,
  updateRefreshRow,
} from '../helpers/lifecycle.js';
import { type TokenCall, tokenRequest } from '../helpers/oauth.js';
import type { TestServer } from '../helpers/server.js';
import { subjectAt } from '../helpers/subjects.js';
import { clientAuth, codeFor, createSideUser, decodeJwt, exchangeCode, expectTokenError, expectTokenSuccess, ISSUER, otherSide, SIDES, type SideUser, startServerWithSideUsers } from '../helpers/tokens.js';
import { CLI } from '../../src/management/principal.js';
import { REFRESH_TOKEN_PURPOSE } from '../../src/oauth/token-issuer.js';
import { randomToken } from '../../src/security/tokens.js';
import { expectRevoked, introspect, revoke } from '../helpers/endpoints.js';

const THIRTY_DAYS = 2_592_000;
const RACERS = 20;
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe.each(BACKENDS)('refresh tokens, no grace period (%s)', (backend) => {
  let server: TestServer;
  let users: Record<SideName, SideUser>;

  beforeAll(async () => {
    ({ server, users } = await startServerWithSideUsers(backend));
  });
  afterAll(() => server?.close());

  it('the server runs with the documented defaults: 30-day refresh tokens, no grace period', () => {
    expect(server.config.refreshTokenTtl).toBe(THIRTY_DAYS);
    expect(server.config.refreshGracePeriod).toBe(0);
  });

  describe.each(SIDES)('%s', (side) => {
    const other = otherSide(side);

    describe('issuance', () => {
      it('the code grant issues an opaque, random refresh token, stored only as a hash, valid 30 days', async () => {
        const client = await refreshClient(server, side);
        const before = nowSeconds();
        const a = await firstPair(server, users[side], client, 'read');
        const b = await firstPair(server, users[side], client, 'read');
        expect(a.call.json).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'read' });
        expect(a.refreshToken).not.toBe(b.refreshToken);
        // Opaque: not a JWT, base64url, at least 256 bits of randomness.
        expect(a.refreshToken).toMatch(/^[A-Za-z0-9_-]{43,}$/);
        expect(a.refreshToken.split('.')).toHaveLength(1);
        const row = await refreshRow(server, a.refreshToken);
        expect(row).toBeDefined();
        expect(row?.token_hash).not.toBe(a.refreshToken);
        expect(row?.token_hash).toBe(refreshHash(server, a.refreshToken));
        expect(Object.values(row ?? {})).not.toContain(a.refreshToken);
        expect(row?.used_at).toBeNull();
        expect(row?.scope).toBe('read');
        expect(row?.access_jti).toBe(decodeJwt(a.accessToken).payload.jti);
        expect(row?.created_at).toBeGreaterThanOrEqual(before);
        expect(Number(row?.expires_at) - Number(row?.created_at)).toBe(THIRTY_DAYS);
        // Nothing in the table holds the token in clear.
        const clear = await server.grantry.database.db.selectFrom('refresh_tokens').select('token_hash').where('token_hash', '=', a.refreshToken).execute();
        expect(clear).toHaveLength(0);
      });

      it('a refresh token issued before they carried their time (43 characters, stored under its hash alone) is introspected, rotated and revoked as before', async () => {
        const client = await refreshClient(server, side);
        const first = await firstPair(server, users[side], client, 'read');
        expect(first.refreshToken).toMatch(/^[0-9a-f]{12}[A-Za-z0-9_-]{43}$/);
        expect((await refreshRow(server, first.refreshToken))?.token_hash.slice(0, 12)).toBe(first.refreshToken.slice(0, 12));
        // The same token row, stored as the previous version stored refresh tokens.
        const old = randomToken(32);
        await server.grantry.database.db.updateTable('refresh_tokens').set({ token_hash: server.grantry.hasher.hash(REFRESH_TOKEN_PURPOSE, old) }).where('token_hash', '=', refreshHash(server, first.refreshToken)).execute();
        expect((await introspect(server.url, client, old)).json).toMatchObject({ active: true, scope: 'read', client_id: client.clientId });
        const next = pairOf(await refresh(server, client, old));
        expect(next.refreshToken).toMatch(/^[0-9a-f]{12}[A-Za-z0-9_-]{43}$/);
        expect((await refreshRow(server, next.refreshToken))?.grant_id).toBe(await grantIdOf(server, old));
        // Used once: presenting it again is a reuse, which revokes the family (no grace period here).
        await expectRefreshRefused(server, client, old);
        await expectRefreshRefused(server, client, next.refreshToken);

        const other = await firstPair(server, users[side], client, 'read');
        const older = randomToken(32);
        await server.grantry.database.db.updateTable('refresh_tokens').set({ token_hash: server.grantry.hasher.hash(REFRESH_TOKEN_PURPOSE, older) }).where('token_hash', '=', refreshHash(server, other.refreshToken)).execute();
        expectRevoked(await revoke(server.url, client, older));
        await expectRefreshRefused(server, client, older);
        await expectApiRefuses(server, side, other.accessToken);
      });

      it('a public client gets a refresh token too, and refreshes with its client_id alone (form body)', async () => {
        const client = await refreshClient(server, side, { type: 'public' });
        expect(client.clientSecret).toBeUndefined();
        const first = await firstPair(server, users[side], client, 'api');
        const call = await tokenRequest(server.url, { grant_type: 'refresh_token', client_id: client.clientId, refresh_token: first.refreshToken }, { format: 'form' });
        const next = pairOf(call);
        expect(next.call.json.scope).toBe('api');
        expect(next.refreshToken).not.toBe(first.refreshToken);
        await expectApiAccepts(server, side, next.accessToken, users[side].id);
        await expectApiRefuses(server, side, first.accessToken);
      });

      it('a client without the refresh_token grant gets no refresh_token, and none is stored', async () => {
        const client = await server.createClient({ side, grants: ['authorization_code'] });
        const call = await exchangeCode(users[side], client, server, { scope: 'read' });
        const access = expectTokenSuccess(call);
        expect(call.json).not.toHaveProperty('refresh_token');
        expect(call.json.scope).toBe('read');
        const rows = await server.grantry.database.db.selectFrom('refresh_tokens').selectAll().where('access_jti', '=', decodeJwt(access).payload.jti as string).execute();
        expect(rows).toHaveLength(0);
        // And it cannot use the grant at all.
        expectTokenError(await refresh(server, client, 'anything'), 400, 'unauthorized_client');
      });

      it('HTTP Basic client authentication works for refresh', async () => {
        const client = await refreshClient(server, side);
        const first = await firstPair(server, users[side], client);
        const call = await tokenRequest(
          server.url,
          { grant_type: 'refresh_token', refresh_token: first.refreshToken },
          { format: 'form', basic: { id: client.clientId, secret: client.clientSecret as string } },
        );
        pairOf(call);
      });
    });

    describe('rotation', () => {
      it('a refresh gives a new pair; the old access token is refused by the API at once, the new one works', async () => {
        const client = await refreshClient(server, side);
        // api: the API answers only tokens that carry one of its scopes.
        const first = await firstPair(server, users[side], client, 'api read write');
        await expectApiAccepts(server, side, first.accessToken, users[side].id);
        const before = nowSeconds();
        const next = pairOf(await refresh(server, client, first.refreshToken));
        expect(next.call.json).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'api read write' });
        expect(next.accessToken).not.toBe(first.accessToken);
        expect(next.refreshToken).not.toBe(first.refreshToken);
        await expectApiRefuses(server, side, first.accessToken);
        await expectApiAccepts(server, side, next.accessToken, users[side].id);

        const claims = decodeJwt(next.accessToken).payload;
        const original = decodeJwt(first.accessToken).payload;
        expect(claims).toMatchObject({ iss: ISSUER[side], aud: `${ISSUER[side]}/api`, sub: await subjectAt(server, client.clientId, users[side].id), client_id: client.clientId, scope: 'api read write' });
        expect(claims.jti).not.toBe(original.jti);

        // The old token is marked used, the new one belongs to the same family and lives 30 days.
        const oldRow = await refreshRow(server, first.refreshToken);
        const newRow = await refreshRow(server, next.refreshToken);
        expect(oldRow?.used_at).toBeGreaterThanOrEqual(before);
        expect(newRow?.used_at).toBeNull();
        expect(newRow?.grant_id).toBe(oldRow?.grant_id);
        expect(newRow?.access_jti).toBe(claims.jti);
        expect(Number(newRow?.expires_at) - Number(newRow?.created_at)).toBe(THIRTY_DAYS);
      });

      it('rotates on every use: three refreshes in a row give three distinct pairs, only the newest works', async () => {
        const client = await refreshClient(server, side);
        const pairs: Pair[] = [await firstPair(server, users[side], client)];
        for (let i = 0; i < 3; i++) pairs.push(pairOf(await refresh(server, client, (pairs.at(-1) as Pair).refreshToken)));
        expect(new Set(pairs.map((p) => p.refreshToken)).size).toBe(4);
        expect(new Set(pairs.map((p) => p.accessToken)).size).toBe(4);
        for (const p of pairs.slice(0, -1)) await expectApiRefuses(server, side, p.accessToken);
        await expectApiAccepts(server, side, (pairs.at(-1) as Pair).accessToken);
        expect(await familyRows(server, await grantIdOf(server, pairs[0]!.refreshToken))).toHaveLength(4);
      });

      it('the rotated-out refresh token is refused, and that refusal revokes the family', async () => {
        const client = await refreshClient(server, side);
        const first = await firstPair(server, users[side], client);
        const next = pairOf(await refresh(server, client, first.refreshToken));
        await expectApiAccepts(server, side, next.accessToken);
        const grantId = await grantIdOf(server, first.refreshToken);
        expect((await grantRow(server, grantId)).revoked_at).toBeNull();

        await expectRefreshRefused(server, client, first.refreshToken);
        expect((await grantRow(server, grantId)).revoked_at).not.toBeNull();
        await expectApiRefuses(server, side, next.accessToken);
        await expectRefreshRefused(server, client, next.refreshToken);
      });

      it('reuse of an old token after several rotations revokes the NEWEST access and refresh tokens', async () => {
        const client = await refreshClient(server, side);
        const first = await firstPair(server, users[side], client, 'api read');
        const second = pairOf(await refresh(server, client, first.refreshToken));
        const third = pairOf(await refresh(server, client, second.refreshToken));
        await expectApiAccepts(server, side, third.accessToken);

        // An attacker replays the second token, already rotated out.
        const reuse = await expectRefreshRefused(server, client, second.refreshToken);
        expect(reuse.json.error_description).toMatch(/revoked|already/i);
        await expectApiRefuses(server, side, third.accessToken);
        await expectRefreshRefused(server, client, third.refreshToken);
        await expectRefreshRefused(server, client, first.refreshToken);
      });

      it('another authorization of the same user and client is not touched by a reuse in this one', async () => {
        const client = await refreshClient(server, side);
        const victim = await firstPair(server, users[side], client);
        const bystander = await firstPair(server, users[side], client);
        pairOf(await refresh(server, client, victim.refreshToken));
        await expectRefreshRefused(server, client, victim.refreshToken);
        await expectApiAccepts(server, side, bystander.accessToken);
        const next = pairOf(await refresh(server, client, bystander.refreshToken));
        await expectApiAccepts(server, side, next.accessToken);
      });

      it('a reused authorization code revokes the refresh token issued from it', async () => {
        const client = await refreshClient(server, side);
        const code = await codeFor(users[side], client);
        const body = { grant_type: 'authorization_code', ...clientAuth(client), redirect_uri: client.redirectUri, code };
        const issued = pairOf(await tokenRequest(server.url, body));
        expectTokenError(await tokenRequest(server.url, body), 400, 'invalid_grant');
        await expectRefreshRefused(server, client, issued.refreshToken);
        await expectApiRefuses(server, side, issued.accessToken);
      });

      it(`${RACERS} concurrent refreshes of one token: exactly one 200, the others invalid_grant, never two live branches`, async () => {
        const client = await refreshClient(server, side);
        const first = await firstPair(server, users[side], client, 'read');
        const grantId = await grantIdOf(server, first.refreshToken);
        const calls = await Promise.all(Array.from({ length: RACERS }, () => refresh(server, client, first.refreshToken)));
        const winners = calls.filter((c) => c.status === 200);
        expect(winners).toHaveLength(1);
        for (const call of calls.filter((c) => c.status !== 200)) expectTokenError(call, 400, 'invalid_grant');
        expect(winners[0]?.headers.get('cache-control')).toBe('no-store');

        // One new family member at most, and at most one unused token in an unrevoked family.
        const rows = await familyRows(server, grantId);
        expect(rows.length).toBeLessThanOrEqual(2);
        const grant = await grantRow(server, grantId);
        const live = grant.revoked_at === null ? rows.filter((r) => r.used_at === null) : [];
        expect(live.length).toBeLessThanOrEqual(1);

        // Over HTTP: of every refresh token descending from the raced one, at most one works.
        const descendants = winners.map((w) => w.json.refresh_token as string);
        let working = 0;
        for (const token of [first.refreshToken, ...descendants]) {
          if ((await refresh(server, client, token)).status === 200) working += 1;
        }
        expect(working).toBeLessThanOrEqual(1);
        await expectApiRefuses(server, side, first.accessToken);
      });
    });

    describe('binding to the client', () => {
      it('another client of the same side presenting the token: invalid_grant; the token still works for its owner', async () => {
        const owner = await refreshClient(server, side);
        const thief = await refreshClient(server, side);
        const first = await firstPair(server, users[side], owner);
        const refused = await expectRefreshRefused(server, thief, first.refreshToken);
        expect(refused.json.error_description).not.toMatch(/another client/i);
        expect((await refreshRow(server, first.refreshToken))?.used_at).toBeNull();
        await expectApiAccepts(server, side, first.accessToken);
        const next = pairOf(await refresh(server, owner, first.refreshToken));
        await expectApiAccepts(server, side, next.accessToken, users[side].id);
      });

      it('a public client of the same side presenting a confidential client token: invalid_grant; still works for its owner', async () => {
        const owner = await refreshClient(server, side);
        const thief = await refreshClient(server, side, { type: 'public' });
        const first = await firstPair(server, users[side], owner);
        await expectRefreshRefused(server, thief, first.refreshToken);
        pairOf(await refresh(server, owner, first.refreshToken));
      });

      it('a client of the other side presenting the token: invalid_grant; the token still works for its owner', async () => {
        const owner = await refreshClient(server, side);
        const thief = await refreshClient(server, other);
        const first = await firstPair(server, users[side], owner);
        await expectRefreshRefused(server, thief, first.refreshToken);
        const next = pairOf(await refresh(server, owner, first.refreshToken));
        expect(decodeJwt(next.accessToken).payload.iss).toBe(ISSUER[side]);
        await expectApiAccepts(server, side, next.accessToken);
      });

      it('an inactive client: 401 invalid_client, and the token is not consumed', async () => {
        const client = await refreshClient(server, side);
        const first = await firstPair(server, users[side], client);
        await server.grantry.clients.setActive(CLI, client.clientId, false);
        const call = await refresh(server, client, first.refreshToken);
        expectTokenError(call, 401, 'invalid_client');
        expect(call.json).not.toHaveProperty('access_token');
        expect((await refreshRow(server, first.refreshToken))?.used_at).toBeNull();
        await expectApiRefuses(server, side, first.accessToken);
      });

      it('a client that lost the refresh_token grant: unauthorized_client', async () => {
        const client = await refreshClient(server, side);
        const first = await firstPair(server, users[side], client);
        await server.grantry.clients.update(CLI, client.clientId, { grants: ['authorization_code'] });
        expectTokenError(await refresh(server, client, first.refreshToken), 400, 'unauthorized_client');
      });

      it('unknown, overlong, access-token-as-refresh-token and missing refresh tokens are refused', async () => {
        const client = await refreshClient(server, side);
        await expectRefreshRefused(server, client, 'not-a-refresh-token');
        await expectRefreshRefused(server, client, 'x'.repeat(5000));
        const first = await firstPair(server, users[side], client);
        // The access token is not a refresh token.
        await expectRefreshRefused(server, client, first.accessToken);
        expectTokenError(await tokenRequest(server.url, { grant_type: 'refresh_token', ...clientAuth(client) }), 400, 'invalid_request');
        // None of that touched the real token.
        pairOf(await refresh(server, client, first.refreshToken));
      });
    });

    describe('the user is checked again', () => {
      it('a disabled user: invalid_grant', async () => {
        const user = await createSideUser(server, side);
        const client = await refreshClient(server, side);
        const first = await firstPair(server, user, client);
        await server.grantry.users.setFlag(CLI, side, user.login, 'enabled', false);
        const call = await expectRefreshRefused(server, client, first.refreshToken);
        expect(call.json.error_description).toMatch(/disabled|locked/);
        await expectApiRefuses(server, side, first.accessToken);
      });

      if (side === 'backoffice') {
        it('a locked back-office user: invalid_grant', async () => {
          const user = await createSideUser(server, side);
          const client = await refreshClient(server, side);
          const first = await firstPair(server, user, client);
          await server.grantry.users.setFlag(CLI, side, user.login, 'locked', true);
          const call = await expectRefreshRefused(server, client, first.refreshToken);
          expect(call.json.error_description).toMatch(/disabled|locked/);
          await expectApiRefuses(server, side, first.accessToken);
        });
      }
    });

    describe('scope', () => {
      it('widening is invalid_scope and does not consume the token', async () => {
        const client = await refreshClient(server, side);
        const first = await firstPair(server, users[side], client, 'read');
        for (const scope of ['read write', 'write', 'profile', 'read nonexistent']) {
          expectTokenError(await refresh(server, client, first.refreshToken, { scope }), 400, 'invalid_scope');
        }
        expect((await refreshRow(server, first.refreshToken))?.used_at).toBeNull();
        const next = pairOf(await refresh(server, client, first.refreshToken));
        expect(next.call.json.scope).toBe('read');
      });

      it('narrowing gives a narrower access token; the next refresh still allows the original scope', async () => {
        const client = await refreshClient(server, side);
        // api stays in every narrowing, so the API can be asked whether the narrow token works.
        const first = await firstPair(server, users[side], client, 'api read write profile');
        expect(first.call.json.scope).toBe('api read write profile');
        expect(decodeJwt(first.accessToken).payload.scope).toBe('api read write profile');

        const narrow = pairOf(await refresh(server, client, first.refreshToken, { scope: 'api read' }));
        expect(narrow.call.json.scope).toBe('api read');
        expect(decodeJwt(narrow.accessToken).payload.scope).toBe('api read');
        await expectApiAccepts(server, side, narrow.accessToken);

        const back = pairOf(await refresh(server, client, narrow.refreshToken, { scope: 'api read write' }));
        expect(back.call.json.scope).toBe('api read write');
        expect(decodeJwt(back.accessToken).payload.scope).toBe('api read write');

        const full = pairOf(await refresh(server, client, back.refreshToken));
        expect(full.call.json.scope).toBe('api read write profile');
        expect(decodeJwt(full.accessToken).payload.scope).toBe('api read write profile');
      });

      it('scopes taken away from the client leave its refreshed tokens too', async () => {
        const client = await refreshClient(server, side);
        const first = await firstPair(server, users[side], client, 'read write');
        await server.grantry.clients.update(CLI, client.clientId, { scopes: ['read'] });
        expectTokenError(await refresh(server, client, first.refreshToken, { scope: 'write' }), 400, 'invalid_scope');
        const next = pairOf(await refresh(server, client, first.refreshToken));
        expect(next.call.json.scope).toBe('read');
        expect(decodeJwt(next.accessToken).payload.scope).toBe('read');
      });
    });

    describe('expiry', () => {
      it('an expired refresh token: invalid_grant', async () => {
        const client = await refreshClient(server, side);
        const first = await firstPair(server, users[side], client);
        await updateRefreshRow(server, first.refreshToken, { expires_at: nowSeconds() - 1 });
        await expectRefreshRefused(server, client, first.refreshToken);
      });

      it('a refresh token one minute from expiry still works', async () => {
        const client = await refreshClient(server, side);
        const first = await firstPair(server, users[side], client);
        await updateRefreshRow(server, first.refreshToken, { expires_at: nowSeconds() + 60 });
        const next = pairOf(await refresh(server, client, first.refreshToken));
        const row = await refreshRow(server, next.refreshToken);
        expect(Number(row?.expires_at)).toBeGreaterThanOrEqual(nowSeconds() + THIRTY_DAYS - 5);
      });
    });
  });
});

describe.each(BACKENDS)('refresh tokens of a server without a default scope (%s)', (backend) => {
  let server: TestServer;
  let users: Record<SideName, SideUser>;

  // No default scope: a request naming none is granted none, the case a refresh must keep.
  beforeAll(async () => {
    ({ server, users } = await startServerWithSideUsers(backend, { defaultScope: '' }));
  });
  afterAll(() => server?.close());

  describe.each(SIDES)('%s', (side) => {
    it('a grant without scope stays without scope; asking for one on refresh is invalid_scope', async () => {
      const client = await refreshClient(server, side);
      const first = await firstPair(server, users[side], client);
      expect(first.call.json).not.toHaveProperty('scope');
      expect(decodeJwt(first.accessToken).payload).not.toHaveProperty('scope');
      expectTokenError(await refresh(server, client, first.refreshToken, { scope: 'read' }), 400, 'invalid_scope');
      const next = pairOf(await refresh(server, client, first.refreshToken));
      expect(next.call.json).not.toHaveProperty('scope');
      expect(decodeJwt(next.accessToken).payload).not.toHaveProperty('scope');
    });
  });
});

describe.each(BACKENDS)('refresh tokens with a 30 s grace period (%s)', (backend) => {
  let server: TestServer;
  let users: Record<SideName, SideUser>;

  beforeAll(async () => {
    ({ server, users } = await startServerWithSideUsers(backend, { refreshGracePeriod: 30 }));
  });
  afterAll(() => server?.close());

  const sameTokens = (a: TokenCall, b: TokenCall) => {
    expect(b.json.access_token).toBe(a.json.access_token);
    expect(b.json.refresh_token).toBe(a.json.refresh_token);
    expect(b.json).toEqual(a.json);
  };

  describe.each(SIDES)('%s', (side) => {
    it('a retry within the grace period returns the identical pair and revokes nothing', async () => {
      const client = await refreshClient(server, side);
      const first = await firstPair(server, users[side], client, 'api read');
      const grantId = await grantIdOf(server, first.refreshToken);
      const next = pairOf(await refresh(server, client, first.refreshToken));
      const retry = await refresh(server, client, first.refreshToken);
      pairOf(retry);
      sameTokens(next.call, retry);
      expect(retry.json.scope).toBe('api read');
      expect((await grantRow(server, grantId)).revoked_at).toBeNull();
      expect(await familyRows(server, grantId)).toHaveLength(2);
      // Rotation still happened: the first access token is gone, the pair works.
      await expectApiRefuses(server, side, first.accessToken);
      await expectApiAccepts(server, side, next.accessToken, users[side].id);
      const third = pairOf(await refresh(server, client, next.refreshToken));
      await expectApiAccepts(server, side, third.accessToken);
    });

    it('a retry within the grace period of a refresh token of the older shape (stored under its hash alone) returns the identical pair', async () => {
      const client = await refreshClient(server, side);
      const first = await firstPair(server, users[side], client, 'api');
      const old = randomToken(32);
      await server.grantry.database.db.updateTable('refresh_tokens').set({ token_hash: server.grantry.hasher.hash(REFRESH_TOKEN_PURPOSE, old) }).where('token_hash', '=', refreshHash(server, first.refreshToken)).execute();
      const next = pairOf(await refresh(server, client, old));
      sameTokens(next.call, await refresh(server, client, old));
      await expectApiAccepts(server, side, next.accessToken, users[side].id);
    });

    it('the stored successor pair is sealed, not kept in clear', async () => {
      const client = await refreshClient(server, side);
      const first = await firstPair(server, users[side], client);
      const next = pairOf(await refresh(server, client, first.refreshToken));
      const row = await refreshRow(server, first.refreshToken);
      expect(typeof row?.replacement).toBe('string');
      expect(row?.replacement).not.toContain(next.refreshToken);
      expect(row?.replacement).not.toContain(next.accessToken.split('.')[1] as string);
    });

    it('the cleanup wipes the sealed pair once the grace period is over, and keeps a fresh one', async () => {
      const client = await refreshClient(server, side);
      const old = await firstPair(server, users[side], client);
      pairOf(await refresh(server, client, old.refreshToken));
      const fresh = await firstPair(server, users[side], client);
      pairOf(await refresh(server, client, fresh.refreshToken));
      const now = Math.floor(Date.now() / 1000);
      await server.grantry.database.db.updateTable('refresh_tokens').set({ used_at: now - 31 }).where('token_hash', '=', refreshHash(server, old.refreshToken)).execute();
      await runCleanup(server.grantry, now);
      expect((await refreshRow(server, old.refreshToken))?.replacement).toBeNull();
      expect(typeof (await refreshRow(server, fresh.refreshToken))?.replacement).toBe('string');
    });

    it('a retry after the grace window revokes the family', async () => {
      const client = await refreshClient(server, side);
      const first = await firstPair(server, users[side], client);
      const next = pairOf(await refresh(server, client, first.refreshToken));
      await server.grantry.database.db.updateTable('refresh_tokens').set({ used_at: 1 }).where('token_hash', '=', refreshHash(server, first.refreshToken)).execute();
      expect((await refreshRow(server, first.refreshToken))?.used_at).toBe(1);
      await expectRefreshRefused(server, client, first.refreshToken);
      await expectApiRefuses(server, side, next.accessToken);
      await expectRefreshRefused(server, client, next.refreshToken);
    });

    it('a retry 25 s after the rotation still gets the pair; one 40 s after it revokes the family', async () => {
      const client = await refreshClient(server, side);
      const a = await firstPair(server, users[side], client);
      const aNext = pairOf(await refresh(server, client, a.refreshToken));
      // A few seconds of margin on each side, so a second ticking over during the test cannot flip the result.
      await updateRefreshRow(server, a.refreshToken, { used_at: nowSeconds() - 25 });
      sameTokens(aNext.call, await refresh(server, client, a.refreshToken));
      await expectApiAccepts(server, side, aNext.accessToken);

      const b = await firstPair(server, users[side], client);
      const bNext = pairOf(await refresh(server, client, b.refreshToken));
      await updateRefreshRow(server, b.refreshToken, { used_at: nowSeconds() - 40 });
      await expectRefreshRefused(server, client, b.refreshToken);
      await expectApiRefuses(server, side, bNext.accessToken);
    });

    it('a retry within the window after the user was disabled: invalid_grant, not the stored pair', async () => {
      const user = await createSideUser(server, side);
      const client = await refreshClient(server, side);
      const first = await firstPair(server, user, client);
      pairOf(await refresh(server, client, first.refreshToken));
      await server.grantry.users.setFlag(CLI, side, user.login, 'enabled', false);
      const call = await expectRefreshRefused(server, client, first.refreshToken);
      expect(call.json.error_description).toMatch(/disabled|locked/);
    });

    it('a retry by another client within the window is invalid_grant and revokes nothing', async () => {
      const client = await refreshClient(server, side);
      const thief = await refreshClient(server, side);
      const first = await firstPair(server, users[side], client);
      const next = pairOf(await refresh(server, client, first.refreshToken));
      const stolen = await expectRefreshRefused(server, thief, first.refreshToken);
      expect(stolen.json).not.toHaveProperty('refresh_token');
      await expectApiAccepts(server, side, next.accessToken);
    });

    it('reuse of a token whose successor was already rotated further still revokes the family after the window', async () => {
      const client = await refreshClient(server, side);
      const first = await firstPair(server, users[side], client);
      const second = pairOf(await refresh(server, client, first.refreshToken));
      const third = pairOf(await refresh(server, client, second.refreshToken));
      await updateRefreshRow(server, first.refreshToken, { used_at: 1 });
      await expectRefreshRefused(server, client, first.refreshToken);
      await expectApiRefuses(server, side, third.accessToken);
      await expectRefreshRefused(server, client, third.refreshToken);
    });

    it(`${RACERS} concurrent refreshes of one token: every 200 carries the same pair, one new family member`, async () => {
      const client = await refreshClient(server, side, { type: side === 'storefront' ? 'public' : 'confidential' });
      const first = await firstPair(server, users[side], client, 'api read');
      const grantId = await grantIdOf(server, first.refreshToken);
      const calls = await Promise.all(Array.from({ length: RACERS }, () => refresh(server, client, first.refreshToken)));
      const ok = calls.filter((c) => c.status === 200);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      // Within the grace period a concurrent duplicate is a retry, not a reuse: all succeed.
      expect(calls.map((c) => c.status)).toEqual(Array(RACERS).fill(200));
      for (const call of ok) {
        pairOf(call);
        sameTokens(ok[0] as TokenCall, call);
      }
      const rows = await familyRows(server, grantId);
      expect(rows).toHaveLength(2);
      expect((await grantRow(server, grantId)).revoked_at).toBeNull();
      const successor = ok[0]?.json.refresh_token as string;
      expect(rows.filter((r) => r.used_at === null).map((r) => r.token_hash)).toEqual([refreshHash(server, successor)]);
      await expectApiRefuses(server, side, first.accessToken);
      await expectApiAccepts(server, side, ok[0]?.json.access_token as string, users[side].id);
      pairOf(await refresh(server, client, successor));
    });
  });
});
