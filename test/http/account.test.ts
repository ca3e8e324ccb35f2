/**
 * The account pages (issue 8 items 5 and 6) over HTTP, on both sides and every backend: the
 * sign-in redirect, the authorized applications after a consent (name, scopes, dates), "Remove
 * access" (the access token is refused by the API at once, the refresh token is invalid_grant,
 * the next authorization asks again), another user's or an unknown application (404), a form
 * without CSRF token (403); changing one's password: a wrong current password refused and
 * counted by the brute-force throttle, short, common and mismatched new passwords refused with
 * the policy's message, and on success every other session and token of the user ended while
 * the current session goes on, the new password signs in and the old does not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../../src/management/principal.js';
import type { SideName } from '../../src/oauth/sides.js';
import { verifyPassword } from '../../src/security/passwords.js';
import { formField, type PageResponse, sidePrefix, signIn, TestBrowser } from '../helpers/browser.js';
import { BACKENDS } from '../helpers/backends.js';
import { apiGet, authorizeUrl, runAuthorize, tokenRequest } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { alertText, createUser, expectConsentPage, expectLoginRedirect, expectPage, loginPathOf, logoutPathOf, signedInBrowser, type TestUser, unique } from '../helpers/authorize-pages.js';
import { expectTokenError, SIDES, type TestClient } from '../helpers/tokens.js';

const accountPathOf = (side: SideName) => `${sidePrefix(side)}/account`;
/** An API path that a token of the user may read on each side (with the `api` scope). */
const ownApiPath = (side: SideName, user: TestUser) => (side === 'backoffice' ? `/admin/api/users/${user.id}` : '/api/customerusers/mine');
const NEW_PASSWORD = 'tulip-harbour-quartz-7';

