/**
 * Scopes over HTTP against real servers, on every backend and both sides: each client's allowed
 * scopes, invalid_scope at authorize (sent back to the client with state and iss) and at every
 * grant of the token endpoint, the default scope limited to what the client may have, the
 * consent page's descriptions, and the granted scope in the JWT and the token response.
 */
import { IDENTITY_SCOPES } from '../../src/oauth/oidc/claims.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_SCOPES } from '../../src/oauth/api-scopes.js';
import type { SideName } from '../../src/oauth/sides.js';
import {
  expectCodeRedirect,
  expectConsentPage,
  expectErrorRedirect,
  issuerOf,
  signedInBrowser,
} from '../helpers/authorize-pages.js';
import { BACKENDS } from '../helpers/backends.js';
import { TestBrowser } from '../helpers/browser.js';
import { expectApiAccepts, pairOf, refresh } from '../helpers/lifecycle.js';
import { apiGet, authorizePath, authorizeUrl, pkcePair, type TokenCall, tokenRequest } from '../helpers/oauth.js';
import { startTestServer, TEST_SCOPES, type TestServer } from '../helpers/server.js';
import { API_PATH, clientAuth, decodeJwt, expectTokenError, expectTokenSuccess, SIDES, type SideUser, startServerWithSideUsers, type TestClient } from '../helpers/tokens.js';
import { CLI } from '../../src/management/principal.js';

/** Grantry's API refuses a token of only the deployment's own scopes: 403 insufficient_scope (RFC 6750 §3.1). */
async function expectInsufficientScope(server: TestServer, side: SideName, token: string): Promise<void> {
  const api = await apiGet(server.url, API_PATH[side], token);
  expect(api.status).toBe(403);
  expect(api.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The scopes the consent page lists, as [description, name] pairs. */
function listedScopes(body: string): Array<[string, string]> {
  const list = /<ul class="scopes">([\s\S]*?)<\/ul>/.exec(body)?.[1];
  if (list === undefined) return [];
  return [...list.matchAll(/<li>([^<]*) <code>([^<]*)<\/code><\/li>/g)].map((m) => [m[1] as string, m[2] as string]);
}

/** Asserts the token response and the JWT carry exactly `scope` (or no scope at all when empty). */
function expectGrantedScope(call: TokenCall, scope: string): string {
  const token = expectTokenSuccess(call);
  const claims = decodeJwt(token).payload;
  if (scope === '') {
    expect(call.json).not.toHaveProperty('scope');
    expect(claims).not.toHaveProperty('scope');
  } else {
    expect(call.json.scope).toBe(scope);
    expect(claims.scope).toBe(scope);
  }
  return token;
}

interface ScopeFixture {
  server: TestServer;
  users: Record<SideName, SideUser>;
  browsers: Record<SideName, TestBrowser>;
}

/** One server per configuration with a signed-in browser per side. */
function useServer(backend: Parameters<typeof startTestServer>[0], overrides: Parameters<typeof startTestServer>[1]): ScopeFixture {
  const fixture = { browsers: {} } as ScopeFixture;
  beforeAll(async () => {
    ({ server: fixture.server, users: fixture.users } = await startServerWithSideUsers(backend, overrides));
    for (const side of SIDES) {
      const user = fixture.users[side];
      const { browser } = await signedInBrowser(fixture.server, side, { id: user.id, login: user.login, password: user.password, ref: user.login });
      fixture.browsers[side] = browser;
    }
  });
  afterAll(() => fixture.server?.close());
  return fixture;
}

/** GET authorize in the signed-in browser: the consent page (asserted) and its form fields. */
async function consentFor(f: ScopeFixture, side: SideName, client: TestClient, params: Record<string, string | undefined>) {
  const response = await f.browsers[side].get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, ...params }));
  const fields = expectConsentPage(response);
  return { response, fields };
}

/** Authorize with consent → code → token, for a confidential client; returns the token response. */
async function codeGrant(f: ScopeFixture, side: SideName, client: TestClient, scope: string | undefined): Promise<{ call: TokenCall; listed: Array<[string, string]> }> {
  const { response, fields } = await consentFor(f, side, client, { scope, state: 'st' });
  const allowed = await f.browsers[side].post(authorizePath(side), { ...fields, decision: 'allow' });
  const code = expectCodeRedirect(allowed, { target: client.redirectUri, state: 'st', iss: issuerOf(side), status: 303 });
  const call = await tokenRequest(f.server.url, { grant_type: 'authorization_code', ...clientAuth(client), redirect_uri: client.redirectUri, code });
  return { call, listed: listedScopes(response.body) };
}

