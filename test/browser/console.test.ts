/**
 * The console in a real Chromium, on one server whose tests run in order: an admin creates
 * applications (a confidential back-office one with skip consent, a public storefront one with
 * PKCE) and a customer, and each completes the authorization code flow and calls its API;
 * deactivation and a regenerated secret take effect at once; a non-admin manages only their own
 * applications; the audit trail shows all of it and holds no secret. Every console page passes
 * axe-core with no serious or critical violation and is photographed at desktop and phone width
 * under test-artifacts/console/ (not committed). Runs when Chromium is installed.
 */
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { CLI } from '../../src/management/principal.js';
import { apiGet, authorizeUrl, pkcePair, tokenRequest } from '../helpers/oauth.js';
import { BROWSER_BACKENDS } from '../helpers/backends.js';
import { artifactsFolder, auditAndPhotograph, chromiumAvailable, newPageForAxe, useChromiumAndClientApplication } from '../helpers/chromium.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

const ARTIFACTS = artifactsFolder('console');
const BASE = '/admin/console';

/** The few DOM calls the tests make in the page (tsconfig has no DOM library; functions run in the page, so no helper). */
interface PageElement {
  querySelector(selector: string): PageElement;
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
  insertAdjacentHTML(position: 'beforeend', markup: string): void;
  remove(): void;
}

