/**
 * OpenID Connect over plain HTTP against real servers, on every backend and both sides, for
 * what the relying-party library tests (test/clients) do not reach: discovery in detail, the
 * nonce echoed exactly (and a library refusing a wrong or missing one), prompt, max_age,
 * login_hint and id_token_hint at the authorize endpoint, RP-initiated logout's error page and
 * confirmation page, ID tokens and access tokens never taken for one another, UserInfo's
 * refusals, openid outside the code grant, pairwise subjects and the claims parameter.
 * References: OpenID Connect Core 1.0, Discovery 1.0, RP-Initiated Logout 1.0, RFC 6750.
 */
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { expectCodeRedirect, expectErrorRedirect, expectLoginRedirect, expectPage } from '../helpers/authorize-pages.js';
import { BACKENDS } from '../helpers/backends.js';
import { call } from '../helpers/endpoints.js';
import { formField, signIn, TestBrowser } from '../helpers/browser.js';
import { expectApiRefuses } from '../helpers/lifecycle.js';
import { authorizeUrl, pkcePair, type TokenCall, tokenRequest } from '../helpers/oauth.js';
import {
  expectBearerError,
  expectedIdentityClaims,
  expectSignedIn,
  expectSignedOut,
  type FollowOptions,
  followAuthorization,
  idTokenClaims,
  isLoginRedirect,
  LOGOUT_URI,
  nowSeconds,
  OIDC_SCOPE,
  oidcPaths,
  pageForms,
  publicUrlFetch,
  userinfo,
} from '../helpers/oidc.js';
import { DEFAULT_REDIRECT_URI, PUBLIC_URL, startTestServer, type TestServer } from '../helpers/server.js';
import { clientAuth, createSideUser, expectTokenError, expectTokenSuccess, ISSUER, issueToken, otherSide, SIDES, type SideUser, type TestClient } from '../helpers/tokens.js';

const STATE = 'st-oidc';
const SPA_ORIGIN = 'https://spa.example';

interface OidcTokens {
  call: TokenCall;
  accessToken: string;
  idToken: string;
  claims: Record<string, unknown>;
}

