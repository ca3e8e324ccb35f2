/**
 * The account pages in a real Chromium, on both sides: a customer signs in at /account, allows
 * an application, finds it under Authorized applications and removes its access with the
 * keyboard alone; a back-office user changes their password by keyboard, after a refusal. Every
 * page passes axe-core with no serious or critical violation, says the side's product name and
 * never "Grantry", and is photographed at 1280 and 390 px under test-artifacts/account/ (not
 * committed). Runs when Chromium is installed.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_BACKENDS } from '../helpers/backends.js';
import { artifactsFolder, auditAndPhotograph, chromiumAvailable, newPageForAxe, tabTo, useChromiumAndClientApplication } from '../helpers/chromium.js';
import { authorizeUrl } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ARTIFACTS = artifactsFolder('account');
const NAMES = { storefront: 'Acme Store', backoffice: 'Acme Back Office' } as const;

describe.runIf(chromiumAvailable).each(BROWSER_BACKENDS)('the account pages in Chromium (%s)', { timeout: 120_000 }, (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(backend, { storefrontName: NAMES.storefront, backofficeName: NAMES.backoffice });
  });
  afterAll(async () => {
    await server?.close();
  });
  // Chromium, and the client application the flows end at (a loopback page that shows what it
  // received); registered after the server's hooks, so that the server outlives the browser.
  const chromium = useChromiumAndClientApplication();

  /**
   * An account page as a user sees it: one h1, a title with the side's product name, no trace of
   * the server's own name, axe-core's serious and critical violations (returned, so that a test
   * reports every page at once), and a full-page screenshot at 1280 and 390 px. The page must
   * come from newPageForAxe.
   */
  async function inspect(page: Page, side: keyof typeof NAMES, name: string): Promise<string[]> {
    expect(await page.locator('h1').count(), name).toBe(1);
    expect(await page.title(), name).toMatch(new RegExp(` · ${NAMES[side]}$`));
    expect(await page.content(), name).not.toMatch(/grantry/i);
    return auditAndPhotograph(page, ARTIFACTS, name, backend);
  }

  /** Goes to `target` unsigned, signs in on the login page it is sent to, and comes back. */
  async function signInAt(page: Page, target: string, login: string, password: string, loginPath: string) {
    await page.goto(server.url + target);
    expect(page.url()).toContain(`${loginPath}?return_to=`);
    await page.fill('#login', login);
    await page.fill('#password', password);
    await Promise.all([page.waitForURL((url) => url.pathname === target), page.click('button[type=submit]')]);
  }

  it('storefront: a customer allows an application, sees it under Authorized applications and removes its access with the keyboard', async () => {
    const customer = await server.createCustomerUser('robin@example.com');
    const { clientId } = await server.createClient({ side: 'storefront', name: 'Shop mobile app', redirectUris: [chromium.callback], grants: ['authorization_code', 'refresh_token'] });
    const page = await newPageForAxe(chromium.browser);
    const failures: string[] = [];

    await signInAt(page, '/account', customer.email, customer.password, '/oauth2-token/login');
    failures.push(...(await inspect(page, 'storefront', 'storefront-overview')));
    await page.goto(`${server.url}/account/applications`);
    expect(await page.locator('main').innerText()).toContain('No application has access to your account.');
    failures.push(...(await inspect(page, 'storefront', 'storefront-applications-empty')));

    // Allow the application on the consent page, as an application would send the customer there.
    await page.goto(server.url + authorizeUrl('storefront', { response_type: 'code', client_id: clientId, state: 'st', scope: 'read profile' }));
    await Promise.all([page.waitForURL((url) => url.href.startsWith(chromium.callback)), page.getByRole('button', { name: 'Allow' }).click()]);

    await page.goto(`${server.url}/account/applications`);
    const item = page.locator('ul.apps > li');
    expect(await item.count()).toBe(1);
    const text = await item.innerText();
    expect(text).toContain('Shop mobile app');
    expect(text).toContain('Read your data');
    expect(text).toContain('See your profile');
    expect(text).toMatch(/Allowed on \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    failures.push(...(await inspect(page, 'storefront', 'storefront-applications')));

    // By keyboard alone: Tab to the button (its accessible name names the application), Enter.
    await tabTo(page, 'Remove access for Shop mobile app');
    await Promise.all([page.waitForURL((url) => url.searchParams.get('done') === 'removed'), page.keyboard.press('Enter')]);
    expect(await page.locator('[role=status]').innerText()).toContain('Access removed.');
    expect(await page.locator('ul.apps > li').count()).toBe(0);
    failures.push(...(await inspect(page, 'storefront', 'storefront-applications-removed')));

    // The application has to ask again.
    await page.goto(server.url + authorizeUrl('storefront', { response_type: 'code', client_id: clientId, state: 'st', scope: 'read' }));
    expect(await page.getByRole('button', { name: 'Allow' }).count()).toBe(1);

    expect(failures).toEqual([]);
  });

  it('back office: a user changes their password with the keyboard after a refusal; other pages of the account pass too', async () => {
    const user = await server.createBackofficeUser('pat');
    const page = await newPageForAxe(chromium.browser);
    const failures: string[] = [];

    await signInAt(page, '/admin/account/password', user.username, user.password, '/admin/oauth2-token/login');
    failures.push(...(await inspect(page, 'backoffice', 'backoffice-password')));

    // A short new password: refused with the policy's reason, announced, and the field marked.
    await page.fill('#current_password', user.password);
    await page.fill('#new_password', 'too-short');
    await page.fill('#confirm_password', 'too-short');
    await Promise.all([page.waitForLoadState(), page.getByRole('button', { name: 'Change password' }).click()]);
    await page.waitForSelector('[role=alert]');
    expect(await page.locator('[role=alert]').innerText()).toBe('The password must have at least 12 characters.');
    expect(await page.getAttribute('#new_password', 'aria-invalid')).toBe('true');
    failures.push(...(await inspect(page, 'backoffice', 'backoffice-password-refused')));

    // By keyboard alone, from the top of the page.
    await page.goto(`${server.url}/admin/account/password`);
    await tabTo(page, 'current_password');
    await page.keyboard.type(user.password);
    await page.keyboard.press('Tab');
    await page.keyboard.type('tulip-harbour-quartz-7');
    await page.keyboard.press('Tab');
    await page.keyboard.type('tulip-harbour-quartz-7');
    await Promise.all([page.waitForURL((url) => url.searchParams.get('done') === 'password'), page.keyboard.press('Enter')]);
    expect(new URL(page.url()).pathname).toBe('/admin/account');
    expect(await page.locator('[role=status]').innerText()).toContain('Your password was changed.');
    failures.push(...(await inspect(page, 'backoffice', 'backoffice-overview-password-changed')));

    await page.goto(`${server.url}/admin/account/applications`);
    failures.push(...(await inspect(page, 'backoffice', 'backoffice-applications-empty')));

    // Sign out from the overview, by keyboard.
    await page.goto(`${server.url}/admin/account`);
    await tabTo(page, 'Sign out');
    await Promise.all([page.waitForURL((url) => url.pathname === '/admin/oauth2-token/login'), page.keyboard.press('Enter')]);
    await page.goto(`${server.url}/admin/account`);
    expect(page.url()).toContain('/admin/oauth2-token/login?return_to=%2Fadmin%2Faccount');
    expect(failures).toEqual([]);
  });
});
