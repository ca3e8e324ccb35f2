/**
 * grant_type=client_credentials and grant_type=password over HTTP against real servers, on
 * every backend and both sides. Client credentials: confidential clients only, the token acts
 * as the client's owner user, no refresh token. Password: off by default (RFC 9700 §2.4), on
 * with the global setting plus the per-client grant.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { BACKENDS } from '../helpers/backends.js';
import { expectApiAccepts, expectApiRefuses, pairOf, refresh } from '../helpers/lifecycle.js';
import { apiGet, type TokenCall, tokenRequest } from '../helpers/oauth.js';
import type { TestServer } from '../helpers/server.js';
import { subjectAt } from '../helpers/subjects.js';
import { API_PATH, createSideUser, decodeJwt, expectTokenError, expectTokenSuccess, ISSUER, otherSide, SIDES, type SideUser, startServerWithSideUsers, type TestClient } from '../helpers/tokens.js';
import { CLI } from '../../src/management/principal.js';

const metadataPath = (side: SideName) => `/.well-known/oauth-authorization-server${side === 'backoffice' ? '/admin' : ''}`;

async function grantTypesSupported(server: TestServer, side: SideName): Promise<string[]> {
  const response = await fetch(server.url + metadataPath(side));
  expect(response.status).toBe(200);
  return ((await response.json()) as { grant_types_supported: string[] }).grant_types_supported;
}

/** A successful response without a refresh token; returns the access token. */
function expectAccessOnly(call: TokenCall): string {
  const token = expectTokenSuccess(call);
  expect(call.json).not.toHaveProperty('refresh_token');
  return token;
}