describe.each(BACKENDS)('scopes, no default scope (%s)', (backend) => {
  const f = useServer(backend, { defaultScope: '', passwordGrantEnabled: true });

  it('the server has no default scope and advertises the known scopes', async () => {
    expect(f.server.config.defaultScope).toBe('');
    // The storefront's issuer: no customer may hold the applications scopes, so it offers none.
    const metadata = (await (await fetch(`${f.server.url}/.well-known/oauth-authorization-server`)).json()) as { scopes_supported: string[] };
    const apiScopes = Object.keys(API_SCOPES).filter((s) => !s.startsWith('applications:'));
    expect(metadata.scopes_supported.sort()).toEqual([...new Set([...Object.keys(TEST_SCOPES), ...apiScopes, ...Object.keys(IDENTITY_SCOPES)])].sort());
  });

  describe.each(SIDES)('%s', (side) => {
    describe('at authorize', () => {
      it.each([
        ['a scope outside the client allowed set', 'write'],
        ['an allowed scope with one outside the set', 'read write'],
        ['an unknown scope', 'superuser'],
        ['a malformed scope', 'read "x"'],
        ['a scope with a backslash', 'read\\'],
      ])('%s: redirected back with error=invalid_scope, state and iss, before any login', async (_label, scope) => {
        const client = await f.server.createClient({ side, scopes: ['read', 'profile'] });
        // A browser that is not signed in: the error comes before the login page.
        const anonymous = new TestBrowser(f.server.url);
        const response = await anonymous.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, scope, state: 'state-1' }));
        expectErrorRedirect(response, { target: client.redirectUri, error: 'invalid_scope', state: 'state-1', iss: issuerOf(side) });
        expect(response.headers.get('cache-control')).toBe('no-store');
      });

      it('signed in, a scope outside the allowed set: no consent page, redirected with invalid_scope (and without state when none was sent)', async () => {
        const client = await f.server.createClient({ side, scopes: ['read'] });
        const response = await f.browsers[side].get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, scope: 'read orders:read' }));
        expect(response.body).not.toContain('name="decision"');
        const location = expectErrorRedirect(response, { target: client.redirectUri, error: 'invalid_scope', state: null, iss: issuerOf(side) });
        // Fixed wording: the requested value is not echoed into the client's redirect URI.
        expect(location.searchParams.get('error_description')).toBe('the scope names a scope that is unknown or not allowed for this client');
      });

      it('a client with no allowed scopes asking for one: invalid_scope', async () => {
        const client = await f.server.createClient({ side, scopes: [] });
        const response = await f.browsers[side].get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, scope: 'api', state: 's' }));
        expectErrorRedirect(response, { target: client.redirectUri, error: 'invalid_scope', state: 's', iss: issuerOf(side) });
      });

      it('a public client with PKCE gets invalid_scope the same way', async () => {
        const client = await f.server.createClient({ side, type: 'public', scopes: ['read'] });
        const { challenge } = pkcePair();
        const response = await f.browsers[side].get(
          authorizeUrl(side, { response_type: 'code', client_id: client.clientId, scope: 'write', state: 'p', code_challenge: challenge, code_challenge_method: 'S256' }),
        );
        expectErrorRedirect(response, { target: client.redirectUri, error: 'invalid_scope', state: 'p', iss: issuerOf(side) });
      });

      it('a consent form posted back with a scope outside the allowed set: 303 with invalid_scope, no code', async () => {
        const client = await f.server.createClient({ side, scopes: ['read'] });
        const { fields } = await consentFor(f, side, client, { scope: 'read', state: 'tamper' });
        expect(fields.scope).toBe('read');
        const response = await f.browsers[side].post(authorizePath(side), { ...fields, scope: 'read write', decision: 'allow' });
        expectErrorRedirect(response, { target: client.redirectUri, error: 'invalid_scope', state: 'tamper', iss: issuerOf(side), status: 303 });
      });

      it('the consent page lists the requested scopes with their descriptions, and only those', async () => {
        const client = await f.server.createClient({ side });
        const { response } = await consentFor(f, side, client, { scope: 'read orders:read' });
        expect(listedScopes(response.body)).toEqual([
          [escapeHtml(TEST_SCOPES.read), 'read'],
          [escapeHtml(TEST_SCOPES['orders:read']), 'orders:read'],
        ]);
        expect(response.body).not.toContain(TEST_SCOPES.write);
        expect(response.body).not.toContain(TEST_SCOPES.profile);
      });

      it('without scope the consent page lists none and the token carries none', async () => {
        const client = await f.server.createClient({ side });
        const { call, listed } = await codeGrant(f, side, client, undefined);
        expect(listed).toEqual([]);
        expectGrantedScope(call, '');
      });
    });

    describe('the granted scope in the token and the response', () => {
      it('authorization code: the requested scope is granted, in the response and the JWT; Grantry\'s API wants its own scopes', async () => {
        const client = await f.server.createClient({ side, scopes: ['read', 'write', 'profile', 'users:read'] });
        const { call, listed } = await codeGrant(f, side, client, 'write read');
        expect(listed.map(([, name]) => name)).toEqual(['write', 'read']);
        const token = expectGrantedScope(call, 'write read');
        expect(call.headers.get('cache-control')).toBe('no-store');
        await expectInsufficientScope(f.server, side, token);
        const withApiScope = expectGrantedScope((await codeGrant(f, side, client, 'read users:read')).call, 'read users:read');
        await expectApiAccepts(f.server, side, withApiScope, f.users[side].id);
      });

      it('repeated scope tokens and extra spaces are granted once', async () => {
        const client = await f.server.createClient({ side });
        const { call, listed } = await codeGrant(f, side, client, 'read  read profile ');
        expect(listed.map(([, name]) => name)).toEqual(['read', 'profile']);
        expectGrantedScope(call, 'read profile');
      });

      it('refresh: the grant scope by default, narrower on request, wider is invalid_scope', async () => {
        const client = await f.server.createClient({ side, grants: ['authorization_code', 'refresh_token'], scopes: ['read', 'write', 'profile'] });
        const { call } = await codeGrant(f, side, client, 'read write');
        const first = pairOf(call);
        expectGrantedScope(call, 'read write');
        for (const scope of ['read write profile', 'profile', 'api', 'read "x"']) {
          const widened = await refresh(f.server, client, first.refreshToken, { scope });
          expectTokenError(widened, 400, 'invalid_scope');
        }
        const narrow = await refresh(f.server, client, first.refreshToken, { scope: 'write' });
        expectGrantedScope(narrow, 'write');
        const again = await refresh(f.server, client, narrow.json.refresh_token as string);
        expectGrantedScope(again, 'read write');
      });

      it('client credentials: allowed scope granted; outside the set or unknown: invalid_scope; none: no scope', async () => {
        const owner = f.users[side];
        const client = await f.server.createClient({ side, grants: ['client_credentials'], owner: owner.login, scopes: ['read', 'orders:read'] });
        const body = (scope?: string) => ({ grant_type: 'client_credentials', ...clientAuth(client), scope });
        expectGrantedScope(await tokenRequest(f.server.url, body('orders:read')), 'orders:read');
        expectGrantedScope(await tokenRequest(f.server.url, body()), '');
        for (const scope of ['write', 'read write', 'nope']) expectTokenError(await tokenRequest(f.server.url, body(scope)), 400, 'invalid_scope');
      });

      it('password: allowed scope granted; outside the set or unknown: invalid_scope; none: no scope', async () => {
        const user = f.users[side];
        const client = await f.server.createClient({ side, grants: ['password'], scopes: ['profile'] });
        const body = (scope?: string) => ({ grant_type: 'password', ...clientAuth(client), username: user.login, password: user.password, scope });
        expectGrantedScope(await tokenRequest(f.server.url, body('profile')), 'profile');
        expectGrantedScope(await tokenRequest(f.server.url, body()), '');
        for (const scope of ['read', 'profile write', 'nope']) expectTokenError(await tokenRequest(f.server.url, body(scope)), 400, 'invalid_scope');
      });

      it('narrowing a client allowed scopes later makes new requests for the removed scope fail', async () => {
        const client = await f.server.createClient({ side, scopes: ['read', 'write'] });
        await f.server.grantry.clients.update(CLI, client.clientId, { scopes: ['read'] });
        const response = await f.browsers[side].get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, scope: 'write', state: 'u' }));
        expectErrorRedirect(response, { target: client.redirectUri, error: 'invalid_scope', state: 'u', iss: issuerOf(side) });
      });
    });
  });
});

