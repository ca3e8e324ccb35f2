/**
 * OpenID Connect sign-in and sign-out in a real Chromium, on both sides and both backends: a
 * relying party (the loopback client application of the chromium helper) starts a sign-in with
 * scope "openid profile email", a nonce and PKCE; the user signs in with the keyboard and
 * consents; the code's ID token carries the nonce and the user's subject and is signed with a
 * key of the JWKS. Then RP-initiated logout: with an id_token_hint the browser goes straight to
 * the post-logout URI with the state; without one a confirmation page asks first, and is used
 * with the keyboard alone; without a post-logout URI the user sees a "signed out" page. After
 * each logout a new sign-in shows the login page again. A relying party that posts the requests
 * from its own site (http://localhost:<port>, another site than the server's 127.0.0.1, so the
 * browser leaves the SameSite=Lax session cookie off the POST) still finds the user signed in:
 * prompt=none gets a code, and the logout really ends the session; both go on by GET (303), which
 * carries the cookie. The confirmation and signed-out pages pass axe-core (no serious or
 * critical violation) and are photographed at 1280 and 390 px under test-artifacts/oidc/ (not
 * committed). Runs when Chromium is installed.
 */
import { createPublicKey, type JsonWebKey, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTokenHash } from '../../src/oauth/oidc/id-tokens.js';
import { SubjectIdentifiers } from '../../src/oauth/oidc/subjects.js';
import type { SideName } from '../../src/oauth/sides.js';
import { BROWSER_BACKENDS } from '../helpers/backends.js';
import { artifactsFolder, auditAndPhotograph, chromiumAvailable, newPageForAxe, tabTo, useChromiumAndClientApplication } from '../helpers/chromium.js';
import { authorizeUrl, pkcePair, tokenRequest } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { decodeJwt, ISSUER } from '../helpers/tokens.js';

const ARTIFACTS = artifactsFolder('oidc');
const NAMES: Record<SideName, string> = { storefront: 'Acme Store', backoffice: 'Acme Back Office' };
const PREFIX: Record<SideName, string> = { storefront: '', backoffice: '/admin' };
const endSessionPath = (side: SideName) => `${PREFIX[side]}/oauth2-token/end-session`;
const loginPath = (side: SideName) => `${PREFIX[side]}/oauth2-token/login`;
const authorizePath = (side: SideName) => `${PREFIX[side]}/oauth2-token/authorize`;
/** The side's session cookie on a plain-http test server (no __Host- prefix there). */
const SESSION_COOKIE: Record<SideName, string> = { storefront: 'grantry_sf_session', backoffice: 'grantry_bo_session' };
const carriesCookie = (header: string | undefined, name: string) => (header ?? '').split(/;\s*/).some((pair) => pair.startsWith(`${name}=`));
const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One request of a navigation's redirect chain, as the browser sent it and what came back. */
interface Hop {
  method: string;
  url: string;
  status: number | undefined;
  cookie: string | undefined;
}

/** The relying party of one test: its client, the user who signs in, and where the user comes back. */
interface RelyingParty {
  side: SideName;
  clientId: string;
  clientSecret: string | undefined;
  user: { id: number; login: string; password: string };
  callback: string;
  postLogout: string;
}

