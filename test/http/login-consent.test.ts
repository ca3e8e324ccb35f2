/**
 * The login, consent and logout pages over HTTP, on both sides and every backend: framing and
 * cache headers, cookies, session fixation, generic login failures, CSRF, return_to, the
 * consent decision and the end of a session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { formField, type PageResponse, signIn, TestBrowser } from '../helpers/browser.js';
import { BACKENDS } from '../helpers/backends.js';
import { authorizePath, authorizeUrl, runAuthorize } from '../helpers/oauth.js';
import { DEFAULT_REDIRECT_URI as REGISTERED, startTestServer, type TestServer } from '../helpers/server.js';
import {
  alertText,
  createUser,
  expectCodeRedirect,
  expectConsentPage,
  expectErrorPage,
  expectErrorRedirect,
  expectFramingHeaders,
  expectLoginRedirect,
  expectPage,
  findSetCookie,
  issuerOf,
  loginPathOf,
  logoutPathOf,
  sessionCookieOf,
  signedInBrowser,
  type TestUser,
  unique,
} from '../helpers/authorize-pages.js';
import { otherSide, SIDES } from '../helpers/tokens.js';
import { CLI } from '../../src/management/principal.js';

const GENERIC = 'Invalid credentials.';

/** Posts the login form of `side` with a CSRF token taken from a fresh GET of the page. */
async function postLogin(browser: TestBrowser, side: SideName, fields: Record<string, string>): Promise<PageResponse> {
  const page = await browser.get(loginPathOf(side));
  return browser.post(loginPathOf(side), { csrf_token: formField(page.body, 'csrf_token') ?? '', ...fields });
}