describe.each(BACKENDS)('OpenID Connect over HTTP (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    // The password grant is on so that its refusal of openid can be seen; one origin may use CORS.
    server = await startTestServer(backend, { passwordGrantEnabled: true, corsAllowedOrigins: [SPA_ORIGIN] });
  });
  afterAll(() => server?.close());

  /** A code-grant client of `side` with refresh tokens and the logout URI registered. */
  const oidcClient = (side: SideName, extra: Partial<Parameters<TestServer['createClient']>[0]> = {}) =>
    server.createClient({ side, grants: ['authorization_code', 'refresh_token'], postLogoutRedirectUris: [LOGOUT_URI], ...extra });

  /** The authorize path of an OIDC request for `registered`, with PKCE. */
  const oidcRequest = (side: SideName, registered: TestClient, challenge: string, params: Record<string, string | undefined> = {}) =>
    authorizeUrl(side, {
      response_type: 'code',
      client_id: registered.clientId,
      redirect_uri: registered.redirectUri,
      scope: OIDC_SCOPE,
      state: STATE,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...params,
    });

  /** Exchanges a code of `registered` (client_secret_post, PKCE) and reads the ID token. */
  async function exchange(registered: TestClient, code: string | null, verifier: string): Promise<OidcTokens> {
    if (!code) throw new Error('no code');
    const call = await tokenRequest(server.url, { grant_type: 'authorization_code', ...clientAuth(registered), redirect_uri: registered.redirectUri, code, code_verifier: verifier }, { format: 'form' });
    const accessToken = expectTokenSuccess(call);
    expect(typeof call.json.id_token, JSON.stringify(call.json)).toBe('string');
    const idToken = call.json.id_token as string;
    return { call, accessToken, idToken, claims: idTokenClaims(idToken) };
  }

  /** The whole flow in the user's browser (signing in and consenting as needed), then the exchange. */
  async function oidcSignIn(user: SideUser, registered: TestClient, params: Record<string, string | undefined> = {}, options: Partial<FollowOptions> = {}): Promise<OidcTokens> {
    const pkce = pkcePair();
    const callback = await followAuthorization(user.browser, user.side, oidcRequest(user.side, registered, pkce.challenge, params), { login: user.login, password: user.password, ...options });
    expect(callback.searchParams.get('error'), callback.href).toBeNull();
    return exchange(registered, callback.searchParams.get('code'), pkce.verifier);
  }

  /** Moves the start of the user's sessions on `side` `seconds` into the past. */
  async function ageSessions(side: SideName, userId: number, seconds: number): Promise<void> {
    await server.grantry.database.db
      .updateTable('sessions')
      .set((eb) => ({ created_at: eb('created_at', '-', seconds) }))
      .where('side', '=', side)
      .where('user_id', '=', userId)
      .execute();
  }

  /** oauth4webapi's view of the side, from its OpenID configuration. */
  async function discovered(side: SideName): Promise<oauth.AuthorizationServer> {
    const issuer = new URL(ISSUER[side]);
    return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', [oauth.customFetch]: publicUrlFetch(server), [oauth.allowInsecureRequests]: true }));
  }

  /** The token response as the library would have received it, to hand it the same answer twice. */
  const replayed = (call: TokenCall) => new Response(JSON.stringify(call.json), { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });

  describe.each(SIDES)('%s', (side) => {
    const iss = ISSUER[side];
    const paths = oidcPaths(side);

    describe('discovery', () => {
      it('the OpenID configuration names this side: issuer, its UserInfo and end-session endpoints, code only, public and pairwise subjects, no request_uri, the claims parameter', async () => {
        const response = await fetch(server.url + paths.openidConfiguration);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toMatch(/^application\/json/);
        const document = (await response.json()) as Record<string, unknown>;
        expect(document).toMatchObject({
          issuer: iss,
          authorization_endpoint: PUBLIC_URL + paths.authorize,
          token_endpoint: `${PUBLIC_URL}/oauth2-token`,
          jwks_uri: `${PUBLIC_URL}/.well-known/jwks.json`,
          userinfo_endpoint: PUBLIC_URL + paths.userinfo,
          end_session_endpoint: PUBLIC_URL + paths.endSession,
          response_types_supported: ['code'],
          request_uri_parameter_supported: false,
          claims_parameter_supported: true,
        });
        // The issuer is exactly the discovery URL without the well-known part (Discovery §4.3).
        expect(`${document.issuer}/.well-known/openid-configuration`).toBe(PUBLIC_URL + paths.openidConfiguration);
        expect(document.subject_types_supported).toEqual(expect.arrayContaining(['public', 'pairwise']));
        // RS256 is the seed key's, and Discovery §3 requires it in the list.
        expect(document.id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(['RS256']));
        expect(document.id_token_signing_alg_values_supported).not.toContain('none');
        expect(document.request_parameter_supported ?? false).toBe(false);
        expect(document.scopes_supported).toEqual(expect.arrayContaining(['openid']));
        expect(document.claims_supported).toEqual(expect.arrayContaining(['sub', 'iss', 'auth_time', 'name', 'email', 'email_verified']));
        expect(document.response_modes_supported ?? ['query']).toEqual(['query']);
      });

      it('the RFC 8414 document agrees with it on every field both have, and lists the OIDC fields too', async () => {
        const [oidc, rfc8414] = await Promise.all(
          [paths.openidConfiguration, paths.authorizationServerMetadata].map(async (path) => {
            const response = await fetch(server.url + path);
            expect(response.status, path).toBe(200);
            return (await response.json()) as Record<string, unknown>;
          }),
        ) as [Record<string, unknown>, Record<string, unknown>];
        for (const name of ['userinfo_endpoint', 'end_session_endpoint', 'subject_types_supported', 'id_token_signing_alg_values_supported']) {
          expect(rfc8414, name).toHaveProperty(name);
        }
        for (const name of Object.keys(oidc).filter((n) => n in rfc8414)) expect(rfc8414[name], name).toEqual(oidc[name]);
      });
    });

    describe('nonce', () => {
      it('is echoed exactly in the first ID token; the library refuses a different one', async () => {
        const user = await createSideUser(server, side);
        const registered = await oidcClient(side);
        const nonce = `n-${Math.random().toString(36).slice(2)} +/=%é`;
        const tokens = await oidcSignIn(user, registered, { nonce });
        expect(tokens.claims.nonce).toBe(nonce);
        const as = await discovered(side);
        const rp: oauth.Client = { client_id: registered.clientId };
        await expect(oauth.processAuthorizationCodeResponse(as, rp, replayed(tokens.call), { expectedNonce: `${nonce}x`, requireIdToken: true })).rejects.toMatchObject({ code: oauth.JWT_CLAIM_COMPARISON });
        await expect(oauth.processAuthorizationCodeResponse(as, rp, replayed(tokens.call), { expectedNonce: oauth.expectNoNonce, requireIdToken: true })).rejects.toMatchObject({ code: oauth.JWT_CLAIM_COMPARISON });
        const accepted = await oauth.processAuthorizationCodeResponse(as, rp, replayed(tokens.call), { expectedNonce: nonce, requireIdToken: true });
        expect(oauth.getValidatedIdTokenClaims(accepted)?.nonce).toBe(nonce);
      });

      it('is left out when the request had none; the library that expected one refuses the token', async () => {
        const user = await createSideUser(server, side);
        const registered = await oidcClient(side);
        const tokens = await oidcSignIn(user, registered);
        expect(tokens.claims).not.toHaveProperty('nonce');
        const as = await discovered(side);
        const rp: oauth.Client = { client_id: registered.clientId };
        await expect(oauth.processAuthorizationCodeResponse(as, rp, replayed(tokens.call), { expectedNonce: 'expected-nonce', requireIdToken: true })).rejects.toMatchObject({ code: oauth.INVALID_RESPONSE });
        const accepted = await oauth.processAuthorizationCodeResponse(as, rp, replayed(tokens.call), { expectedNonce: oauth.expectNoNonce, requireIdToken: true });
        expect(oauth.getValidatedIdTokenClaims(accepted)?.sub).toBe(tokens.claims.sub);
      });
    });

    describe('prompt, max_age, login_hint, id_token_hint', () => {
      it('prompt=none without a session: login_required at the client, with state and iss', async () => {
        const registered = await oidcClient(side);
        const response = await new TestBrowser(server.url).get(oidcRequest(side, registered, pkcePair().challenge, { prompt: 'none' }));
        expectErrorRedirect(response, { target: DEFAULT_REDIRECT_URI, error: 'login_required', state: STATE, iss, status: 302 });
      });

      it('prompt=none with a session but no consent yet: consent_required; once allowed, a code', async () => {
        const user = await createSideUser(server, side);
        const first = await oidcSignIn(user, await oidcClient(side));
        expect(first.claims.sub).toBeTruthy();
        const registered = await oidcClient(side);
        const pkce = pkcePair();
        expectErrorRedirect(await user.browser.get(oidcRequest(side, registered, pkce.challenge, { prompt: 'none' })), { target: DEFAULT_REDIRECT_URI, error: 'consent_required', state: STATE, iss, status: 302 });
        await oidcSignIn(user, registered);
        const code = expectCodeRedirect(await user.browser.get(oidcRequest(side, registered, pkce.challenge, { prompt: 'none' })), { target: DEFAULT_REDIRECT_URI, state: STATE, iss, status: 302 });
        expect((await exchange(registered, code, pkce.verifier)).claims.sub).toBe(first.claims.sub);
      });

      it('max_age: a younger session goes on, an older one signs in again; max_age=0 always does, and auth_time is that sign-in', async () => {
        const user = await createSideUser(server, side);
        const registered = await oidcClient(side);
        await oidcSignIn(user, registered);
        await ageSessions(side, user.id, 600);
        const aged = nowSeconds() - 600;

        // Signed in ten minutes ago: within an hour, so no login page, and auth_time says when.
        const pkce = pkcePair();
        const code = expectCodeRedirect(await user.browser.get(oidcRequest(side, registered, pkce.challenge, { max_age: '3600' })), { target: DEFAULT_REDIRECT_URI, state: STATE, iss, status: 302 });
        const within = await exchange(registered, code, pkce.verifier);
        expect(within.claims.auth_time).toBeGreaterThanOrEqual(aged - 5);
        expect(within.claims.auth_time).toBeLessThanOrEqual(aged + 5);

        // Not within a minute: the login page.
        expectLoginRedirect(await user.browser.get(oidcRequest(side, registered, pkce.challenge, { max_age: '60' })), side);

        // max_age=0: the login page although the session is live; after signing in, the code (no loop).
        const zero = oidcRequest(side, registered, pkcePair().challenge, { max_age: '0' });
        expectLoginRedirect(await user.browser.get(zero), side);
        let signedInFrom = Number.POSITIVE_INFINITY;
        const fresh = await oidcSignIn(user, registered, { max_age: '0' }, { decision: 'expect-none', beforeSignIn: () => (signedInFrom = nowSeconds()) });
        expect(signedInFrom).toBeLessThanOrEqual(nowSeconds());
        expect(fresh.claims.auth_time).toBeGreaterThanOrEqual(signedInFrom);
        expect(fresh.claims.auth_time).toBeLessThanOrEqual(fresh.claims.iat as number);
        // The library's own max_age check accepts it (auth_time within max_age plus its tolerance).
        const as = await discovered(side);
        await expect(oauth.processAuthorizationCodeResponse(as, { client_id: registered.clientId }, replayed(fresh.call), { maxAge: 0, requireIdToken: true })).resolves.toBeTruthy();
      });

      it.each(['-1', 'abc', '1.5'])('max_age=%s is invalid_request', async (maxAge) => {
        const user = await createSideUser(server, side);
        const registered = await oidcClient(side);
        await oidcSignIn(user, registered);
        const location = expectErrorRedirect(await user.browser.get(oidcRequest(side, registered, pkcePair().challenge, { max_age: maxAge })), {
          target: DEFAULT_REDIRECT_URI, error: 'invalid_request', state: STATE, iss, status: 302,
        });
        expect(location.searchParams.get('error_description')).toMatch(/max_age/);
      });

      it('prompt=login: the login page even with a session, then the code with a fresh auth_time', async () => {
        const user = await createSideUser(server, side);
        const registered = await oidcClient(side);
        await oidcSignIn(user, registered);
        await ageSessions(side, user.id, 600);
        expectLoginRedirect(await user.browser.get(oidcRequest(side, registered, pkcePair().challenge, { prompt: 'login' })), side);
        let signedInFrom = Number.POSITIVE_INFINITY;
        const fresh = await oidcSignIn(user, registered, { prompt: 'login' }, { decision: 'expect-none', beforeSignIn: () => (signedInFrom = nowSeconds()) });
        expect(fresh.claims.auth_time).toBeGreaterThanOrEqual(signedInFrom);
      });

      it('login_hint pre-fills the login field of the login page, HTML-escaped', async () => {
        const registered = await oidcClient(side);
        const browser = new TestBrowser(server.url);
        for (const [hint, escaped] of [
          ['alice', 'alice'],
          ['al"ice<b>&\'', 'al&quot;ice&lt;b&gt;&amp;&#39;'],
        ] as const) {
          const redirect = await browser.get(oidcRequest(side, registered, pkcePair().challenge, { login_hint: hint }));
          expectLoginRedirect(redirect, side);
          const page = await browser.get(redirect.location as string);
          expectPage(page, 200);
          expect(formField(page.body, 'login')).toBe(hint);
          expect(page.body).toMatch(new RegExp(`<input[^>]*name="login"[^>]*value="${escaped.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`));
          expect(page.body).not.toContain('<b>');
        }
      });

      it('id_token_hint with prompt=none: the signed-in user\'s own hint gives a code; another user\'s, or an access token, login_required', async () => {
        const alice = await createSideUser(server, side);
        const bob = await createSideUser(server, side);
        const registered = await oidcClient(side, { skipConsent: true });
        const own = await oidcSignIn(alice, registered);
        const others = await oidcSignIn(bob, registered);
        const pkce = pkcePair();
        const code = expectCodeRedirect(await alice.browser.get(oidcRequest(side, registered, pkce.challenge, { prompt: 'none', id_token_hint: own.idToken })), { target: DEFAULT_REDIRECT_URI, state: STATE, iss, status: 302 });
        expect((await exchange(registered, code, pkce.verifier)).claims.sub).toBe(own.claims.sub);
        for (const hint of [others.idToken, own.accessToken]) {
          expectErrorRedirect(await alice.browser.get(oidcRequest(side, registered, pkcePair().challenge, { prompt: 'none', id_token_hint: hint })), {
            target: DEFAULT_REDIRECT_URI, error: 'login_required', state: STATE, iss, status: 302,
          });
        }
        // Alice is still signed in: the hints changed nothing.
        await expectSignedIn(alice.browser, side);
      });

      it.each([
        ['request', 'eyJhbGciOiJub25lIn0.e30.', 'request_not_supported'],
        ['request_uri', 'https://app.example/request.jwt', 'request_uri_not_supported'],
        ['prompt', 'select_account', 'invalid_request'],
        ['response_mode', 'fragment', 'invalid_request'],
      ])('%s=%s is %s at the client', async (name, value, error) => {
        const user = await createSideUser(server, side);
        const registered = await oidcClient(side);
        await oidcSignIn(user, registered);
        expectErrorRedirect(await user.browser.get(oidcRequest(side, registered, pkcePair().challenge, { [name]: value })), { target: DEFAULT_REDIRECT_URI, error, state: STATE, iss, status: 302 });
      });

      it('response_mode=query and an ignored ui_locales are fine', async () => {
        const user = await createSideUser(server, side);
        const tokens = await oidcSignIn(user, await oidcClient(side), { response_mode: 'query', ui_locales: 'fr-CA fr en' });
        expect(tokens.claims.sub).toBeTruthy();
      });
    });

    describe('end session', () => {
      it('an unregistered post_logout_redirect_uri, or one with no client to check it against, is an error page: no redirect, and the session lives on', async () => {
        const user = await createSideUser(server, side);
        const registered = await oidcClient(side);
        const tokens = await oidcSignIn(user, registered);
        for (const params of <Array<Record<string, string>>>[
          { id_token_hint: tokens.idToken, client_id: registered.clientId, post_logout_redirect_uri: 'https://evil.example/signed-out', state: 's1' },
          { id_token_hint: tokens.idToken, post_logout_redirect_uri: `${LOGOUT_URI}/more`, state: 's1' },
          { post_logout_redirect_uri: LOGOUT_URI, state: 's1' },
        ]) {
          const response = await user.browser.get(`${paths.endSession}?${new URLSearchParams(params)}`);
          expectPage(response, 400);
          expect(response.body).not.toContain('evil.example/signed-out?');
          await expectSignedIn(user.browser, side);
        }
      });

      it('without id_token_hint: a confirmation page; without its CSRF token nothing happens; confirmed, the session ends and the browser goes back with state', async () => {
        const user = await createSideUser(server, side);
        const registered = await oidcClient(side);
        await oidcSignIn(user, registered);
        const other = await createSideUser(server, otherSide(side));
        expect((await signIn(user.browser, otherSide(side), other.login, other.password)).status).toBe(303);

        const page = await user.browser.get(`${paths.endSession}?${new URLSearchParams({ client_id: registered.clientId, post_logout_redirect_uri: LOGOUT_URI, state: 'bye-2' })}`);
        expectPage(page, 200);
        expect(page.body).toMatch(/<h1>[^<]*Sign out[^<]*<\/h1>/);
        await expectSignedIn(user.browser, side);
        const form = pageForms(page.body).find((f) => f.method === 'post' && 'csrf_token' in f.hidden);
        if (!form) throw new Error(`no sign-out form with a CSRF token in ${page.body}`);
        expect(form.hidden.csrf_token?.length).toBeGreaterThanOrEqual(16);
        const button = form.buttons.find((b) => /sign out/i.test(b.text)) ?? form.buttons[0];
        const fields: Record<string, string> = { ...form.hidden, ...(button?.name ? { [button.name]: button.value } : {}) };

        const { csrf_token: _dropped, ...withoutCsrf } = fields;
        const forged = await user.browser.post(form.action, withoutCsrf);
        expectPage(forged, 403);
        await expectSignedIn(user.browser, side);

        const confirmed = await user.browser.post(form.action, fields);
        expect(confirmed.status, confirmed.body.slice(0, 300)).toBe(303);
        const back = new URL(confirmed.location as string);
        expect(`${back.origin}${back.pathname}`).toBe(LOGOUT_URI);
        expect(back.searchParams.getAll('state')).toEqual(['bye-2']);
        await expectSignedOut(user.browser, side);
        await expectSignedIn(user.browser, otherSide(side));
      });

      it('an access token as id_token_hint is no hint: the confirmation page, and the session lives on', async () => {
        const user = await createSideUser(server, side);
        const registered = await oidcClient(side);
        const tokens = await oidcSignIn(user, registered);
        const page = await user.browser.get(`${paths.endSession}?${new URLSearchParams({ id_token_hint: tokens.accessToken, client_id: registered.clientId, post_logout_redirect_uri: LOGOUT_URI, state: 's3' })}`);
        expectPage(page, 200);
        expect(pageForms(page.body).some((f) => f.method === 'post' && 'csrf_token' in f.hidden)).toBe(true);
        await expectSignedIn(user.browser, side);
      });

      it('another user\'s ID token as hint is no match: the confirmation page, and the session lives on', async () => {
        const alice = await createSideUser(server, side);
        const bob = await createSideUser(server, side);
        const registered = await oidcClient(side, { skipConsent: true });
        await oidcSignIn(alice, registered);
        const bobs = await oidcSignIn(bob, registered);
        const page = await alice.browser.get(`${paths.endSession}?${new URLSearchParams({ id_token_hint: bobs.idToken, post_logout_redirect_uri: LOGOUT_URI, state: 's4' })}`);
        expectPage(page, 200);
        await expectSignedIn(alice.browser, side);
        await expectSignedIn(bob.browser, side);
      });

      it('an expired ID token of the session is still its hint (RP-Initiated Logout §2): signed out at once, back to the URI registered for the hint\'s client', async () => {
        const user = await createSideUser(server, side);
        const tokens = await oidcSignIn(user, await oidcClient(side));
        // Two hours on: the ID token (one hour) has expired, the session (eight hours) has not.
        const later = Date.now() + 2 * 3600 * 1000;
        vi.useFakeTimers({ toFake: ['Date'] });
        vi.setSystemTime(later);
        let response;
        try {
          expect(tokens.claims.exp as number).toBeLessThan(nowSeconds());
          response = await user.browser.get(`${paths.endSession}?${new URLSearchParams({ id_token_hint: tokens.idToken, post_logout_redirect_uri: LOGOUT_URI, state: 'late' })}`);
        } finally {
          vi.useRealTimers();
        }
        expect(response.status, response.body.slice(0, 300)).toBe(302);
        const back = new URL(response.location as string);
        expect(`${back.origin}${back.pathname}`).toBe(LOGOUT_URI);
        expect(back.searchParams.getAll('state')).toEqual(['late']);
        await expectSignedOut(user.browser, side);
      });

      it('a matching hint without post_logout_redirect_uri: signed out at once, on a page of the server (GET and POST)', async () => {
        for (const method of ['GET', 'POST'] as const) {
          const user = await createSideUser(server, side);
          const tokens = await oidcSignIn(user, await oidcClient(side));
          const response = method === 'GET' ? await user.browser.get(`${paths.endSession}?${new URLSearchParams({ id_token_hint: tokens.idToken })}`) : await user.browser.post(paths.endSession, { id_token_hint: tokens.idToken });
          expectPage(response, 200);
          await expectSignedOut(user.browser, side);
        }
      });
    });

    describe('tokens and UserInfo', () => {
      it('UserInfo answers GET and POST with the access token: the ID token\'s sub and the claims of the scope', async () => {
        const user = await createSideUser(server, side);
        const tokens = await oidcSignIn(user, await oidcClient(side));
        for (const method of ['GET', 'POST'] as const) {
          const response = await userinfo(server, side, tokens.accessToken, method);
          expect(response.status, response.text).toBe(200);
          expect(response.headers.get('content-type')).toMatch(/^application\/json/);
          expect(response.json).toMatchObject({ sub: tokens.claims.sub, ...expectedIdentityClaims(user) });
        }
        // Scope openid alone: the subject and nothing more.
        const bare = await oidcSignIn(user, await oidcClient(side), { scope: 'openid' });
        const response = await userinfo(server, side, bare.accessToken);
        expect(response.status).toBe(200);
        expect(response.json).toEqual({ sub: tokens.claims.sub });
      });

      it('an ID token is no access token: the API and UserInfo refuse it with invalid_token', async () => {
        const user = await createSideUser(server, side);
        const tokens = await oidcSignIn(user, await oidcClient(side));
        await expectApiRefuses(server, side, tokens.idToken);
        expectBearerError(await userinfo(server, side, tokens.idToken), 401, 'invalid_token');
      });

      it('UserInfo refuses the other side\'s token (401 invalid_token), a token without openid (403 insufficient_scope), and no token (401)', async () => {
        const theirs = await oidcSignIn(await createSideUser(server, otherSide(side)), await oidcClient(otherSide(side)));
        expectBearerError(await userinfo(server, side, theirs.accessToken), 401, 'invalid_token');
        const plain = await issueToken(server, side);
        expectBearerError(await userinfo(server, side, plain.accessToken), 403, 'insufficient_scope');
        const none = await userinfo(server, side, undefined);
        expect(none.status).toBe(401);
        expect(none.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
        // A token in the query is refused (RFC 9700 §2.4.3: URLs end up in logs; RFC 6750 §3.1 invalid_request).
        const mine = await oidcSignIn(await createSideUser(server, side), await oidcClient(side));
        const inQuery = await call(server.url, 'GET', `${paths.userinfo}?${new URLSearchParams({ access_token: mine.accessToken })}`);
        expectBearerError(inQuery, 400, 'invalid_request');
        expect(inQuery.json).not.toHaveProperty('sub');
      });

      it('UserInfo takes the token in a POST\'s form body (RFC 6750 §2.2), but not in the header and the body at once, nor in a JSON body', async () => {
        const tokens = await oidcSignIn(await createSideUser(server, side), await oidcClient(side));
        const form = { 'content-type': 'application/x-www-form-urlencoded' };
        const inBody = await call(server.url, 'POST', paths.userinfo, { headers: form, body: new URLSearchParams({ access_token: tokens.accessToken }).toString() });
        expect(inBody.status, inBody.text).toBe(200);
        expect(inBody.json.sub).toBe(tokens.claims.sub);
        const twice = await call(server.url, 'POST', paths.userinfo, { headers: { ...form, authorization: `Bearer ${tokens.accessToken}` }, body: new URLSearchParams({ access_token: tokens.accessToken }).toString() });
        expectBearerError(twice, 400, 'invalid_request');
        expect(twice.json).not.toHaveProperty('sub');
        const json = await call(server.url, 'POST', paths.userinfo, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ access_token: tokens.accessToken }) });
        expect(json.status).toBe(401);
        expect(json.json).not.toHaveProperty('sub');
      });

      it('CORS: UserInfo and the OpenID configuration answer an allowed origin, not another; end session (a page) answers none', async () => {
        const tokens = await oidcSignIn(await createSideUser(server, side), await oidcClient(side));
        const preflight = await call(server.url, 'OPTIONS', paths.userinfo, { headers: { origin: SPA_ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
        expect(preflight.status).toBeLessThan(300);
        expect(preflight.headers.get('access-control-allow-origin')).toBe(SPA_ORIGIN);
        expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
        const allowed = await userinfo(server, side, tokens.accessToken, 'GET', { origin: SPA_ORIGIN });
        expect(allowed.status).toBe(200);
        expect(allowed.headers.get('access-control-allow-origin')).toBe(SPA_ORIGIN);
        const other = await userinfo(server, side, tokens.accessToken, 'GET', { origin: 'https://evil.example' });
        expect(other.headers.get('access-control-allow-origin')).toBeNull();
        const configuration = await call(server.url, 'GET', paths.openidConfiguration, { headers: { origin: SPA_ORIGIN } });
        expect(configuration.headers.get('access-control-allow-origin')).toBe(SPA_ORIGIN);
        const endSession = await call(server.url, 'GET', paths.endSession, { headers: { origin: SPA_ORIGIN } });
        expect(endSession.headers.get('access-control-allow-origin')).toBeNull();
      });

      it('openid is refused in client_credentials and password grants: invalid_scope', async () => {
        const owner = await createSideUser(server, side);
        const credentials = await server.createClient({ side, grants: ['client_credentials'], owner: owner.login });
        for (const scope of ['openid', 'openid profile', 'api openid']) {
          expectTokenError(await tokenRequest(server.url, { grant_type: 'client_credentials', ...clientAuth(credentials), scope }), 400, 'invalid_scope');
        }
        const password = await server.createClient({ side, grants: ['password'] });
        expectTokenError(await tokenRequest(server.url, { grant_type: 'password', ...clientAuth(password), username: owner.login, password: owner.password, scope: 'openid' }), 400, 'invalid_scope');
        // Without openid both still work (the refusal is about openid, not the grants).
        expectTokenSuccess(await tokenRequest(server.url, { grant_type: 'client_credentials', ...clientAuth(credentials) }));
      });

      it('a refresh keeps sub, auth_time and sid, and drops the nonce', async () => {
        const user = await createSideUser(server, side);
        const registered = await oidcClient(side);
        const tokens = await oidcSignIn(user, registered, { nonce: 'refresh-nonce' });
        const call = await tokenRequest(server.url, { grant_type: 'refresh_token', ...clientAuth(registered), refresh_token: tokens.call.json.refresh_token as string });
        expectTokenSuccess(call);
        const claims = idTokenClaims(call.json.id_token as string);
        expect(claims).toMatchObject({ sub: tokens.claims.sub, auth_time: tokens.claims.auth_time, sid: tokens.claims.sid, aud: registered.clientId, iss });
        expect(claims).not.toHaveProperty('nonce');
      });
    });

    describe('subjects and claims', () => {
      it('pairwise clients each get their own sub, public clients the side\'s; the same client always the same', async () => {
        const user = await createSideUser(server, side);
        const [pairA, pairB, publicA, publicB] = await Promise.all([
          oidcClient(side, { skipConsent: true, subjectType: 'pairwise' }),
          oidcClient(side, { skipConsent: true, subjectType: 'pairwise' }),
          oidcClient(side, { skipConsent: true }),
          oidcClient(side, { skipConsent: true, subjectType: 'public' }),
        ]);
        const subOf = async (registered: TestClient) => (await oidcSignIn(user, registered)).claims.sub as string;
        const a = await subOf(pairA);
        const b = await subOf(pairB);
        const p = await subOf(publicA);
        expect(a).not.toBe(b);
        expect(a).not.toBe(p);
        expect(b).not.toBe(p);
        expect(await subOf(publicB)).toBe(p);
        expect(await subOf(pairA)).toBe(a);
        // UserInfo says the same sub as the client's ID token.
        const tokens = await oidcSignIn(user, pairA);
        expect((await userinfo(server, side, tokens.accessToken)).json.sub).toBe(a);
        // Another user of the same pairwise client has another sub.
        expect((await oidcSignIn(await createSideUser(server, side), pairA)).claims.sub).not.toBe(a);
      });

      it('the claims parameter asks for claims by name, for UserInfo and for the ID token', async () => {
        const user = await createSideUser(server, side);
        const registered = await oidcClient(side);
        const claims = JSON.stringify({ userinfo: { email: null }, id_token: { name: { essential: true }, unknown_claim: null } });
        const tokens = await oidcSignIn(user, registered, { scope: 'openid', claims });
        const expected = expectedIdentityClaims(user);
        expect(tokens.claims.name).toBe(expected.name);
        expect(tokens.claims).not.toHaveProperty('email');
        expect(tokens.claims).not.toHaveProperty('unknown_claim');
        const response = await userinfo(server, side, tokens.accessToken);
        expect(response.json).toEqual({ sub: tokens.claims.sub, email: expected.email });
        expectErrorRedirect(await user.browser.get(oidcRequest(side, registered, pkcePair().challenge, { claims: '{"userinfo":' })), { target: DEFAULT_REDIRECT_URI, error: 'invalid_request', state: STATE, iss, status: 302 });
      });
    });
  });
});