describe.runIf(chromiumAvailable).each(BROWSER_BACKENDS)('OpenID Connect sign-in and sign-out in Chromium (%s)', { timeout: 120_000 }, (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(backend, { storefrontName: NAMES.storefront, backofficeName: NAMES.backoffice });
  });
  afterAll(async () => {
    await server?.close();
  });
  // Chromium, and the client application the flows end at (a loopback page that shows what it
  // received, at any path); registered after the server's hooks, so that the server outlives the browser.
  const chromium = useChromiumAndClientApplication();

  // The relying party's own site, whose pages post requests to Grantry: http://localhost:<port>
  // is another site than Grantry's http://127.0.0.1:<port>, so the browser leaves Grantry's
  // SameSite=Lax cookies off those POSTs, as it does for a real client's site. It serves the
  // forms the tests put in rpPages.
  const rpPages = new Map<string, string>();
  let rpSite: Server | undefined;
  let rpOrigin = '';
  beforeAll(async () => {
    const site = createServer((request, response) => {
      const html = rpPages.get(request.url ?? '');
      response.writeHead(html === undefined ? 404 : 200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html ?? 'not found');
    });
    rpSite = site;
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    rpOrigin = `http://localhost:${(site.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    const site = rpSite;
    if (!site) return;
    site.closeAllConnections();
    await new Promise<void>((resolve) => site.close(() => resolve()));
  });

  /**
   * Opens a page of the relying party's site whose form posts `params` to `action`, submits it
   * with a click (a top-level POST from another site, as a user's would be), and waits until the
   * browser arrives where `arrived` says. Returns the way there, hop by hop.
   */
  async function postFromRelyingPartySite(page: Page, action: string, params: Record<string, string>, arrived: (url: string) => boolean): Promise<Hop[]> {
    const path = `/form-${rpPages.size}`;
    const fields = Object.entries(params).map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('');
    rpPages.set(path, `<!doctype html><html lang="en"><head><title>Relying party</title></head><body><form method="post" action="${escapeHtml(action)}">${fields}<button type="submit">Continue</button></form></body></html>`);
    await page.goto(rpOrigin + path);
    expect(new URL(page.url()).hostname).toBe('localhost');
    const [response] = await Promise.all([
      page.waitForResponse((r) => arrived(r.url()) && r.request().isNavigationRequest()),
      page.getByRole('button', { name: 'Continue' }).click(),
    ]);
    await page.waitForURL((url) => arrived(url.href));
    const hops: Hop[] = [];
    for (let request: Request | null = response.request(); request; request = request.redirectedFrom()) {
      hops.unshift({ method: request.method(), url: request.url(), status: (await request.response())?.status(), cookie: (await request.allHeaders()).cookie });
    }
    return hops;
  }

  /**
   * A client of `side` with the loopback callback and post-logout URI, and a user to sign in;
   * `variant` names a second pair of them on the same server (names of both are unique).
   */
  async function relyingParty(side: SideName, variant?: string): Promise<RelyingParty> {
    const who = `${side === 'storefront' ? 'oidc-shopper' : 'oidc-staff'}${variant ? `-${variant}` : ''}`;
    const postLogout = new URL('/signed-out', chromium.callback).href;
    // The storefront app is public (PKCE only), the back-office one confidential: both kinds sign in.
    const client = await server.createClient({ side, type: side === 'storefront' ? 'public' : 'confidential', name: `${NAMES[side]} companion${variant ? ` (${variant})` : ''}`, redirectUris: [chromium.callback], postLogoutRedirectUris: [postLogout] });
    const user = side === 'storefront'
      ? await server.createCustomerUser(`${who}@example.com`).then((u) => ({ id: u.id, login: u.email, password: u.password }))
      : await server.createBackofficeUser(who).then((u) => ({ id: u.id, login: u.username, password: u.password }));
    return { side, clientId: client.clientId, clientSecret: client.clientSecret, user, callback: chromium.callback, postLogout };
  }

  /** The URL at which the relying party starts a sign-in, with a fresh state, nonce and PKCE pair. */
  function startSignIn(rp: RelyingParty) {
    const state = `st-${Math.random().toString(36).slice(2)}`;
    const nonce = `n-${Math.random().toString(36).slice(2)}`;
    const { verifier, challenge } = pkcePair();
    const url = server.url + authorizeUrl(rp.side, { response_type: 'code', client_id: rp.clientId, redirect_uri: rp.callback, scope: 'openid profile email', state, nonce, code_challenge: challenge, code_challenge_method: 'S256' });
    return { url, state, nonce, verifier };
  }

  /** Expects the side's login page, and signs in on it with the keyboard: type, Tab, type, Enter. */
  async function signInWithKeyboard(page: Page, rp: RelyingParty, then: (url: URL) => boolean) {
    expect(new URL(page.url()).pathname).toBe(loginPath(rp.side));
    expect(await page.title()).toBe(`Sign in · ${NAMES[rp.side]}`);
    await page.focus('#login');
    await page.keyboard.type(rp.user.login);
    await page.keyboard.press('Tab');
    await page.keyboard.type(rp.user.password);
    await Promise.all([page.waitForURL(then), page.keyboard.press('Enter')]);
  }

  /**
   * A whole sign-in: authorize, the login page, the consent page when `consent` says it comes,
   * the callback with code, state and iss; then the code exchange, whose ID token is checked
   * (signature, typ, iss, aud, azp, nonce, sub, auth_time, sid, at_hash). Returns the ID token.
   */
  async function signIn(page: Page, rp: RelyingParty, consent: boolean): Promise<{ idToken: string; sub: string; sid: string }> {
    const request = startSignIn(rp);
    await page.goto(request.url);
    const atCallback = (url: URL) => url.href.startsWith(rp.callback);
    await signInWithKeyboard(page, rp, (url) => atCallback(url) || url.pathname === `${PREFIX[rp.side]}/oauth2-token/authorize`);
    if (consent) {
      expect(atCallback(new URL(page.url())), 'a consent page comes first').toBe(false);
      expect(await page.title()).toBe(`Authorize access · ${NAMES[rp.side]}`);
      expect(await page.locator('main').innerText()).toContain(`${NAMES[rp.side]} companion`);
      await Promise.all([page.waitForURL(atCallback), page.getByRole('button', { name: 'Allow' }).click()]);
    }
    const landed = new URL(page.url());
    expect(atCallback(landed), `landed on ${landed.href}`).toBe(true);
    expect(landed.searchParams.get('state')).toBe(request.state);
    expect(landed.searchParams.get('iss')).toBe(ISSUER[rp.side]);
    const code = landed.searchParams.get('code') ?? '';
    expect(code).not.toBe('');

    const token = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: rp.clientId, client_secret: rp.clientSecret, redirect_uri: rp.callback, code, code_verifier: request.verifier });
    expect(token.status).toBe(200);
    expect(token.json.scope).toBe('openid profile email');
    const idToken = token.json.id_token;
    expect(typeof idToken).toBe('string');
    const { header, payload } = decodeJwt(idToken as string);
    expect(header).toMatchObject({ typ: 'JWT', alg: 'RS256' });
    await expectSignedByJwks(idToken as string, header.kid as string);

    const expectedSub = new SubjectIdentifiers(server.grantry.hasher).of({ side: rp.side, clientId: rp.clientId, subjectType: 'public' }, rp.user.id);
    expect(payload).toMatchObject({ iss: ISSUER[rp.side], aud: rp.clientId, azp: rp.clientId, nonce: request.nonce, sub: expectedSub });
    expect(payload.sub).not.toBe(String(rp.user.id));
    expect(payload.at_hash).toBe(accessTokenHash(token.json.access_token as string, 'RS256'));
    const now = Math.floor(Date.now() / 1000);
    expect(payload.auth_time as number).toBeGreaterThan(now - 120);
    expect(payload.auth_time as number).toBeLessThanOrEqual(now + 1);
    expect(payload.exp).toBe((payload.iat as number) + 3600);
    expect(typeof payload.sid).toBe('string');
    return { idToken: idToken as string, sub: payload.sub as string, sid: payload.sid as string };
  }

  /** The ID token verifies with the JWKS key its kid names (RS256 on test servers). */
  async function expectSignedByJwks(token: string, kid: string) {
    const set = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<JsonWebKey & { kid: string }> };
    const jwk = set.keys.find((k) => k.kid === kid);
    expect(jwk, `kid ${kid} in the JWKS`).toBeDefined();
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(verify('RSA-SHA256', Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }), Buffer.from(s, 'base64url'))).toBe(true);
  }

  /** The session has ended: a new sign-in of the relying party shows the login page again. */
  async function expectSignedOut(page: Page, rp: RelyingParty) {
    await page.goto(startSignIn(rp).url);
    expect(new URL(page.url()).pathname).toBe(loginPath(rp.side));
    expect(await page.title()).toBe(`Sign in · ${NAMES[rp.side]}`);
  }

  /** One h1, the side's name in the title, no inline script or style the CSP would refuse. */
  async function expectWellFormedPage(page: Page, side: SideName) {
    expect(await page.locator('h1').count()).toBe(1);
    expect(await page.title()).toMatch(new RegExp(` · ${NAMES[side]}$`));
    expect(await page.locator('[style], script:not([src])').count()).toBe(0);
  }

  for (const side of ['storefront', 'backoffice'] as const) {
    it(`${side}: signs in with openid, nonce and PKCE, then signs out with and without id_token_hint`, async () => {
      const rp = await relyingParty(side);
      const page = await newPageForAxe(chromium.browser);
      // Every document the tab shows, to prove that a logout with a hint shows none of Grantry's.
      const shown: string[] = [];
      page.on('framenavigated', (frame) => {
        if (frame === page.mainFrame()) shown.push(frame.url());
      });
      const failures: string[] = [];

      // (a) Signed in, then logout with id_token_hint: straight back to the post-logout URI with the state.
      const first = await signIn(page, rp, true);
      shown.length = 0;
      const logout = `${server.url}${endSessionPath(side)}?${new URLSearchParams({ id_token_hint: first.idToken, post_logout_redirect_uri: rp.postLogout, state: 'bye-1' })}`;
      const response = await page.goto(logout);
      expect(page.url()).toBe(`${rp.postLogout}?state=bye-1`);
      expect(await page.locator('body').innerText()).toBe('received /signed-out?state=bye-1');
      expect(shown).toEqual([page.url()]);
      const hop = response?.request().redirectedFrom();
      expect(hop?.url()).toBe(logout);
      expect([302, 303]).toContain((await hop?.response())?.status());
      await expectSignedOut(page, rp);

      // (b) Signed in again (consent remembered, same subject), then logout without a hint: the
      // confirmation page, used with the keyboard alone, then the post-logout URI with the state.
      const second = await signIn(page, rp, false);
      expect(second.sub).toBe(first.sub);
      await page.goto(`${server.url}${endSessionPath(side)}?${new URLSearchParams({ client_id: rp.clientId, post_logout_redirect_uri: rp.postLogout, state: 'bye-2' })}`);
      expect(new URL(page.url()).pathname).toBe(endSessionPath(side));
      await expectWellFormedPage(page, side);
      expect(await page.title()).toBe(`Sign out? · ${NAMES[side]}`);
      expect(await page.locator('main').innerText()).toContain(`${NAMES[side]} companion asks to sign you out of your account ${rp.user.login}.`);
      failures.push(...(await auditAndPhotograph(page, ARTIFACTS, `${side}-end-session-confirm`, backend)));
      await tabTo(page, 'Sign out');
      await Promise.all([page.waitForURL((url) => url.href.startsWith(rp.postLogout)), page.keyboard.press('Enter')]);
      expect(page.url()).toBe(`${rp.postLogout}?state=bye-2`);
      await expectSignedOut(page, rp);

      // (c) Signed in again, logout with a hint and no post-logout URI: the "signed out" page.
      const third = await signIn(page, rp, false);
      const signedOut = await page.goto(`${server.url}${endSessionPath(side)}?${new URLSearchParams({ id_token_hint: third.idToken })}`);
      expect(signedOut?.status()).toBe(200);
      await expectWellFormedPage(page, side);
      expect(await page.title()).toBe(`Signed out · ${NAMES[side]}`);
      expect(await page.locator('main').innerText()).toContain('You are signed out.');
      failures.push(...(await auditAndPhotograph(page, ARTIFACTS, `${side}-signed-out`, backend)));
      await expectSignedOut(page, rp);

      expect(failures).toEqual([]);
    });
  }

  for (const side of ['storefront', 'backoffice'] as const) {
    it(`${side}: a relying party posting prompt=none and the logout from its own site finds the user signed in, and the logout really signs out`, async () => {
      const rp = await relyingParty(side, 'cross-site');
      const page = await newPageForAxe(chromium.browser);
      const first = await signIn(page, rp, true);

      // (a) Signed in with consent given, an authorize request with prompt=none posted from the
      // client's site: a code, not login_required. The POST comes without Grantry's cookie (it is
      // cross-site) and is answered 303 to the same request by GET, which carries the cookie.
      const state = `st-${Math.random().toString(36).slice(2)}`;
      const nonce = `n-${Math.random().toString(36).slice(2)}`;
      const { verifier, challenge } = pkcePair();
      const authorizeParams = { response_type: 'code', client_id: rp.clientId, redirect_uri: rp.callback, scope: 'openid', prompt: 'none', state, nonce, code_challenge: challenge, code_challenge_method: 'S256' };
      const authorizeAction = server.url + authorizePath(side);
      const toCallback = await postFromRelyingPartySite(page, authorizeAction, authorizeParams, (url) => url.startsWith(rp.callback));
      const landed = new URL(page.url());
      expect(landed.searchParams.get('error'), `landed on ${landed.href}`).toBeNull();
      expect(landed.searchParams.get('state')).toBe(state);
      expect(landed.searchParams.get('iss')).toBe(ISSUER[side]);
      const code = landed.searchParams.get('code') ?? '';
      expect(code).not.toBe('');
      expect(toCallback.map((hop) => [hop.method, hop.status])).toEqual([['POST', 303], ['GET', 302], ['GET', 200]]);
      const [posted, resent] = toCallback as [Hop, Hop];
      expect(posted.url).toBe(authorizeAction);
      expect(carriesCookie(posted.cookie, SESSION_COOKIE[side]), `cookie on the cross-site POST: ${posted.cookie}`).toBe(false);
      expect(new URL(resent.url).pathname).toBe(authorizePath(side));
      expect(Object.fromEntries(new URL(resent.url).searchParams)).toEqual(authorizeParams);
      expect(carriesCookie(resent.cookie, SESSION_COOKIE[side]), `cookie on the GET: ${resent.cookie}`).toBe(true);
      // The code is the signed-in user's, with the posted nonce.
      const token = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: rp.clientId, client_secret: rp.clientSecret, redirect_uri: rp.callback, code, code_verifier: verifier });
      expect(token.status).toBe(200);
      expect(token.json.scope).toBe('openid');
      const { payload } = decodeJwt(token.json.id_token as string);
      expect(payload).toMatchObject({ iss: ISSUER[side], aud: rp.clientId, nonce, sub: first.sub, sid: first.sid });

      // (b) The logout posted from the client's site, with id_token_hint, post-logout URI and
      // state: the browser lands on the post-logout URI with the state, and the session is gone.
      const endSessionAction = server.url + endSessionPath(side);
      const logoutParams = { id_token_hint: first.idToken, post_logout_redirect_uri: rp.postLogout, state: 'bye-posted' };
      const toPostLogout = await postFromRelyingPartySite(page, endSessionAction, logoutParams, (url) => url.startsWith(rp.postLogout));
      expect(page.url()).toBe(`${rp.postLogout}?state=bye-posted`);
      expect(await page.locator('body').innerText()).toBe('received /signed-out?state=bye-posted');
      expect(toPostLogout.map((hop) => [hop.method, hop.status])).toEqual([['POST', 303], ['GET', 302], ['GET', 200]]);
      const [logoutPosted, logoutResent] = toPostLogout as [Hop, Hop];
      expect(logoutPosted.url).toBe(endSessionAction);
      expect(carriesCookie(logoutPosted.cookie, SESSION_COOKIE[side]), `cookie on the cross-site POST: ${logoutPosted.cookie}`).toBe(false);
      expect(new URL(logoutResent.url).pathname).toBe(endSessionPath(side));
      expect(Object.fromEntries(new URL(logoutResent.url).searchParams)).toEqual(logoutParams);
      expect(carriesCookie(logoutResent.cookie, SESSION_COOKIE[side]), `cookie on the GET: ${logoutResent.cookie}`).toBe(true);
      // Really signed out: the browser holds no session cookie, and a new sign-in shows the login form.
      expect((await page.context().cookies(server.url)).map((c) => c.name)).not.toContain(SESSION_COOKIE[side]);
      await expectSignedOut(page, rp);
      expect(await page.locator('#login').isVisible()).toBe(true);
    });
  }
});