describe.each(BACKENDS)('login, consent and logout pages (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  const anonymous = () => new TestBrowser(server.url);

  describe.each(SIDES)('%s', (side) => {
    const iss = issuerOf(side);
    const sessionCookie = sessionCookieOf(side);

    describe('login page', () => {
      it('is served with anti-framing, no-store headers and a CSRF field', async () => {
        const browser = anonymous();
        const page = await browser.get(loginPathOf(side));
        expectPage(page, 200);
        expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
        expect(page.headers.get('x-frame-options')).toBe('DENY');
        expect(page.headers.get('cache-control')).toBe('no-store');
        expect(page.body).toContain('<h1>Sign in</h1>');
        expect(page.body).toContain(`action="${loginPathOf(side)}"`);
        // The side's product name by default, in the header and the title.
        const product = side === 'backoffice' ? 'Back office' : 'Store';
        expect(page.body).toContain(`<span class="brand">${product}</span>`);
        expect(page.body).toContain(`<title>Sign in · ${product}</title>`);
        expect(formField(page.body, 'csrf_token')).toMatch(/^[A-Za-z0-9_-]{43}$/);
        const csrf = findSetCookie(page, 'grantry_csrf');
        expect(csrf).toBeDefined();
        expect(csrf?.attributes.has('httponly')).toBe(true);
        expect(csrf?.attributes.get('samesite')?.toLowerCase()).toBe('lax');
        expect(csrf?.attributes.has('secure')).toBe(false);
        // A page with a failed login carries the same headers.
        const failed = await browser.post(loginPathOf(side), { csrf_token: formField(page.body, 'csrf_token') as string, login: 'nobody@example.com', password: 'wrong-password' });
        expectPage(failed, 401);
      });

      it('a successful login sets an HttpOnly, SameSite=Lax, non-Secure session cookie (http issuer) and redirects with 303', async () => {
        const user = await createUser(server, side);
        const browser = anonymous();
        const response = await postLogin(browser, side, { login: user.login, password: user.password });
        expect(response.status).toBe(303);
        expect(response.location).toBe(loginPathOf(side));
        expect(response.headers.get('cache-control')).toBe('no-store');
        const cookie = findSetCookie(response, sessionCookie);
        expect(cookie).toBeDefined();
        expect(cookie?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(cookie?.attributes.has('httponly')).toBe(true);
        expect(cookie?.attributes.get('samesite')?.toLowerCase()).toBe('lax');
        expect(cookie?.attributes.has('secure')).toBe(false);
        expect(cookie?.attributes.get('path')).toBe('/');
        expect(cookie?.attributes.has('domain')).toBe(false);
        // No cookie of the other side was set.
        expect(findSetCookie(response, sessionCookieOf(otherSide(side)))).toBeUndefined();
        // The login page now says who is signed in.
        const signedIn = await browser.get(loginPathOf(side));
        expectPage(signedIn, 200);
        expect(signedIn.body).toContain('<h1>Signed in</h1>');
        expect(signedIn.body).toContain(`<strong>${user.login}</strong>`);
      });

      it('the login name is escaped when the form is shown again', async () => {
        const response = await postLogin(anonymous(), side, { login: '"><script>alert(1)</script>', password: 'whatever-123' });
        expectPage(response, 401);
        expect(response.body).not.toContain('<script>');
        expect(response.body).toContain('&quot;&gt;&lt;script&gt;');
      });
    });

    describe('session fixation', () => {
      it('a session cookie set before login is replaced by a new value', async () => {
        const user = await createUser(server, side);
        const browser = anonymous();
        browser.cookies.set(sessionCookie, 'fixated-by-the-attacker-0123456789abcdefghij');
        const response = await signIn(browser, side, user.login, user.password);
        expect(response.status).toBe(303);
        const issued = findSetCookie(response, sessionCookie);
        expect(issued).toBeDefined();
        expect(issued?.value).not.toBe('fixated-by-the-attacker-0123456789abcdefghij');
        expect(browser.cookies.get(sessionCookie)).toBe(issued?.value);
      });

      it("a valid session id planted by an attacker is not kept: the victim gets a new one and the attacker's dies", async () => {
        const { browser: attacker } = await signedInBrowser(server, side);
        const planted = attacker.cookies.get(sessionCookie) as string;
        const victimUser = await createUser(server, side);
        const victim = anonymous();
        victim.cookies.set(sessionCookie, planted);
        const response = await signIn(victim, side, victimUser.login, victimUser.password);
        expect(response.status).toBe(303);
        const fresh = victim.cookies.get(sessionCookie);
        expect(fresh).toBeDefined();
        expect(fresh).not.toBe(planted);
        // The planted id no longer opens a session: the attacker cannot ride the victim's login.
        const client = await server.createClient({ side, skipConsent: true });
        expectLoginRedirect(await attacker.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId })), side);
        // The victim's new session works.
        expectCodeRedirect(await victim.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId })), { target: REGISTERED, state: null, iss, status: 302 });
      });
    });

    describe('login failures are generic', () => {
      /** Status, alert text and body (with the echoed login removed) of a failed login. */
      const failure = async (login: string, password: string) => {
        const browser = anonymous();
        const response = await postLogin(browser, side, { login, password });
        expect(browser.cookies.has(sessionCookie)).toBe(false);
        expect(findSetCookie(response, sessionCookie)).toBeUndefined();
        expect(response.location).toBeNull();
        expectFramingHeaders(response);
        const csrf = formField(response.body, 'csrf_token') as string;
        return { status: response.status, alert: alertText(response.body), body: response.body.replaceAll(login, 'LOGIN').replaceAll(csrf, 'CSRF') };
      };

      it("wrong password and unknown user get the same 401 and 'Invalid credentials.'", async () => {
        const user = await createUser(server, side);
        const wrongPassword = await failure(user.login, 'not-the-password');
        const unknown = await failure(side === 'backoffice' ? unique('ghost') : `${unique('ghost')}@example.com`, 'not-the-password');
        expect(wrongPassword.status).toBe(401);
        expect(wrongPassword.alert).toBe(GENERIC);
        expect(unknown).toEqual(wrongPassword);
        const empty = await failure(user.login, '');
        expect(empty).toEqual(wrongPassword);
      });

      it('a disabled user cannot log in and gets the same generic message', async () => {
        const user = await createUser(server, side);
        const wrong = await failure(user.login, 'not-the-password');
        await server.grantry.users.setFlag(CLI, side, user.ref, 'enabled', false);
        const disabled = await failure(user.login, user.password);
        expect(disabled).toEqual(wrong);
        expect(disabled.status).toBe(401);
        expect(disabled.alert).toBe(GENERIC);
        // Enabled again, the same credentials work: the flag was the only reason.
        await server.grantry.users.setFlag(CLI, side, user.ref, 'enabled', true);
        expect((await postLogin(anonymous(), side, { login: user.login, password: user.password })).status).toBe(303);
      });

      if (side === 'backoffice') {
        it('a locked staff user cannot log in and gets the same generic message', async () => {
          const user = await createUser(server, side);
          const wrong = await failure(user.login, 'not-the-password');
          await server.grantry.users.setFlag(CLI, 'backoffice', user.ref, 'locked', true);
          const locked = await failure(user.login, user.password);
          expect(locked).toEqual(wrong);
          expect(locked.alert).toBe(GENERIC);
          await server.grantry.users.setFlag(CLI, 'backoffice', user.ref, 'locked', false);
          expect((await postLogin(anonymous(), side, { login: user.login, password: user.password })).status).toBe(303);
        });
      }

      it("a user of the other side cannot log in here", async () => {
        const other = await createUser(server, otherSide(side));
        const response = await postLogin(anonymous(), side, { login: other.login, password: other.password });
        expect(response.status).toBe(401);
        expect(alertText(response.body)).toBe(GENERIC);
      });
    });

    describe('CSRF on the login form', () => {
      it('without csrf_token: 403 and no session', async () => {
        const user = await createUser(server, side);
        const browser = anonymous();
        await browser.get(loginPathOf(side)); // has the CSRF cookie, but sends no token
        const response = await browser.post(loginPathOf(side), { login: user.login, password: user.password });
        expectPage(response, 403);
        expect(findSetCookie(response, sessionCookie)).toBeUndefined();
        expect(browser.cookies.has(sessionCookie)).toBe(false);
        expect(alertText(response.body)).toContain('expired');
      });

      it.each([
        ['a wrong token', 'wrong'],
        ['a token of the right shape', 'A'.repeat(43)],
      ])('with %s: 403 and no session', async (_label, token) => {
        const user = await createUser(server, side);
        const browser = anonymous();
        await browser.get(loginPathOf(side));
        const response = await browser.post(loginPathOf(side), { csrf_token: token, login: user.login, password: user.password });
        expectPage(response, 403);
        expect(browser.cookies.has(sessionCookie)).toBe(false);
      });

      it("with another browser's token, or with no CSRF cookie: 403 and no session", async () => {
        const user = await createUser(server, side);
        const attacker = anonymous();
        const token = formField((await attacker.get(loginPathOf(side))).body, 'csrf_token') as string;
        const victim = anonymous();
        await victim.get(loginPathOf(side));
        const crossBrowser = await victim.post(loginPathOf(side), { csrf_token: token, login: user.login, password: user.password });
        expect(crossBrowser.status).toBe(403);
        expect(victim.cookies.has(sessionCookie)).toBe(false);
        const noCookie = await anonymous().post(loginPathOf(side), { csrf_token: token, login: user.login, password: user.password });
        expect(noCookie.status).toBe(403);
        expect(findSetCookie(noCookie, sessionCookie)).toBeUndefined();
        // The attacker's own browser, with its cookie, can log in with that token.
        expect((await attacker.post(loginPathOf(side), { csrf_token: token, login: user.login, password: user.password })).status).toBe(303);
      });
    });

    describe('return_to', () => {
      it('a return_to to this side’s authorize endpoint is followed after login', async () => {
        const user = await createUser(server, side);
        const returnTo = `${authorizePath(side)}?response_type=code&client_id=abc&state=x`;
        const response = await signIn(anonymous(), side, user.login, user.password, returnTo);
        expect(response.status).toBe(303);
        expect(response.location).toBe(returnTo);
      });

      it.each([
        'https://evil.example/',
        '//evil.example',
        '//evil.example/oauth2-token/authorize?x=1',
        '/\\evil.example',
        '/admin/api/users',
        '/api/users',
        'https://grantry.test/oauth2-token/authorize?client_id=x',
        'javascript:alert(1)',
        '/oauth2-token/authorize-evil',
        '/oauth2-token/authorize/../../evil',
      ])('return_to %s is ignored: after login the redirect is to the login page', async (returnTo) => {
        const user = await createUser(server, side);
        const browser = anonymous();
        const page = await browser.get(`${loginPathOf(side)}?${new URLSearchParams({ return_to: returnTo })}`);
        expectPage(page, 200);
        expect(formField(page.body, 'return_to')).toBeUndefined();
        const response = await browser.post(loginPathOf(side), { csrf_token: formField(page.body, 'csrf_token') as string, login: user.login, password: user.password, return_to: returnTo });
        expect(response.status).toBe(303);
        expect(response.location).toBe(loginPathOf(side));
        // Signed in already, the login page does not redirect there either.
        const again = await browser.get(`${loginPathOf(side)}?${new URLSearchParams({ return_to: returnTo })}`);
        expectPage(again, 200);
        expect(again.body).toContain('<h1>Signed in</h1>');
      });

      it("a return_to to the other side's authorize endpoint is ignored", async () => {
        const user = await createUser(server, side);
        const returnTo = `${authorizePath(otherSide(side))}?response_type=code&client_id=abc`;
        const response = await signIn(anonymous(), side, user.login, user.password, returnTo);
        expect(response.status).toBe(303);
        expect(response.location).toBe(loginPathOf(side));
      });

      it('a return_to with characters that cannot go in a header gives no server error', async () => {
        const user = await createUser(server, side);
        for (const returnTo of [`${authorizePath(side)}?state=a\r\nSet-Cookie: evil=1`, `${authorizePath(side)}?state=€`]) {
          const browser = anonymous();
          const response = await signIn(browser, side, user.login, user.password, returnTo);
          expect(response.status).toBe(303);
          expect(response.headers.get('set-cookie') ?? '').not.toContain('evil=1');
          const location = response.location as string;
          expect(location.startsWith(authorizePath(side)) || location === loginPathOf(side)).toBe(true);
          const again = await browser.get(`${loginPathOf(side)}?${new URLSearchParams({ return_to: returnTo })}`);
          expect(again.status).toBeLessThan(500);
          expect(again.headers.get('set-cookie') ?? '').not.toContain('evil=1');
        }
      });
    });

    describe('consent page', () => {
      it('shows the application name, the scopes, Allow and Deny, with anti-framing headers', async () => {
        const { browser, user } = await signedInBrowser(server, side);
        const name = `Shop & <Co> ${unique('app')}`;
        const client = await server.createClient({ side, name });
        const page = await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'c1', scope: 'orders:read profile' }));
        const fields = expectConsentPage(page);
        expect(page.body).toContain(`<strong>${name.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}</strong>`);
        expect(page.body).not.toContain('<Co>');
        expect(page.body).toContain(`<strong>${user.login}</strong>`);
        // Each scope with the description configured for it (TEST_SCOPES).
        expect(page.body).toContain('<li>See your orders <code>orders:read</code></li>');
        expect(page.body).toContain('<li>See your profile <code>profile</code></li>');
        expect(page.body).toContain(`action="${authorizePath(side)}"`);
        expect(fields).toMatchObject({ response_type: 'code', client_id: client.clientId, state: 'c1', scope: 'orders:read profile' });
      });

      it('Deny → 303 to the client with error=access_denied, the original state and iss', async () => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side });
        const fields = expectConsentPage(await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'deny-me', scope: 'read' })));
        const response = await browser.post(authorizePath(side), { ...fields, decision: 'deny' });
        expectErrorRedirect(response, { target: REGISTERED, error: 'access_denied', state: 'deny-me', iss, status: 303 });
      });

      it('Allow → 303 to the client with a code, the original state and iss', async () => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side });
        const fields = expectConsentPage(await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'allow-me' })));
        const response = await browser.post(authorizePath(side), { ...fields, decision: 'allow' });
        expectCodeRedirect(response, { target: REGISTERED, state: 'allow-me', iss, status: 303 });
      });

      it('runAuthorize with deny reaches the client with access_denied', async () => {
        const user = await createUser(server, side);
        const client = await server.createClient({ side });
        const location = await runAuthorize(anonymous(), side, { response_type: 'code', client_id: client.clientId, state: 'rd' }, { login: user.login, password: user.password, decision: 'deny' });
        expect(location.origin + location.pathname).toBe(REGISTERED);
        expect(location.searchParams.get('error')).toBe('access_denied');
        expect(location.searchParams.get('state')).toBe('rd');
        expect(location.searchParams.get('iss')).toBe(iss);
        expect(location.searchParams.has('code')).toBe(false);
      });

      it('a skip-consent client gets a code without the consent page', async () => {
        const user = await createUser(server, side);
        const client = await server.createClient({ side, skipConsent: true });
        const location = await runAuthorize(anonymous(), side, { response_type: 'code', client_id: client.clientId, state: 'sk' }, { login: user.login, password: user.password, decision: 'expect-none' });
        expect(location.origin + location.pathname).toBe(REGISTERED);
        expect(location.searchParams.get('code')).toBeTruthy();
        expect(location.searchParams.get('state')).toBe('sk');
        expect(location.searchParams.get('iss')).toBe(iss);
      });

      it('a consent POST without csrf_token → 403, no redirect to the client', async () => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side });
        const fields = expectConsentPage(await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'x' })));
        const { csrf_token: token, ...withoutToken } = fields;
        const response = await browser.post(authorizePath(side), { ...withoutToken, decision: 'allow' });
        expectErrorPage(response, 403);
        expect(response.body).not.toContain('app.example');
        // With the token it goes through: the token was the only thing missing.
        const ok = await browser.post(authorizePath(side), { ...withoutToken, csrf_token: token as string, decision: 'allow' });
        expectCodeRedirect(ok, { target: REGISTERED, state: 'x', iss, status: 303 });
      });

      it.each([
        ['a wrong token', () => 'wrong'],
        ['an empty token', () => ''],
        ['a token of the right shape', () => 'B'.repeat(43)],
      ])('a consent POST with %s → 403, no redirect to the client', async (_label, token) => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side });
        const fields = expectConsentPage(await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'x' })));
        for (const decision of ['allow', 'deny']) {
          const response = await browser.post(authorizePath(side), { ...fields, csrf_token: token(), decision });
          expectErrorPage(response, 403);
        }
      });

      it('Allow for a client deactivated after the page was shown → 400 page, no code', async () => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side });
        const fields = expectConsentPage(await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'da' })));
        await server.grantry.clients.setActive(CLI, client.clientId, false);
        expectErrorPage(await browser.post(authorizePath(side), { ...fields, decision: 'allow' }), 400, 'Invalid client');
      });

      it('Allow from a user disabled after the page was shown → back to the login page, no code', async () => {
        const { browser, user } = await signedInBrowser(server, side);
        const client = await server.createClient({ side });
        const fields = expectConsentPage(await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'du' })));
        await server.grantry.users.setFlag(CLI, side, user.ref, 'enabled', false);
        const response = await browser.post(authorizePath(side), { ...fields, decision: 'allow' });
        const returnTo = expectLoginRedirect(response, side);
        expect(returnTo).not.toContain('decision');
      });

      it('Allow with parameters changed after the page was shown is validated again', async () => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side });
        const fields = expectConsentPage(await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'ch' })));
        const response = await browser.post(authorizePath(side), { ...fields, redirect_uri: 'https://evil.example/callback', decision: 'allow' });
        expectErrorPage(response, 400, 'Invalid redirect URI');
      });

      it("a consent POST with another browser's token → 403", async () => {
        const { browser } = await signedInBrowser(server, side);
        const { browser: other } = await signedInBrowser(server, side);
        const client = await server.createClient({ side });
        const url = authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'x' });
        const fields = expectConsentPage(await browser.get(url));
        const otherFields = expectConsentPage(await other.get(url));
        expect(otherFields.csrf_token).not.toBe(fields.csrf_token);
        expectErrorPage(await browser.post(authorizePath(side), { ...fields, csrf_token: otherFields.csrf_token as string, decision: 'allow' }), 403);
      });
    });

    describe('logout', () => {
      const signedInWithClient = async (user?: TestUser) => {
        const { browser, user: u } = await signedInBrowser(server, side, user);
        const client = await server.createClient({ side, skipConsent: true });
        const url = authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'lo' });
        expectCodeRedirect(await browser.get(url), { target: REGISTERED, state: 'lo', iss, status: 302 });
        return { browser, user: u, url };
      };

      it('POST logout with the CSRF token ends the session', async () => {
        const { browser, url } = await signedInWithClient();
        const oldSession = browser.cookies.get(sessionCookie) as string;
        const page = await browser.get(loginPathOf(side));
        expect(page.body).toContain(`action="${logoutPathOf(side)}"`);
        const response = await browser.post(logoutPathOf(side), { csrf_token: formField(page.body, 'csrf_token') as string });
        expect(response.status).toBe(303);
        expect(response.location).toBe(loginPathOf(side));
        const cleared = findSetCookie(response, sessionCookie);
        expect(cleared).toBeDefined();
        expect(cleared?.value).toBe('');
        expect(browser.cookies.has(sessionCookie)).toBe(false);
        expectLoginRedirect(await browser.get(url), side);
        // The old id is dead on the server too, not only forgotten by the browser.
        const replay = anonymous();
        replay.cookies.set(sessionCookie, oldSession);
        expectLoginRedirect(await replay.get(url), side);
      });

      it('logout without the CSRF token → 403 and the session lives on', async () => {
        const { browser, url } = await signedInWithClient();
        const noToken = await browser.post(logoutPathOf(side), {});
        expectPage(noToken, 403);
        const wrongToken = await browser.post(logoutPathOf(side), { csrf_token: 'wrong' });
        expectPage(wrongToken, 403);
        expect(findSetCookie(wrongToken, sessionCookie)).toBeUndefined();
        expectCodeRedirect(await browser.get(url), { target: REGISTERED, state: 'lo', iss, status: 302 });
      });

      it("logging out of one side keeps the other side's session", async () => {
        const { browser, url } = await signedInWithClient();
        const other = await createUser(server, otherSide(side));
        expect((await signIn(browser, otherSide(side), other.login, other.password)).status).toBe(303);
        const otherClient = await server.createClient({ side: otherSide(side), skipConsent: true });
        const otherUrl = authorizeUrl(otherSide(side), { response_type: 'code', client_id: otherClient.clientId });
        const page = await browser.get(loginPathOf(otherSide(side)));
        expect((await browser.post(logoutPathOf(otherSide(side)), { csrf_token: formField(page.body, 'csrf_token') as string })).status).toBe(303);
        expectLoginRedirect(await browser.get(otherUrl), otherSide(side));
        expectCodeRedirect(await browser.get(url), { target: REGISTERED, state: 'lo', iss, status: 302 });
      });

      it('a user disabled after login loses the session', async () => {
        const { browser, user, url } = await signedInWithClient();
        await server.grantry.users.setFlag(CLI, side, user.ref, 'enabled', false);
        expectLoginRedirect(await browser.get(url), side);
        const loginPage = await browser.get(loginPathOf(side));
        expectPage(loginPage, 200);
        expect(loginPage.body).toContain('<h1>Sign in</h1>');
      });

      if (side === 'backoffice') {
        it('a staff user locked after login loses the session', async () => {
          const { browser, user, url } = await signedInWithClient();
          await server.grantry.users.setFlag(CLI, 'backoffice', user.ref, 'locked', true);
          expectLoginRedirect(await browser.get(url), side);
        });
      }
    });
  });

  describe('on a server without a default scope', () => {
    // Test servers grant api when a request names no scope; this one grants nothing then.
    let scopeless: TestServer;
    beforeAll(async () => {
      scopeless = await startTestServer(backend, { defaultScope: '' });
    });
    afterAll(() => scopeless?.close());

    it.each(SIDES)('%s: without scope, the consent page says so and lists none', async (side) => {
      const { browser } = await signedInBrowser(scopeless, side);
      const client = await scopeless.createClient({ side });
      const page = await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId }));
      expectConsentPage(page);
      expect(page.body).not.toContain('<ul class="scopes">');
      expect(page.body).toContain('It asks only to know that it is you: no access to your data.');
    });
  });

  describe('behind an https public URL', () => {
    let secure: TestServer;
    beforeAll(async () => {
      secure = await startTestServer(backend, { publicUrl: 'https://grantry.test' });
    });
    afterAll(() => secure?.close());

    it.each(SIDES)('%s: cookies are Secure and use the __Host- prefix; iss is the https issuer', async (side) => {
      const browser = new TestBrowser(secure.url);
      const page = await browser.get(loginPathOf(side));
      expectPage(page, 200);
      const csrf = findSetCookie(page, '__Host-grantry_csrf');
      expect(csrf).toBeDefined();
      expect(findSetCookie(page, 'grantry_csrf')).toBeUndefined();
      for (const cookie of [csrf]) {
        expect(cookie?.attributes.has('secure')).toBe(true);
        expect(cookie?.attributes.get('path')).toBe('/');
        expect(cookie?.attributes.has('domain')).toBe(false);
      }
      const user = side === 'backoffice' ? await secure.createBackofficeUser(unique('sec')) : await secure.createCustomerUser(`${unique('sec')}@example.com`);
      const login = 'username' in user ? user.username : user.email;
      const response = await browser.post(loginPathOf(side), { csrf_token: formField(page.body, 'csrf_token') as string, login, password: user.password });
      expect(response.status).toBe(303);
      const name = sessionCookieOf(side, true);
      expect(name.startsWith('__Host-')).toBe(true);
      const session = findSetCookie(response, name);
      expect(session).toBeDefined();
      expect(findSetCookie(response, sessionCookieOf(side))).toBeUndefined();
      expect(session?.attributes.has('secure')).toBe(true);
      expect(session?.attributes.has('httponly')).toBe(true);
      expect(session?.attributes.get('samesite')?.toLowerCase()).toBe('lax');
      expect(session?.attributes.get('path')).toBe('/');
      expect(session?.attributes.has('domain')).toBe(false);

      const client = await secure.createClient({ side, skipConsent: true });
      const code = await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'sec' }));
      expectCodeRedirect(code, { target: REGISTERED, state: 'sec', iss: issuerOf(side, 'https://grantry.test'), status: 302 });
    });
  });
});