describe.each(BACKENDS)('scopes with a default scope "read profile" (%s)', (backend) => {
  const f = useServer(backend, { defaultScope: 'read profile', passwordGrantEnabled: true });

  describe.each(SIDES)('%s', (side) => {
    it('no scope requested, client may have everything: the whole default scope, listed on the consent page', async () => {
      const client = await f.server.createClient({ side });
      const { call, listed } = await codeGrant(f, side, client, undefined);
      expect(listed).toEqual([
        [escapeHtml(TEST_SCOPES.read), 'read'],
        [escapeHtml(TEST_SCOPES.profile), 'profile'],
      ]);
      const token = expectGrantedScope(call, 'read profile');
      await expectInsufficientScope(f.server, side, token);
    });

    it('no scope requested, client allowed only part of the default: that part', async () => {
      const client = await f.server.createClient({ side, scopes: ['read', 'write'] });
      const { call, listed } = await codeGrant(f, side, client, undefined);
      expect(listed.map(([, name]) => name)).toEqual(['read']);
      expectGrantedScope(call, 'read');
    });

    it('no scope requested, client allowed none of the default: no scope at all', async () => {
      const client = await f.server.createClient({ side, scopes: ['write'] });
      const { call, listed } = await codeGrant(f, side, client, undefined);
      expect(listed).toEqual([]);
      expectGrantedScope(call, '');
    });

    it('an explicit scope replaces the default', async () => {
      const client = await f.server.createClient({ side });
      const { call } = await codeGrant(f, side, client, 'write');
      expectGrantedScope(call, 'write');
    });

    it('a client created without allowed scopes gets the default scope as its allowed set', async () => {
      const client = await f.server.createClient({ side, scopes: undefined });
      expect((await f.server.grantry.clients.get(CLI, client.clientId)).scopes).toEqual(['read', 'profile']);
      const refused = await f.browsers[side].get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, scope: 'write', state: 'd' }));
      expectErrorRedirect(refused, { target: client.redirectUri, error: 'invalid_scope', state: 'd', iss: issuerOf(side) });
      const { call } = await codeGrant(f, side, client, undefined);
      expectGrantedScope(call, 'read profile');
    });

    it('refresh keeps the default scope that was granted', async () => {
      const client = await f.server.createClient({ side, grants: ['authorization_code', 'refresh_token'], scopes: ['read', 'profile', 'write'] });
      const { call } = await codeGrant(f, side, client, undefined);
      const first = pairOf(call);
      expectGrantedScope(await refresh(f.server, client, first.refreshToken), 'read profile');
    });

    it('client credentials without scope: the default limited to the client', async () => {
      const owner = f.users[side];
      const all = await f.server.createClient({ side, grants: ['client_credentials'], owner: owner.login });
      expectGrantedScope(await tokenRequest(f.server.url, { grant_type: 'client_credentials', ...clientAuth(all) }), 'read profile');
      const some = await f.server.createClient({ side, grants: ['client_credentials'], owner: owner.login, scopes: ['profile', 'write'] });
      expectGrantedScope(await tokenRequest(f.server.url, { grant_type: 'client_credentials', ...clientAuth(some) }), 'profile');
      const none = await f.server.createClient({ side, grants: ['client_credentials'], owner: owner.login, scopes: ['orders:read'] });
      expectGrantedScope(await tokenRequest(f.server.url, { grant_type: 'client_credentials', ...clientAuth(none) }), '');
    });

    it('password without scope: the default limited to the client', async () => {
      const user = f.users[side];
      const client = await f.server.createClient({ side, grants: ['password'], scopes: ['read', 'orders:read'] });
      const body = (scope?: string) => ({ grant_type: 'password', ...clientAuth(client), username: user.login, password: user.password, scope });
      expectGrantedScope(await tokenRequest(f.server.url, body()), 'read');
      expectGrantedScope(await tokenRequest(f.server.url, body('orders:read')), 'orders:read');
      expectTokenError(await tokenRequest(f.server.url, body('profile')), 400, 'invalid_scope');
    });
  });
});