describe.each(BACKENDS)('client credentials, and the password grant off by default (%s)', (backend) => {
  let server: TestServer;
  let owners: Record<SideName, SideUser>;

  beforeAll(async () => {
    ({ server, users: owners } = await startServerWithSideUsers(backend));
  });
  afterAll(() => server?.close());

  /** A confidential client-credentials client owned by `owner`. */
  const ccClient = (side: SideName, owner: SideUser, extra: { grants?: string[]; scopes?: string[] } = {}) =>
    server.createClient({ side, grants: extra.grants ?? ['client_credentials'], owner: owner.login, ...(extra.scopes ? { scopes: extra.scopes } : {}) });

  const cc = (client: TestClient, extra: Record<string, string | undefined> = {}) =>
    tokenRequest(server.url, { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, ...extra });

  describe.each(SIDES)('client credentials, %s', (side) => {
    it('the token acts as the owner user: sub is the owner, the side API answers for that user, no refresh token', async () => {
      const client = await ccClient(side, owners[side]);
      const call = await cc(client);
      const token = expectAccessOnly(call);
      // No scope asked: the default scope (api), which is what lets the API answer it.
      expect(call.json).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'api' });
      const { header, payload } = decodeJwt(token);
      expect(header.typ).toBe('at+jwt');
      expect(payload).toMatchObject({ iss: ISSUER[side], aud: `${ISSUER[side]}/api`, sub: await subjectAt(server, client.clientId, owners[side].id), client_id: client.clientId, scope: 'api' });
      await expectApiAccepts(server, side, token, owners[side].id);
      if (side === 'backoffice') {
        const users = await apiGet(server.url, '/admin/api/users?page[size]=100', token);
        expect(users.status).toBe(200);
        expect((users.json.data as Array<{ id: string }>).map((u) => u.id)).toContain(String(owners[side].id));
      } else {
        const mine = await apiGet(server.url, '/api/customerusers/mine', token);
        expect(mine.json).toMatchObject({ data: { type: 'customerusers', id: String(owners[side].id), attributes: { email: owners[side].login } } });
      }
    });

    it('the token is refused by the other side API', async () => {
      const client = await ccClient(side, owners[side]);
      const token = expectAccessOnly(await cc(client));
      await expectApiRefuses(server, otherSide(side), token);
    });

    it('HTTP Basic and a form body work too; each request gets a new token and both stay valid', async () => {
      const client = await ccClient(side, owners[side]);
      const a = expectAccessOnly(await tokenRequest(server.url, { grant_type: 'client_credentials' }, { format: 'form', basic: { id: client.clientId, secret: client.clientSecret as string } }));
      const b = expectAccessOnly(await cc(client));
      expect(decodeJwt(a).payload.jti).not.toBe(decodeJwt(b).payload.jti);
      await expectApiAccepts(server, side, a);
      await expectApiAccepts(server, side, b);
    });

    it('no refresh token even for a client that also has the refresh_token grant, and none is stored', async () => {
      const client = await ccClient(side, owners[side], { grants: ['client_credentials', 'authorization_code', 'refresh_token'] });
      const token = expectAccessOnly(await cc(client));
      const rows = await server.grantry.database.db.selectFrom('refresh_tokens').selectAll().where('access_jti', '=', decodeJwt(token).payload.jti as string).execute();
      expect(rows).toHaveLength(0);
    });

    it('a public client (with other grants) asking for client_credentials: 400 unauthorized_client', async () => {
      const client = await server.createClient({ side, type: 'public', grants: ['authorization_code', 'refresh_token'] });
      const call = await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: client.clientId });
      expectTokenError(call, 400, 'unauthorized_client');
      expect(call.json).not.toHaveProperty('access_token');
    });

    it('the management layer refuses to create a public client-credentials client', async () => {
      await expect(server.createClient({ side, type: 'public', grants: ['client_credentials'], owner: owners[side].login })).rejects.toThrow(/public clients cannot use the client_credentials grant/);
    });

    it('a public client whose stored grants include client_credentials (edited in the database) is still refused', async () => {
      const client = await server.createClient({ side, type: 'public', grants: ['authorization_code'] });
      await server.grantry.database.db
        .updateTable('clients')
        .set({ grants: JSON.stringify(['authorization_code', 'client_credentials']), owner_user_id: owners[side].id })
        .where('client_id', '=', client.clientId)
        .execute();
      expectTokenError(await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: client.clientId }), 400, 'unauthorized_client');
    });

    it('a confidential client without the client_credentials grant: 400 unauthorized_client', async () => {
      const client = await server.createClient({ side, owner: owners[side].login });
      expectTokenError(await cc(client), 400, 'unauthorized_client');
    });

    it('the management layer requires an owner of the same side', async () => {
      await expect(server.createClient({ side, grants: ['client_credentials'] })).rejects.toThrow(/owner/);
      await expect(server.createClient({ side, grants: ['client_credentials'], owner: owners[otherSide(side)].login })).rejects.toThrow();
    });

    it('a wrong or missing secret: 401 invalid_client', async () => {
      const client = await ccClient(side, owners[side]);
      const wrong = await cc(client, { client_secret: `${client.clientSecret}x` });
      expectTokenError(wrong, 401, 'invalid_client');
      expect(wrong.json).not.toHaveProperty('access_token');
      expectTokenError(await cc(client, { client_secret: undefined }), 401, 'invalid_client');
      const basic = await tokenRequest(server.url, { grant_type: 'client_credentials' }, { format: 'form', basic: { id: client.clientId, secret: 'not-the-secret' } });
      expectTokenError(basic, 401, 'invalid_client');
      expect(basic.headers.get('www-authenticate')).toMatch(/^Basic /);
    });

    it('an inactive client: 401 invalid_client, and its existing token is refused by the API', async () => {
      const client = await ccClient(side, owners[side]);
      const token = expectAccessOnly(await cc(client));
      await server.grantry.clients.setActive(CLI, client.clientId, false);
      expectTokenError(await cc(client), 401, 'invalid_client');
      await expectApiRefuses(server, side, token);
    });

    it('a disabled owner: 400 invalid_grant, and the token issued before is refused by the API', async () => {
      const owner = await createSideUser(server, side);
      const client = await ccClient(side, owner);
      const token = expectAccessOnly(await cc(client));
      await server.grantry.users.setFlag(CLI, side, owner.login, 'enabled', false);
      const call = await cc(client);
      expectTokenError(call, 400, 'invalid_grant');
      expect(call.json.error_description).toMatch(/disabled|locked/);
      await expectApiRefuses(server, side, token);
      await server.grantry.users.setFlag(CLI, side, owner.login, 'enabled', true);
      expectAccessOnly(await cc(client));
    });

    if (side === 'backoffice') {
      it('a locked back-office owner: 400 invalid_grant', async () => {
        const owner = await createSideUser(server, side);
        const client = await ccClient(side, owner);
        await server.grantry.users.setFlag(CLI, side, owner.login, 'locked', true);
        const call = await cc(client);
        expectTokenError(call, 400, 'invalid_grant');
        expect(call.json.error_description).toMatch(/disabled|locked/);
      });
    }

    it('scope: an allowed scope is granted, in the response and the JWT', async () => {
      // users:read, an API scope the owner's role may hold, so the API can be asked too.
      const client = await ccClient(side, owners[side], { scopes: ['read', 'profile', 'orders:read', 'users:read'] });
      const call = await cc(client, { scope: 'read orders:read users:read' });
      const token = expectAccessOnly(call);
      expect(call.json.scope).toBe('read orders:read users:read');
      expect(decodeJwt(token).payload.scope).toBe('read orders:read users:read');
      await expectApiAccepts(server, side, token);
    });

    it('scope: outside the allowed set, unknown, or malformed: 400 invalid_scope', async () => {
      const client = await ccClient(side, owners[side], { scopes: ['read'] });
      for (const scope of ['write', 'read write', 'admin', 'read "quoted"', 'read\\x']) {
        const call = await cc(client, { scope });
        expectTokenError(call, 400, 'invalid_scope');
        expect(call.json).not.toHaveProperty('access_token');
      }
      expect(expectAccessOnly(await cc(client, { scope: 'read' })).length).toBeGreaterThan(0);
    });

    it('password grant is off by default: unsupported_grant_type even for a client with the password grant, and not advertised', async () => {
      const user = await createSideUser(server, side);
      const client = await server.createClient({ side, grants: ['password'] });
      const call = await tokenRequest(server.url, { grant_type: 'password', client_id: client.clientId, client_secret: client.clientSecret, username: user.login, password: user.password });
      expectTokenError(call, 400, 'unsupported_grant_type');
      expect(call.json).not.toHaveProperty('access_token');
      expect(server.config.passwordGrantEnabled).toBe(false);
      const supported = await grantTypesSupported(server, side);
      expect(supported).not.toContain('password');
      expect(supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']));
    });
  });
});