describe.runIf(chromiumAvailable).each(BROWSER_BACKENDS)('the console in Chromium (%s)', { timeout: 120_000 }, (backend) => {
  let server: TestServer;
  /** Every secret, password, code and token the flows below use: none may reach the audit trail. */
  const secrets: string[] = [ADMIN_PASSWORD];
  /** What the flows did, for the audit trail test at the end (the tests of this file run in order). */
  const done: { publicClientId?: string; regeneratedClientId?: string; caseyClientId?: string } = {};

  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(async () => {
    await server?.close();
  });
  // Chromium, and the client application the flows end at (a loopback page that shows what it
  // received); registered after the server's hooks, so that the server outlives the browser.
  const chromium = useChromiumAndClientApplication();

  async function signInAt(page: Page, target: string, login: string, password: string) {
    page.setDefaultTimeout(10_000);
    await page.goto(server.url + target);
    // Not signed in: the back-office login page, which brings us back.
    expect(page.url()).toContain('/admin/oauth2-token/login?return_to=');
    await page.fill('#login', login);
    await page.fill('#password', password);
    await Promise.all([page.waitForURL((url) => url.pathname.startsWith(BASE)), page.click('button[type=submit]')]);
  }

  /**
   * A console page as a user sees it: one h1 and a title saying where they are, axe-core's
   * serious and critical violations (returned, so a test reports every page at once), and a
   * full-page screenshot at 1280 and 390 px. The page must come from newPageForAxe.
   */
  async function inspect(page: Page, name: string): Promise<string[]> {
    expect(await page.locator('h1').count(), name).toBe(1);
    expect(await page.title(), name).toMatch(/ · Console · Back office$/);
    return auditAndPhotograph(page, ARTIFACTS, name, backend);
  }

  it('an admin creates a confidential application with skip consent; its secret, read from the page, completes the code flow', async () => {
    const page = await (await chromium.browser.newContext()).newPage();
    await signInAt(page, `${BASE}/applications/new`, 'admin', ADMIN_PASSWORD);
    expect(await page.title()).toBe('New application · Console · Back office');
    await page.check('#side-backoffice');
    await page.check('#type-confidential');
    await page.fill('#name', 'Reporting app');
    await page.check('#grant-authorization_code');
    await page.fill('#redirect_uris', chromium.callback);
    await page.check('#scope-api');
    await page.check('#skip_consent');
    await page.getByRole('button', { name: 'Create application' }).click();
    await page.waitForSelector('#client-secret');
    expect(await page.title()).toBe('Reporting app created · Console · Back office');
    // The copy button is shown by the script file (allowed by the console's CSP).
    await expect.poll(() => page.locator('button[data-copy]').isVisible()).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'secret-1280.png'), fullPage: true });
    const clientId = (await page.locator('#client-id').innerText()).trim();
    const secret = (await page.locator('#client-secret').innerText()).trim();
    secrets.push(secret);

    // Already signed in on the back office, and consent skipped: straight back to the app.
    await page.goto(server.url + authorizeUrl('backoffice', { response_type: 'code', client_id: clientId, state: 'st-c', scope: 'api' }));
    await page.waitForURL((url) => url.href.startsWith(chromium.callback));
    const code = new URL(page.url()).searchParams.get('code') as string;
    const token = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: clientId, client_secret: secret, code });
    expect(token.status).toBe(200);
    const users = await apiGet(server.url, '/admin/api/users', token.json.access_token as string);
    expect(users.status).toBe(200);

    // The secret never appears again.
    await page.goto(`${server.url}${BASE}/applications/${clientId}`);
    expect(await page.content()).not.toContain(secret);
  });

  it('every console page passes axe-core (no serious or critical violation) and is photographed at 1280 and 390 px', async () => {
    const user = await server.createBackofficeUser('pat');
    const customer = await server.createCustomerUser('walker@example.com');
    const { clientId } = await server.createClient({ side: 'storefront', name: 'Shop app', redirectUris: [chromium.callback] });
    const page = await newPageForAxe(chromium.browser);
    await signInAt(page, `${BASE}/applications`, 'admin', ADMIN_PASSWORD);
    const pages: Array<[string, string]> = [
      ['applications', `${BASE}/applications`],
      ['application-new', `${BASE}/applications/new`],
      ['application', `${BASE}/applications/${clientId}`],
      ['application-edit', `${BASE}/applications/${clientId}/edit`],
      ['application-delete', `${BASE}/applications/${clientId}/delete`],
      ['application-revoke', `${BASE}/applications/${clientId}/revoke-tokens`],
      ['application-regenerate', `${BASE}/applications/${clientId}/regenerate-secret`],
      ['my-applications', `${BASE}/my/applications`],
      ['my-application-new', `${BASE}/my/applications/new`],
      ['users-backoffice', `${BASE}/users?side=backoffice`],
      ['users-storefront', `${BASE}/users?side=storefront`],
      ['user-new', `${BASE}/users/new?side=backoffice`],
      ['user', `${BASE}/users/backoffice/${user.id}`],
      ['customer', `${BASE}/users/storefront/${customer.id}`],
      ['user-password', `${BASE}/users/backoffice/${user.id}/password`],
      ['user-delete', `${BASE}/users/storefront/${customer.id}/delete`],
      ['keys', `${BASE}/keys`],
      ['audit', `${BASE}/audit`],
      ['profile', `${BASE}/profile`],
      ['not-found', `${BASE}/applications/no-such-client`],
    ];
    const failures: string[] = [];
    for (const [name, url] of pages) {
      await page.goto(server.url + url);
      failures.push(...(await inspect(page, name)));
    }
    // A form with an error, as the admin sees it after a mistake.
    await page.goto(`${server.url}${BASE}/applications/new`);
    await page.fill('#name', 'Broken');
    await page.fill('#redirect_uris', 'http://not-https.example/cb');
    await page.getByRole('button', { name: 'Create application' }).click();
    await page.waitForSelector('.field-error');
    failures.push(...(await inspect(page, 'application-new-error')));
    // A non-admin's 403 page.
    const other = await newPageForAxe(chromium.browser);
    await other.goto(`${server.url}/admin/oauth2-token/login`);
    await other.fill('#login', user.username);
    await other.fill('#password', user.password);
    await Promise.all([other.waitForLoadState(), other.click('button[type=submit]')]);
    const forbidden = await other.goto(`${server.url}${BASE}/users`);
    expect(forbidden?.status()).toBe(403);
    expect(failures).toEqual([]);
  });
  /** Creates an application on the console's form (admin list or My applications); returns its page. */
  async function createApplication(
    page: Page,
    root: string,
    input: { side?: 'backoffice' | 'storefront'; type: 'confidential' | 'public'; name: string; skipConsent?: boolean; scopes?: string[] },
  ): Promise<{ clientId: string; secret: string | undefined }> {
    await page.goto(`${server.url}${root}/new`);
    if (input.side) await page.check(`#side-${input.side}`);
    await page.check(`#type-${input.type}`);
    await page.fill('#name', input.name);
    await page.check('#grant-authorization_code');
    await page.fill('#redirect_uris', chromium.callback);
    // The form's ids spell a scope's other characters (users:read) as _.
    for (const scope of input.scopes ?? ['api']) await page.check(`#scope-${scope.replace(/[^A-Za-z0-9_-]/g, '_')}`);
    if (input.skipConsent) await page.check('#skip_consent');
    await Promise.all([page.waitForLoadState(), page.getByRole('button', { name: 'Create application' }).click()]);
    if (input.type === 'public') {
      // No secret to show: straight to the application's page, which says it was created.
      await page.waitForURL((url) => url.searchParams.get('done') === 'created');
      await expect.poll(() => page.locator('.notice').innerText()).toBe('Application created.');
      return { clientId: decodeURIComponent(new URL(page.url()).pathname.split('/').pop() as string), secret: undefined };
    }
    await page.waitForSelector('#client-secret');
    const secret = (await page.locator('#client-secret').innerText()).trim();
    secrets.push(secret);
    return { clientId: (await page.locator('#client-id').innerText()).trim(), secret };
  }

  /** A code for `clientId` in a browser already signed in on the back office, for a skip-consent client. */
  async function backofficeCode(page: Page, clientId: string): Promise<string> {
    await page.goto(server.url + authorizeUrl('backoffice', { response_type: 'code', client_id: clientId, state: 'st', scope: 'api' }));
    await page.waitForURL((url) => url.href.startsWith(chromium.callback));
    const code = new URL(page.url()).searchParams.get('code') as string;
    secrets.push(code);
    return code;
  }

  it('an admin creates a public storefront application with PKCE and a customer in the console; the customer completes the code flow and the app calls the storefront API', async () => {
    const admin = await newPageForAxe(chromium.browser);
    await signInAt(admin, `${BASE}/users/new?side=storefront`, 'admin', ADMIN_PASSWORD);
    const failures: string[] = [];
    // The customer, with a password generated by the console and shown once.
    await admin.fill('#email', 'robin@example.com');
    await admin.fill('#first_name', 'Robin');
    await admin.fill('#last_name', 'Shopper');
    expect(await admin.isChecked('#generate')).toBe(true);
    await Promise.all([admin.waitForLoadState(), admin.getByRole('button', { name: 'Create user' }).click()]);
    await admin.waitForSelector('#new-password');
    expect(await admin.title()).toBe('robin@example.com · Console · Back office');
    const password = (await admin.locator('#new-password').innerText()).trim();
    secrets.push(password);
    expect(password.length).toBeGreaterThanOrEqual(12);
    failures.push(...(await inspect(admin, 'customer-created')));

    const app = await createApplication(admin, `${BASE}/applications`, { side: 'storefront', type: 'public', name: 'Shop mobile app', scopes: ['profile', 'users:read'] });
    done.publicClientId = app.clientId;
    expect(app.secret).toBeUndefined();
    expect(await admin.locator('main').innerText()).toContain('Storefront');
    expect(await admin.locator('main').innerText()).not.toContain('Regenerate secret');
    failures.push(...(await inspect(admin, 'application-public-created')));

    // The customer, in a browser of their own: storefront login, consent, back to the app.
    const customer = await (await chromium.browser.newContext()).newPage();
    customer.setDefaultTimeout(10_000);
    const { verifier, challenge } = pkcePair();
    secrets.push(verifier);
    await customer.goto(server.url + authorizeUrl('storefront', { response_type: 'code', client_id: app.clientId, state: 'st-shop', scope: 'profile users:read', code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(new URL(customer.url()).pathname).toBe('/oauth2-token/login');
    await customer.fill('#login', 'robin@example.com');
    await customer.fill('#password', password);
    await Promise.all([customer.waitForURL(/\/oauth2-token\/authorize\?/), customer.click('button[type=submit]')]);
    expect(await customer.content()).toContain('Shop mobile app');
    await Promise.all([customer.waitForURL((url) => url.href.startsWith(chromium.callback)), customer.click('button[value=allow]')]);
    const back = new URL(customer.url());
    expect(back.searchParams.get('state')).toBe('st-shop');
    const code = back.searchParams.get('code') as string;
    secrets.push(code);

    // A public client has no secret: the verifier proves it is the app that asked.
    const withoutVerifier = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: app.clientId, code });
    expect(withoutVerifier.status).toBe(400);
    // prompt=consent: the consent given above is remembered, which would skip the page.
    const again = await customer.goto(server.url + authorizeUrl('storefront', { response_type: 'code', client_id: app.clientId, state: 'st-2', scope: 'profile users:read', code_challenge: challenge, code_challenge_method: 'S256', prompt: 'consent' }));
    expect(again?.status()).toBe(200);
    await Promise.all([customer.waitForURL((url) => url.href.startsWith(chromium.callback)), customer.click('button[value=allow]')]);
    const code2 = new URL(customer.url()).searchParams.get('code') as string;
    secrets.push(code2);
    const token = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: app.clientId, code: code2, code_verifier: verifier });
    expect(token.status).toBe(200);
    // users:read, which the storefront API needs for /customerusers/mine.
    expect(token.json.scope).toBe('profile users:read');
    secrets.push(token.json.access_token as string);
    const mine = await apiGet(server.url, '/api/customerusers/mine', token.json.access_token as string);
    expect(mine.status).toBe(200);
    expect(JSON.stringify(mine.json)).toContain('robin@example.com');
    // A storefront token is no back-office token.
    expect((await apiGet(server.url, '/admin/api/users', token.json.access_token as string)).status).toBe(401);
    expect(failures).toEqual([]);
  });

  it('deactivating an application in the console stops its token at once; regenerating its secret makes the old one fail and the new one work', async () => {
    const page = await newPageForAxe(chromium.browser);
    await signInAt(page, `${BASE}/applications`, 'admin', ADMIN_PASSWORD);
    const failures: string[] = [];
    const app = await createApplication(page, `${BASE}/applications`, { side: 'backoffice', type: 'confidential', name: 'Warehouse sync', skipConsent: true });
    done.regeneratedClientId = app.clientId;
    const oldSecret = app.secret as string;
    const first = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: app.clientId, client_secret: oldSecret, code: await backofficeCode(page, app.clientId) });
    expect(first.status).toBe(200);
    const access = first.json.access_token as string;
    secrets.push(access);
    expect((await apiGet(server.url, '/admin/api/users', access)).status).toBe(200);

    // Deactivate: the same token is refused on its very next request.
    await page.goto(`${server.url}${BASE}/applications/${app.clientId}`);
    await Promise.all([page.waitForURL((url) => url.searchParams.get('done') === 'deactivated'), page.getByRole('button', { name: 'Deactivate' }).click()]);
    expect(await page.locator('.notice').innerText()).toBe('Application deactivated: its tokens stop working at once.');
    expect(await page.locator('main .badge').first().innerText()).toBe('inactive');
    failures.push(...(await inspect(page, 'application-deactivated')));
    const refused = await apiGet(server.url, '/admin/api/users', access);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('invalid_token');

    // Activate again (the token works again), then regenerate the secret.
    await Promise.all([page.waitForURL((url) => url.searchParams.get('done') === 'activated'), page.getByRole('button', { name: 'Activate' }).click()]);
    expect((await apiGet(server.url, '/admin/api/users', access)).status).toBe(200);
    await page.getByRole('link', { name: 'Regenerate secret' }).click();
    await page.waitForURL((url) => url.pathname.endsWith('/regenerate-secret'));
    expect(await page.title()).toBe('Regenerate the secret of Warehouse sync? · Console · Back office');
    await Promise.all([page.waitForSelector('#client-secret'), page.getByRole('button', { name: 'Regenerate secret' }).click()]);
    expect(await page.title()).toBe('New secret for Warehouse sync · Console · Back office');
    const newSecret = (await page.locator('#client-secret').innerText()).trim();
    secrets.push(newSecret);
    expect(newSecret).not.toBe(oldSecret);
    failures.push(...(await inspect(page, 'application-secret-regenerated')));

    const withOld = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: app.clientId, client_secret: oldSecret, code: await backofficeCode(page, app.clientId) });
    expect(withOld.status).toBe(401);
    expect(withOld.json.error).toBe('invalid_client');
    const withNew = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: app.clientId, client_secret: newSecret, code: await backofficeCode(page, app.clientId) });
    expect(withNew.status).toBe(200);
    secrets.push(withNew.json.access_token as string);
    expect((await apiGet(server.url, '/admin/api/users', withNew.json.access_token as string)).status).toBe(200);
    // The new secret is not on the application's page.
    await page.goto(`${server.url}${BASE}/applications/${app.clientId}`);
    expect(await page.content()).not.toContain(newSecret);
    expect(failures).toEqual([]);
  });

  it("a non-admin back-office user creates an application under My applications, gets 403 on admin pages and 404 on another user's application, also by editing URLs and forms", async () => {
    const admin = await (await chromium.browser.newContext()).newPage();
    await signInAt(admin, `${BASE}/users/new?side=backoffice`, 'admin', ADMIN_PASSWORD);
    const password = 'casey-typed-password-7';
    secrets.push(password);
    await admin.fill('#username', 'casey');
    await admin.fill('#email', 'casey@example.com');
    await admin.check('#type-password');
    await admin.fill('#password', password);
    expect(await admin.isChecked('#is_admin')).toBe(false);
    await Promise.all([admin.waitForURL((url) => url.searchParams.get('done') === 'created'), admin.getByRole('button', { name: 'Create user' }).click()]);
    expect(await admin.locator('main').innerText()).not.toContain(password);

    // Another non-admin's application, which casey must not reach.
    const dana = await server.createBackofficeUser('dana');
    secrets.push(dana.password);
    const danaCtx = { principal: { kind: 'user' as const, side: 'backoffice' as const, userId: dana.id, isAdmin: false, label: 'dana' } };
    const { client: danas } = await server.grantry.clients.create(danaCtx, { side: 'backoffice', name: 'Dana private app', type: 'public', grants: ['authorization_code'], redirectUris: [chromium.callback] });

    const page = await newPageForAxe(chromium.browser);
    await signInAt(page, BASE, 'casey', password);
    // The console's start page of a non-admin is their own applications; the navigation has nothing else.
    expect(new URL(page.url()).pathname).toBe(`${BASE}/my/applications`);
    expect(await page.locator('nav[aria-label=Console] a').allInnerTexts()).toEqual(['My applications', 'Profile']);
    const failures: string[] = [];
    failures.push(...(await inspect(page, 'nonadmin-my-applications-empty')));

    // Creating one: an owner id slipped into the form changes nothing, the application is casey's.
    await page.goto(`${server.url}${BASE}/my/applications/new`);
    expect(await page.locator('#owner').count()).toBe(0);
    expect(await page.locator('#side-storefront').count()).toBe(0);
    await page.evaluate((owner) => {
      const form = (globalThis as unknown as { document: PageElement }).document.querySelector('main form');
      form.querySelector('input[name=side]').remove();
      form.insertAdjacentHTML('beforeend', `<input type="hidden" name="owner" value="${owner}"><input type="hidden" name="side" value="storefront">`);
    }, String(dana.id));
    const app = await createApplicationOnOpenForm(page, 'Casey reports');
    done.caseyClientId = app.clientId;
    const stored = await server.grantry.clients.get(CLI, app.clientId);
    expect(stored).toMatchObject({ ownerUserId: (await server.grantry.users.get(CLI, 'backoffice', 'casey')).id, side: 'backoffice', name: 'Casey reports' });
    await page.goto(`${server.url}${BASE}/my/applications`);
    const listed = await page.locator('main table').innerText();
    expect(listed).toContain('Casey reports');
    expect(listed).not.toContain('Dana private app');
    failures.push(...(await inspect(page, 'nonadmin-my-applications')));
    await page.goto(`${server.url}${BASE}/my/applications?q=${encodeURIComponent(danas.clientId)}`);
    expect(await page.locator('main').innerText()).toContain('No application matches.');

    // Admin pages: 403, whatever the path.
    for (const target of ['/applications', '/applications/new', `/applications/${danas.clientId}`, '/users', '/users?side=storefront', '/users/new', '/keys', '/audit']) {
      const response = await page.goto(`${server.url}${BASE}${target}`);
      expect(response?.status(), target).toBe(403);
      expect(await page.locator('h1').innerText()).toBe('Not allowed');
    }
    failures.push(...(await inspect(page, 'nonadmin-forbidden')));

    // Another user's application, its id typed into the URL: 404, as if it did not exist.
    for (const suffix of ['', '/edit', '/delete', '/revoke-tokens', '/regenerate-secret']) {
      const response = await page.goto(`${server.url}${BASE}/my/applications/${danas.clientId}${suffix}`);
      expect(response?.status(), suffix).toBe(404);
      expect(await page.content()).not.toContain('Dana private app');
    }
    // The admin's storefront application too.
    expect((await page.goto(`${server.url}${BASE}/my/applications/${done.publicClientId ?? 'none'}`))?.status()).toBe(404);
    failures.push(...(await inspect(page, 'nonadmin-not-found')));

    // Own forms pointed at another user's application: 404, nothing changed.
    const submitTo = async (from: string, selector: string, button: string) => {
      await page.goto(`${server.url}${BASE}/my/applications/${from}`);
      await page.evaluate(
        ([sel, own, other]) => {
          const form = (globalThis as unknown as { document: PageElement }).document.querySelector(sel as string);
          form.setAttribute('action', (form.getAttribute('action') as string).replace(own as string, other as string));
        },
        [selector, app.clientId, danas.clientId],
      );
      const [response] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: button }).click()]);
      return response?.status();
    };
    expect(await submitTo(app.clientId, `form[action$="/${app.clientId}/active"]`, 'Deactivate')).toBe(404);
    expect(await submitTo(`${app.clientId}/edit`, 'main form', 'Save changes')).toBe(404);
    expect(await submitTo(`${app.clientId}/delete`, 'main form', 'Delete application')).toBe(404);
    expect(await submitTo(`${app.clientId}/regenerate-secret`, 'main form', 'Regenerate secret')).toBe(404);
    expect(await server.grantry.clients.get(CLI, danas.clientId)).toMatchObject({ name: 'Dana private app', active: true, ownerUserId: dana.id });

    // Casey's own application works with the same forms.
    await page.goto(`${server.url}${BASE}/my/applications/${app.clientId}/edit`);
    await page.fill('#name', 'Casey weekly reports');
    await Promise.all([page.waitForURL((url) => url.searchParams.get('done') === 'saved'), page.getByRole('button', { name: 'Save changes' }).click()]);
    expect(await page.locator('h1').innerText()).toBe('Casey weekly reports');
    expect(failures).toEqual([]);

    /** Fills and sends the create form already open on `page` (My applications: no side or owner). */
    async function createApplicationOnOpenForm(p: Page, name: string) {
      await p.check('#type-confidential');
      await p.fill('#name', name);
      await p.check('#grant-authorization_code');
      await p.fill('#redirect_uris', chromium.callback);
      await Promise.all([p.waitForSelector('#client-secret'), p.getByRole('button', { name: 'Create application' }).click()]);
      const secret = (await p.locator('#client-secret').innerText()).trim();
      secrets.push(secret);
      return { clientId: (await p.locator('#client-id').innerText()).trim(), secret };
    }
  });

  it('the audit trail page shows the events of these flows, and neither the page nor the audit_events rows hold a secret or password', async () => {
    expect(done.publicClientId && done.regeneratedClientId && done.caseyClientId, 'the flows above ran').toBeTruthy();
    const page = await newPageForAxe(chromium.browser);
    await signInAt(page, `${BASE}/audit`, 'admin', ADMIN_PASSWORD);
    const failures: string[] = [];
    failures.push(...(await inspect(page, 'audit-after-flows')));
    const eventsOf = async (query: Record<string, string>) => {
      await page.goto(`${server.url}${BASE}/audit?${new URLSearchParams(query)}`);
      const rows = await page.locator('main table tbody tr').allInnerTexts();
      return rows.map((r) => r.replace(/\s+/g, ' '));
    };
    // Sign-ins of the admin and of casey (console) and of the customer (storefront), by user id.
    const idOf = async (side: 'backoffice' | 'storefront', ref: string) => (await server.grantry.users.get(CLI, side, ref)).id;
    for (const [side, ref] of [['backoffice', 'admin'], ['backoffice', 'casey'], ['storefront', 'robin@example.com']] as const) {
      const events = await eventsOf({ kind: 'signin.succeeded', side, user: String(await idOf(side, ref)) });
      expect(events.length, ref).toBeGreaterThanOrEqual(1);
      expect(events[0]).toContain('via=login_form');
    }
    // The customer's consent and the tokens issued to the public app; the regenerated app's tokens.
    expect((await eventsOf({ kind: 'consent.granted', client: done.publicClientId as string })).length).toBeGreaterThanOrEqual(1);
    const issued = await eventsOf({ kind: 'token.issued', client: done.publicClientId as string });
    expect(issued).toHaveLength(1);
    expect(issued[0]).toContain('grant_type=authorization_code');
    // Two: before the regeneration and with the new secret (the old one got none).
    expect((await eventsOf({ kind: 'token.issued', client: done.regeneratedClientId as string })).length).toBe(2);
    // Management actions, with who did them.
    const created = (await eventsOf({ kind: 'client.created' })).join('\n');
    for (const id of [done.publicClientId, done.regeneratedClientId, done.caseyClientId]) expect(created).toContain(id);
    expect((await eventsOf({ kind: 'client.created', client: done.caseyClientId as string }))[0]).toContain('casey');
    expect((await eventsOf({ kind: 'client.secret_regenerated', client: done.regeneratedClientId as string }))[0]).toContain('admin');
    expect(await eventsOf({ kind: 'client.deactivated', client: done.regeneratedClientId as string })).toHaveLength(1);
    expect(await eventsOf({ kind: 'client.activated', client: done.regeneratedClientId as string })).toHaveLength(1);
    expect((await eventsOf({ kind: 'user.created' })).join('\n')).toContain('admin');
    failures.push(...(await inspect(page, 'audit-filtered')));

    // No secret on any page of the trail (newest first, paged), nor in any stored row.
    await page.goto(`${server.url}${BASE}/audit`);
    let shown = '';
    for (let n = 0; n < 50; n++) {
      shown += await page.content();
      const next = page.locator('a[rel=next]');
      if ((await next.count()) === 0) break;
      await Promise.all([page.waitForLoadState(), next.click()]);
    }
    await server.grantry.audit.flush();
    const rows = (await sql<Record<string, unknown>>`select * from audit_events`.execute(server.grantry.database.db)).rows;
    expect(rows.length).toBeGreaterThan(20);
    const stored = JSON.stringify(rows);
    expect(shown).toContain(done.caseyClientId);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThanOrEqual(12);
      expect(shown.includes(secret), `a secret of ${secret.length} characters is on the audit trail page`).toBe(false);
      expect(stored.includes(secret), `a secret of ${secret.length} characters is in audit_events`).toBe(false);
    }
    expect(failures).toEqual([]);
  });
});
