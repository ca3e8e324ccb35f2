/**
 * What the independent review of OpenID Connect found, each pinned down over HTTP on every
 * backend and both sides: the sign-in that prompt=login and max_age ask for cannot be skipped by
 * opening the address the login page returns to; requests posted from the client's site (no
 * SameSite=Lax cookie) go on as the same request by GET; post-logout URIs match exactly (no
 * loopback-port leeway); UserInfo reads a form body whatever the media type's case; a sign-in
 * keeps its subject when the client's subject type changes afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { expectCodeRedirect, expectLoginRedirect, expectPage } from '../helpers/authorize-pages.js';
import { BACKENDS } from '../helpers/backends.js';
import { call } from '../helpers/endpoints.js';
import { authorizeUrl, pkcePair, tokenRequest } from '../helpers/oauth.js';
import { followAuthorization, idTokenClaims, LOGOUT_URI, nowSeconds, OIDC_SCOPE, oidcPaths } from '../helpers/oidc.js';
import { DEFAULT_REDIRECT_URI, startTestServer, type TestServer } from '../helpers/server.js';
import { clientAuth, createSideUser, expectTokenSuccess, ISSUER, SIDES, type SideUser, type TestClient } from '../helpers/tokens.js';

const STATE = 'st-hard';

describe.each(BACKENDS)('OpenID Connect hardening (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  const oidcClient = (side: SideName, extra: Partial<Parameters<TestServer['createClient']>[0]> = {}) =>
    server.createClient({ side, grants: ['authorization_code', 'refresh_token'], postLogoutRedirectUris: [LOGOUT_URI], skipConsent: true, ...extra });

  const request = (side: SideName, registered: TestClient, challenge: string, params: Record<string, string> = {}) =>
    authorizeUrl(side, { response_type: 'code', client_id: registered.clientId, redirect_uri: registered.redirectUri, scope: OIDC_SCOPE, state: STATE, code_challenge: challenge, code_challenge_method: 'S256', ...params });

  /** Signs in and exchanges the code; returns the token response's fields. */
  async function signIn(user: SideUser, registered: TestClient, params: Record<string, string> = {}) {
    const pkce = pkcePair();
    const callback = await followAuthorization(user.browser, user.side, request(user.side, registered, pkce.challenge, params), { login: user.login, password: user.password });
    const token = await tokenRequest(server.url, { grant_type: 'authorization_code', ...clientAuth(registered), code: callback.searchParams.get('code') ?? '', code_verifier: pkce.verifier, redirect_uri: registered.redirectUri });
    expectTokenSuccess(token);
    return token.json as { access_token: string; id_token: string; refresh_token: string };
  }

  describe.each(SIDES)('%s', (side) => {
    const paths = oidcPaths(side);

    it.each([
      ['prompt=login', { prompt: 'login' }],
      ['max_age=0', { max_age: '0' }],
    ])('%s: opening the login page\'s return address without signing in leads back to the login page, never to a code', async (_name, params) => {
      const user = await createSideUser(server, side);
      const registered = await oidcClient(side);
      await signIn(user, registered);
      // Let a second pass, so the session is older than a sign-in "now".
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const { challenge } = pkcePair();
      const returnTo = expectLoginRedirect(await user.browser.get(request(side, registered, challenge, params)), side);
      expect(returnTo).toContain('signed_in_after=');
      // The return address keeps what asked for the sign-in, so opening it asks again.
      expect(new URLSearchParams(returnTo.split('?')[1]).get(Object.keys(params)[0] as string)).toBe(Object.values(params)[0]);
      expectLoginRedirect(await user.browser.get(returnTo), side);
      // A mark the server did not sign, or one from long ago, is worth nothing.
      const forged = new URL(returnTo, server.url);
      forged.searchParams.set('signed_in_after', `${nowSeconds() - 3600}.${'A'.repeat(22)}`);
      expectLoginRedirect(await user.browser.get(forged.pathname + forged.search), side);
      forged.searchParams.set('signed_in_after', `${nowSeconds() + 100000}.${'A'.repeat(22)}`);
      expectLoginRedirect(await user.browser.get(forged.pathname + forged.search), side);
      // Signing in on that page satisfies it: the code comes, once.
      const fresh = await signIn(user, registered, params);
      expect(idTokenClaims(fresh.id_token).auth_time).toBeGreaterThanOrEqual(nowSeconds() - 5);
    });

    it('an authorize request posted without the session cookie (from the client\'s site) goes on as the same request by GET', async () => {
      const user = await createSideUser(server, side);
      const registered = await oidcClient(side);
      await signIn(user, registered);
      const { challenge } = pkcePair();
      const params = { response_type: 'code', client_id: registered.clientId, redirect_uri: registered.redirectUri, scope: OIDC_SCOPE, state: STATE, code_challenge: challenge, code_challenge_method: 'S256', prompt: 'none', nonce: 'n-1' };
      const posted = await call(server.url, 'POST', paths.authorize, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() });
      expect(posted.status).toBe(303);
      const location = new URL(posted.headers.get('location') as string, server.url);
      expect(location.pathname).toBe(paths.authorize);
      expect(Object.fromEntries(location.searchParams)).toEqual(params);
      // The browser that has the cookie gets its code by that GET.
      expectCodeRedirect(await user.browser.get(location.pathname + location.search), { target: DEFAULT_REDIRECT_URI, state: STATE, iss: ISSUER[side], status: 302 });
    });

    it('an end-session request posted without the session cookie goes on by GET, where the session really ends', async () => {
      const user = await createSideUser(server, side);
      const registered = await oidcClient(side);
      const { id_token: idToken } = await signIn(user, registered);
      const params = { id_token_hint: idToken, post_logout_redirect_uri: LOGOUT_URI, state: 'bye' };
      const posted = await call(server.url, 'POST', paths.endSession, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() });
      expect(posted.status).toBe(303);
      const location = new URL(posted.headers.get('location') as string, server.url);
      expect(location.pathname).toBe(paths.endSession);
      expect(Object.fromEntries(location.searchParams)).toEqual(params);
      const ended = await user.browser.get(location.pathname + location.search);
      expect(ended.status).toBe(302);
      expect(ended.location).toBe(`${LOGOUT_URI}?state=bye`);
      expectLoginRedirect(await user.browser.get(request(side, registered, pkcePair().challenge)), side);
    });

    it('a post_logout_redirect_uri on a loopback address must match exactly, port included', async () => {
      const user = await createSideUser(server, side);
      const registered = await oidcClient(side, { redirectUris: ['http://127.0.0.1/callback'], postLogoutRedirectUris: ['http://127.0.0.1/out'] });
      const pkce = pkcePair();
      const callback = await followAuthorization(user.browser, side, authorizeUrl(side, { response_type: 'code', client_id: registered.clientId, redirect_uri: 'http://127.0.0.1/callback', scope: OIDC_SCOPE, code_challenge: pkce.challenge, code_challenge_method: 'S256' }), { login: user.login, password: user.password });
      const token = await tokenRequest(server.url, { grant_type: 'authorization_code', ...clientAuth(registered), code: callback.searchParams.get('code') ?? '', code_verifier: pkce.verifier, redirect_uri: 'http://127.0.0.1/callback' });
      const idToken = token.json.id_token as string;
      const otherPort = await user.browser.get(`${paths.endSession}?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: 'http://127.0.0.1:9999/out' })}`);
      expectPage(otherPort, 400);
      expect(otherPort.location).toBeNull();
      const exact = await user.browser.get(`${paths.endSession}?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: 'http://127.0.0.1/out' })}`);
      expect(exact.location).toBe('http://127.0.0.1/out');
    });

    it('UserInfo reads the token from a form body whatever the case of the media type', async () => {
      const user = await createSideUser(server, side);
      const { access_token: accessToken, id_token: idToken } = await signIn(user, await oidcClient(side));
      const answer = await call(server.url, 'POST', paths.userinfo, { headers: { 'content-type': 'Application/X-WWW-Form-Urlencoded; Charset=UTF-8' }, body: `access_token=${accessToken}` });
      expect(answer.status).toBe(200);
      expect(answer.json.sub).toBe(idTokenClaims(idToken).sub);
    });

    it('a sign-in keeps its subject on refresh and at UserInfo when the client turns pairwise afterwards; a new sign-in gets the pairwise one', async () => {
      const user = await createSideUser(server, side);
      const registered = await oidcClient(side);
      const first = await signIn(user, registered);
      const sub = idTokenClaims(first.id_token).sub;
      await server.grantry.repos.clients.update(registered.clientId, { subjectType: 'pairwise' });
      const refreshed = await tokenRequest(server.url, { grant_type: 'refresh_token', ...clientAuth(registered), refresh_token: first.refresh_token });
      expectTokenSuccess(refreshed);
      expect(idTokenClaims(refreshed.json.id_token as string).sub).toBe(sub);
      const info = await call(server.url, 'GET', paths.userinfo, { headers: { authorization: `Bearer ${refreshed.json.access_token as string}` } });
      expect(info.json.sub).toBe(sub);
      const again = await signIn(user, registered);
      expect(idTokenClaims(again.id_token).sub).not.toBe(sub);
    });
  });
});