describe.each(BACKENDS)('account pages (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  describe.each(SIDES)('%s', (side) => {
    const base = accountPathOf(side);
    const newClient = () => server.createClient({ side, name: unique('Reporting app '), grants: ['authorization_code', 'refresh_token'] });

    /** Authorizes `client` for `scope` in the signed-in `browser` (consent allowed if asked) and exchanges the code. */
    async function tokensFor(browser: TestBrowser, user: TestUser, client: TestClient, scope: string): Promise<{ access: string; refresh: string }> {
      const location = await runAuthorize(browser, side, { response_type: 'code', client_id: client.clientId, scope, state: 's' }, { login: user.login, password: user.password, decision: 'allow' });
      const call = await tokenRequest(server.url, {
        grant_type: 'authorization_code',
        client_id: client.clientId,
        client_secret: client.clientSecret,
        redirect_uri: client.redirectUri,
        code: location.searchParams.get('code') ?? '',
      });
      expect(call.status).toBe(200);
      return { access: call.json.access_token as string, refresh: call.json.refresh_token as string };
    }

    const refresh = (client: TestClient, token: string) =>
      tokenRequest(server.url, { grant_type: 'refresh_token', client_id: client.clientId, client_secret: client.clientSecret, refresh_token: token });

    /**
     * A page of the signed-in browser, asserted 200 with the page headers; returns it and the
     * browser's CSRF token (from the overview's sign-out form when the page has no form).
     */
    async function page(browser: TestBrowser, path: string): Promise<{ page: PageResponse; csrf: string }> {
      const response = await browser.get(path);
      expectPage(response, 200);
      const csrf = formField(response.body, 'csrf_token') ?? formField((await browser.get(base)).body, 'csrf_token');
      expect(csrf).toBeTruthy();
      return { page: response, csrf: csrf as string };
    }

    /** The item of the applications list naming `name`, or undefined. */
    const listItem = (body: string, name: string) => /<ul class="apps">([\s\S]*)<\/ul>/.exec(body)?.[1]?.split('<li>\n<h2>').find((item) => item.startsWith(`${name}</h2>`));

    it('sends a visitor without a session to the login page, which brings them back', async () => {
      const browser = new TestBrowser(server.url);
      for (const path of [base, `${base}/applications`, `${base}/password`]) {
        expect(expectLoginRedirect(await browser.get(path), side)).toBe(path);
      }
      // A POST cannot be replayed by a redirect: back to the overview after signing in.
      expect(expectLoginRedirect(await browser.post(`${base}/applications/whatever/remove`, { csrf_token: 'x' }), side)).toBe(base);
      expect(expectLoginRedirect(await browser.post(`${base}/password`, {}), side)).toBe(base);
      const user = await createUser(server, side);
      const signedIn = await signIn(browser, side, user.login, user.password, `${base}/applications`);
      expect(signedIn.status).toBe(303);
      expect(signedIn.location).toBe(`${base}/applications`);
      expectPage(await browser.get(`${base}/applications`), 200);
    });

    it('disabling a user ends their sign-in sessions: the account pages send them to the login page', async () => {
      const { browser, user } = await signedInBrowser(server, side);
      expectPage(await browser.get(base), 200);
      await server.grantry.users.setFlag(CLI, side, user.ref, 'enabled', false);
      expect(expectLoginRedirect(await browser.get(base), side)).toBe(base);
      await server.grantry.users.setFlag(CLI, side, user.ref, 'enabled', true);
      // Enabling again does not bring the session back: they sign in anew.
      expect(expectLoginRedirect(await browser.get(base), side)).toBe(base);
    });

    it('the overview names the user, links to both pages and signs out with a CSRF-protected form', async () => {
      const { browser, user } = await signedInBrowser(server, side);
      const { page: overview, csrf } = await page(browser, base);
      expect(overview.body).toContain('<h1>Your account</h1>');
      expect(overview.body).toContain(`<strong>${user.login}</strong>`);
      expect(overview.body).toContain(`href="${base}/applications"`);
      expect(overview.body).toContain(`href="${base}/password"`);
      expect(overview.body).toContain(`<form method="post" action="${logoutPathOf(side)}">`);
      expect(overview.body).not.toMatch(/grantry/i);
      // Reached from the side's signed-in page, and from the console's profile page on the back office.
      const signedIn = await browser.get(loginPathOf(side));
      expectPage(signedIn, 200);
      expect(signedIn.body).toContain(`<a href="${base}">Your account</a>`);
      if (side === 'backoffice') expect((await browser.get('/admin/console/profile')).body).toContain(`<a href="${base}">Your account</a>`);
      const out = await browser.post(logoutPathOf(side), { csrf_token: csrf });
      expect(out.status).toBe(303);
      expectLoginRedirect(await browser.get(base), side);
    });

    it('lists an application after consent with its name, scopes and dates; empty before', async () => {
      const { browser, user } = await signedInBrowser(server, side);
      const { page: empty } = await page(browser, `${base}/applications`);
      expect(empty.body).toContain('<h1>Authorized applications</h1>');
      expect(empty.body).toContain('No application has access to your account.');
      expect(empty.body).not.toContain('Remove access');

      const before = Math.floor(Date.now() / 1000);
      const client = await newClient();
      await tokensFor(browser, user, client, 'read profile');
      const { page: list } = await page(browser, `${base}/applications`);
      const item = listItem(list.body, (await server.grantry.repos.clients.findByClientId(client.clientId))?.name ?? '');
      expect(item).toBeDefined();
      expect(item).toContain('Read your data <code>read</code>');
      expect(item).toContain('See your profile <code>profile</code>');
      expect(item).not.toContain('<code>write</code>');
      const times = [...(item as string).matchAll(/<time datetime="([^"]+)">(\d{4}-\d\d-\d\d \d\d:\d\d UTC)<\/time>/g)].map((m) => Date.parse(m[1] as string) / 1000);
      expect(times).toHaveLength(2);
      for (const at of times) expect(at).toBeGreaterThanOrEqual(before - 1);
      expect(item).toMatch(/Allowed on <time/);
      expect(item).toMatch(/Last used <time/);
      expect(item).toContain(`action="${base}/applications/${client.clientId}/remove"`);
    });

    it('Remove access: the access token is refused at once, the refresh token is invalid_grant, and the next authorization asks again', async () => {
      const { browser, user } = await signedInBrowser(server, side);
      const client = await newClient();
      const kept = await newClient();
      const tokens = await tokensFor(browser, user, client, 'api read');
      const other = await tokensFor(browser, user, kept, 'api');
      expect((await apiGet(server.url, ownApiPath(side, user), tokens.access)).status).toBe(200);

      const { csrf } = await page(browser, `${base}/applications`);
      const removed = await browser.post(`${base}/applications/${client.clientId}/remove`, { csrf_token: csrf });
      expect(removed.status).toBe(303);
      expect(removed.location).toBe(`${base}/applications?done=removed`);
      expect(removed.headers.get('cache-control')).toBe('no-store');

      const api = await apiGet(server.url, ownApiPath(side, user), tokens.access);
      expect(api.status).toBe(401);
      expectTokenError(await refresh(client, tokens.refresh), 400, 'invalid_grant');
      // The other application keeps its access.
      expect((await apiGet(server.url, ownApiPath(side, user), other.access)).status).toBe(200);
      expect((await refresh(kept, other.refresh)).status).toBe(200);

      const { page: after } = await page(browser, `${base}/applications?done=removed`);
      expect(after.body).toMatch(/<p class="notice" role="status">Access removed\./);
      expect(after.body).not.toContain(client.clientId);
      expect(after.body).toContain(kept.clientId);
      // The remembered consent is gone: the next authorization shows the consent page again.
      expectConsentPage(await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, scope: 'read', state: 's' })));
      // Removed twice: nothing left to remove.
      expectPage(await browser.post(`${base}/applications/${client.clientId}/remove`, { csrf_token: csrf }), 404);

      const events = (await server.grantry.audit.list(CLI, { kind: 'consent.revoked', side, userId: user.id, page: 1, size: 10 })).items;
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ actor: user.login, clientId: client.clientId, details: { grants_revoked: 1, consent_forgotten: true } });
    });

    it("another user's, another side's or an unknown application is 404 and changes nothing; a form without CSRF token is 403", async () => {
      const owner = await signedInBrowser(server, side);
      const client = await newClient();
      const tokens = await tokensFor(owner.browser, owner.user, client, 'api');
      const { browser: stranger } = await signedInBrowser(server, side);
      const { csrf } = await page(stranger, `${base}/applications`);
      const otherSides = await server.createClient({ side: side === 'backoffice' ? 'storefront' : 'backoffice' });
      for (const clientId of [client.clientId, 'no-such-client', otherSides.clientId, '%00bad']) {
        const response = await stranger.post(`${base}/applications/${clientId}/remove`, { csrf_token: csrf });
        expectPage(response, 404);
        expect(response.body).toContain('<h1>Not found</h1>');
        expect(alertText(response.body)).toBe('There is no such application among those you have authorized.');
      }
      const { csrf: ownerCsrf } = await page(owner.browser, `${base}/applications`);
      for (const form of [{}, { csrf_token: 'forged' }, { csrf_token: csrf }] as Array<Record<string, string>>) {
        const response = await owner.browser.post(`${base}/applications/${client.clientId}/remove`, form);
        expectPage(response, 403);
        expect(response.body).toContain('<h1>Form expired</h1>');
      }
      expect((await apiGet(server.url, ownApiPath(side, owner.user), tokens.access)).status).toBe(200);
      // With its own token, the owner removes it.
      expect((await owner.browser.post(`${base}/applications/${client.clientId}/remove`, { csrf_token: ownerCsrf })).status).toBe(303);
      expect((await apiGet(server.url, ownApiPath(side, owner.user), tokens.access)).status).toBe(401);
    });

    describe('password', () => {
      const changePassword = (browser: TestBrowser, csrf: string, current: string, next: string, confirm = next) =>
        browser.post(`${base}/password`, { csrf_token: csrf, current_password: current, new_password: next, confirm_password: confirm });

      it('the form has the three fields with their autocomplete hints', async () => {
        const { browser } = await signedInBrowser(server, side);
        const { page: form } = await page(browser, `${base}/password`);
        expect(form.body).toContain('<h1>Change password</h1>');
        expect(form.body).toMatch(/<label for="current_password">Current password<\/label>/);
        expect(form.body).toMatch(/<input id="current_password" name="current_password" type="password" autocomplete="current-password" required/);
        expect(form.body).toMatch(/<input id="new_password" name="new_password" type="password" autocomplete="new-password" required/);
        expect(form.body).toMatch(/<input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required/);
        expect(form.body).toContain('At least 12 characters');
      });

      it('refuses a wrong current password, short, common and mismatched new passwords, with the reason, changing nothing', async () => {
        const { browser, user } = await signedInBrowser(server, side);
        const { csrf } = await page(browser, `${base}/password`);
        const refusals: Array<[string, string, string, string, string]> = [
          // current, new, confirm, message, field marked invalid
          ['wrong-password-1', NEW_PASSWORD, NEW_PASSWORD, 'The current password is not right.', 'current_password'],
          ['', NEW_PASSWORD, NEW_PASSWORD, 'Type your current password.', 'current_password'],
          [user.password, 'v8#kT2!mq9Z', 'v8#kT2!mq9Z', 'The password must have at least 12 characters.', 'new_password'],
          [user.password, 'Qwerty123456', 'Qwerty123456', 'This password is too common; choose another.', 'new_password'],
          [user.password, '1q2w3e4r5t6y', '1q2w3e4r5t6y', 'This password is too common; choose another.', 'new_password'],
          [user.password, NEW_PASSWORD, `${NEW_PASSWORD}x`, 'The new password and its confirmation do not match.', 'confirm_password'],
          [user.password, user.password, user.password, 'The new password must differ from the current one.', 'new_password'],
        ];
        for (const [current, next, confirm, message, field] of refusals) {
          const response = await changePassword(browser, csrf, current, next, confirm);
          expect(response.status, `${current} → ${next}`).toBe(400);
          expectPage(response, 400);
          expect(alertText(response.body), `${current} → ${next}`).toBe(message);
          expect(response.body).toContain('<div id="password-error"><p class="error" role="alert">');
          expect(response.body).toMatch(new RegExp(`<input id="${field}"[^>]*aria-invalid="true"[^>]*aria-describedby="[^"]*password-error"`));
          // Nothing typed is shown again.
          for (const typed of [current, next, confirm].filter((t) => t.length > 3 && t !== user.login)) expect(response.body).not.toContain(typed);
        }
        // Still the old password, and the session goes on.
        expect((await signIn(new TestBrowser(server.url), side, user.login, user.password)).status).toBe(303);
        expectPage(await browser.get(base), 200);
        const failed = (await server.grantry.audit.list(CLI, { kind: 'signin.failed', side, userId: user.id, page: 1, size: 10 })).items;
        expect(failed.map((e) => e.details)).toEqual([{ via: 'password_change', reason: 'wrong_password' }]);
        expect(failed[0]?.actor).toBe(user.login);
      });

      it('a form without CSRF token is 403 and changes nothing', async () => {
        const { browser, user } = await signedInBrowser(server, side);
        const response = await changePassword(browser, 'forged', user.password, NEW_PASSWORD);
        expectPage(response, 403);
        expect((await signIn(new TestBrowser(server.url), side, user.login, user.password)).status).toBe(303);
      });

      it('success: other sessions and the refresh tokens end, this session goes on, the new password signs in and the old does not', async () => {
        const { browser, user } = await signedInBrowser(server, side);
        const { browser: elsewhere } = await signedInBrowser(server, side, user);
        const client = await newClient();
        const tokens = await tokensFor(elsewhere, user, client, 'api');
        const { csrf } = await page(browser, `${base}/password`);

        const changed = await changePassword(browser, csrf, user.password, NEW_PASSWORD);
        expect(changed.status).toBe(303);
        expect(changed.location).toBe(`${base}?done=password`);
        const { page: overview } = await page(browser, changed.location as string);
        expect(overview.body).toContain('<p class="notice" role="status">Your password was changed.');

        expectLoginRedirect(await elsewhere.get(base), side);
        expectTokenError(await refresh(client, tokens.refresh), 400, 'invalid_grant');
        expect((await apiGet(server.url, ownApiPath(side, user), tokens.access)).status).toBe(401);
        expect((await signIn(new TestBrowser(server.url), side, user.login, user.password)).status).toBe(401);
        const again = await signIn(new TestBrowser(server.url), side, user.login, NEW_PASSWORD);
        expect(again.status).toBe(303);
        expect(again.location).toBe(loginPathOf(side));

        const events = (await server.grantry.audit.list(CLI, { kind: 'user.password_changed', side, userId: user.id, page: 1, size: 10 })).items;
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ actor: user.login, details: { sessions_ended: 1, grants_revoked: 1 } });
        expect(JSON.stringify(events)).not.toContain(NEW_PASSWORD);
        expect(JSON.stringify(events)).not.toContain(user.password);
      });
    });
  });
});