describe.each(BACKENDS)('password grant enabled (%s)', (backend) => {
  let server: TestServer;
  let users: Record<SideName, SideUser>;

  beforeAll(async () => {
    ({ server, users } = await startServerWithSideUsers(backend, { passwordGrantEnabled: true }));
  });
  afterAll(() => server?.close());

  const pwClient = (side: SideName, extra: { grants?: string[]; scopes?: string[]; type?: 'confidential' | 'public' } = {}) =>
    server.createClient({ side, type: extra.type ?? 'confidential', grants: extra.grants ?? ['password'], ...(extra.scopes ? { scopes: extra.scopes } : {}) });

  const pw = (client: TestClient, login: string, password: string, extra: Record<string, string | undefined> = {}) =>
    tokenRequest(server.url, { grant_type: 'password', client_id: client.clientId, client_secret: client.clientSecret, username: login, password, ...extra });

  describe.each(SIDES)('%s', (side) => {
    it('is advertised in the metadata', async () => {
      expect(await grantTypesSupported(server, side)).toContain('password');
    });

    it('right credentials: 200, the token acts for the user; no refresh token without the refresh_token grant', async () => {
      const client = await pwClient(side);
      const call = await pw(client, users[side].login, users[side].password);
      const token = expectTokenSuccess(call);
      expect(call.json).not.toHaveProperty('refresh_token');
      // No scope asked: the default scope (api), which is what lets the API answer it.
      expect(call.json.scope).toBe('api');
      expect(decodeJwt(token).payload).toMatchObject({ iss: ISSUER[side], aud: `${ISSUER[side]}/api`, sub: await subjectAt(server, client.clientId, users[side].id), client_id: client.clientId, scope: 'api' });
      await expectApiAccepts(server, side, token, users[side].id);
    });

    it('form body with HTTP Basic client authentication works', async () => {
      const client = await pwClient(side);
      const call = await tokenRequest(
        server.url,
        { grant_type: 'password', username: users[side].login, password: users[side].password },
        { format: 'form', basic: { id: client.clientId, secret: client.clientSecret as string } },
      );
      await expectApiAccepts(server, side, expectTokenSuccess(call), users[side].id);
    });

    it('issues a refresh token when the client has refresh_token; it rotates like any other', async () => {
      const client = await pwClient(side, { grants: ['password', 'refresh_token'] });
      // api stays through the narrowing, so the API can be asked about the narrowed token.
      const first = pairOf(await pw(client, users[side].login, users[side].password, { scope: 'api read write' }));
      expect(first.call.json.scope).toBe('api read write');
      const next = pairOf(await refresh(server, client, first.refreshToken, { scope: 'api read' }));
      expect(next.call.json.scope).toBe('api read');
      await expectApiRefuses(server, side, first.accessToken);
      await expectApiAccepts(server, side, next.accessToken, users[side].id);
      // Reuse of the first refresh token revokes the family.
      expectTokenError(await refresh(server, client, first.refreshToken), 400, 'invalid_grant');
      await expectApiRefuses(server, side, next.accessToken);
    });

    it('a public client with the password grant and refresh_token gets a pair without a secret', async () => {
      const client = await pwClient(side, { type: 'public', grants: ['password', 'refresh_token'] });
      const call = await tokenRequest(server.url, { grant_type: 'password', client_id: client.clientId, username: users[side].login, password: users[side].password });
      const first = pairOf(call);
      await expectApiAccepts(server, side, first.accessToken, users[side].id);
    });

    it('wrong password and unknown user: the same 400 invalid_grant', async () => {
      const client = await pwClient(side);
      const wrong = await pw(client, users[side].login, `${users[side].password}x`);
      expectTokenError(wrong, 400, 'invalid_grant');
      expect(wrong.json).not.toHaveProperty('access_token');
      const unknownLogin = side === 'backoffice' ? 'nobody-at-all' : 'nobody-at-all@example.com';
      const unknown = await pw(client, unknownLogin, users[side].password);
      expectTokenError(unknown, 400, 'invalid_grant');
      expect(unknown.json).toEqual(wrong.json);
      const empty = await pw(client, users[side].login, '');
      expect(empty.status).toBe(400);
      expect(['invalid_grant', 'invalid_request']).toContain(empty.json.error);
    });

    it('the credentials of a user of the other side: invalid_grant, same answer as an unknown user', async () => {
      const client = await pwClient(side);
      const stranger = users[otherSide(side)];
      const call = await pw(client, stranger.login, stranger.password);
      expectTokenError(call, 400, 'invalid_grant');
      const unknown = await pw(client, 'nobody-else@example.com', 'whatever-password-1');
      expect(call.json).toEqual(unknown.json);
    });

    it('a disabled (or locked) user with the right password gets the very answer of a wrong password: the password is not confirmed', async () => {
      const user = await createSideUser(server, side);
      const client = await pwClient(side);
      const wrong = await pw(client, user.login, `${user.password}x`);
      expectTokenError(wrong, 400, 'invalid_grant');
      const flags = side === 'backoffice' ? (['enabled', 'locked'] as const) : (['enabled'] as const);
      for (const flag of flags) {
        await server.grantry.users.setFlag(CLI, side, user.login, flag, flag === 'locked');
        const call = await pw(client, user.login, user.password);
        expectTokenError(call, 400, 'invalid_grant');
        expect(call.json).toEqual(wrong.json);
        expect(call.json.error_description).not.toMatch(/disabled|locked/);
        await server.grantry.users.setFlag(CLI, side, user.login, flag, flag !== 'locked');
      }
      expectTokenSuccess(await pw(client, user.login, user.password));
    });

    it('a client without the password grant: 400 unauthorized_client', async () => {
      const client = await server.createClient({ side, grants: ['authorization_code', 'refresh_token'] });
      const call = await pw(client, users[side].login, users[side].password);
      expectTokenError(call, 400, 'unauthorized_client');
      expect(call.json).not.toHaveProperty('access_token');
    });

    it('a wrong client secret: 401 invalid_client even with the right user credentials', async () => {
      const client = await pwClient(side);
      expectTokenError(await pw(client, users[side].login, users[side].password, { client_secret: 'wrong-secret' }), 401, 'invalid_client');
    });

    it('an inactive client: 401 invalid_client', async () => {
      const client = await pwClient(side);
      await server.grantry.clients.setActive(CLI, client.clientId, false);
      expectTokenError(await pw(client, users[side].login, users[side].password), 401, 'invalid_client');
    });

    it('missing username or password: 400 invalid_request', async () => {
      const client = await pwClient(side);
      expectTokenError(await pw(client, users[side].login, undefined as unknown as string), 400, 'invalid_request');
      expectTokenError(await tokenRequest(server.url, { grant_type: 'password', client_id: client.clientId, client_secret: client.clientSecret, password: users[side].password }), 400, 'invalid_request');
    });

    it('scope: an allowed scope is granted (response and JWT); outside the allowed set: invalid_scope', async () => {
      const client = await pwClient(side, { scopes: ['read', 'profile'] });
      const ok = await pw(client, users[side].login, users[side].password, { scope: 'profile read' });
      const token = expectTokenSuccess(ok);
      expect(ok.json.scope).toBe('profile read');
      expect(decodeJwt(token).payload.scope).toBe('profile read');
      for (const scope of ['write', 'read write', 'unknown-scope']) {
        expectTokenError(await pw(client, users[side].login, users[side].password, { scope }), 400, 'invalid_scope');
      }
    });

    it('the token of the password grant is refused once the user is disabled', async () => {
      const user = await createSideUser(server, side);
      const client = await pwClient(side);
      const token = expectTokenSuccess(await pw(client, user.login, user.password));
      await expectApiAccepts(server, side, token);
      await server.grantry.users.setFlag(CLI, side, user.login, 'enabled', false);
      await expectApiRefuses(server, side, token);
      expect((await apiGet(server.url, API_PATH[side], token)).status).toBe(401);
    });
  });
});