describe.each(BACKENDS)('account password and the brute-force throttle (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { bruteForceMaxFailures: 2 });
  });
  afterAll(() => server?.close());

  it.each(SIDES)('%s: wrong current passwords count like failed sign-ins; once blocked, even the right one is refused (429), on the page and the login form', async (side) => {
    const base = accountPathOf(side);
    const { browser, user } = await signedInBrowser(server, side);
    const form = await browser.get(`${base}/password`);
    const csrf = formField(form.body, 'csrf_token') as string;
    const attempt = (current: string) => browser.post(`${base}/password`, { csrf_token: csrf, current_password: current, new_password: NEW_PASSWORD, confirm_password: NEW_PASSWORD });
    for (let i = 0; i < 2; i += 1) expect((await attempt(`wrong-guess-${i}`)).status).toBe(400);
    const blocked = await attempt(user.password);
    expectPage(blocked, 429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(alertText(blocked.body)).toMatch(/^Too many failed sign-in attempts\. Try again in \d+ minutes?\.$/);
    // The same count as the login form's for this login name and address.
    expect((await signIn(new TestBrowser(server.url), side, user.login, user.password)).status).toBe(429);
    const blocks = (await server.grantry.audit.list(CLI, { kind: 'signin.blocked', side, userId: user.id, page: 1, size: 10 })).items;
    expect(blocks.map((e) => e.details.via).sort()).toEqual(['login_form', 'password_change']);
    // The password is unchanged.
    const account = await server.grantry.repos.users.findLoginAccount(side, user.login);
    expect(await verifyPassword(user.password, account?.passwordHash)).toBe(true);
  });
});
