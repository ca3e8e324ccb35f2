/**
 * The account pages in a real Chromium, on both sides: a customer signs in at /account, allows
 * an application, finds it under Authorized applications and removes its access with the
 * keyboard alone; a back-office user changes their password by keyboard, after a refusal. Every
 * page passes axe-core with no serious or critical violation, says the side's product name and
 * never "Grantry", and is photographed at 1280 and 390 px under test-artifacts/account/ (not
 * committed). Runs when Chromium is installed.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { authorizeUrl } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const CHROMIUM = process.env.GRANTRY_CHROMIUM ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available && process.env.GRANTRY_REQUIRE_BROWSER === '1') throw new Error(`GRANTRY_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM}`);
if (!available) process.stderr.write(`\nBrowser tests not run: no Chromium at ${CHROMIUM} (apt-get install -y chromium).\n`);

const ARTIFACTS = path.resolve('test-artifacts/account');
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const NAMES = { storefront: 'Acme Store', backoffice: 'Acme Back Office' } as const;

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

describe.runIf(available).each(BACKENDS)('the account pages in Chromium (%s)', { timeout: 120_000 }, (backend) => {
  let server: TestServer;
  let browser: Browser;
  let app: Server;
  let callback: string;

  beforeAll(async () => {
    server = await startTestServer(backend, { storefrontName: NAMES.storefront, backofficeName: NAMES.backoffice });
    app = createServer((request, response) => response.end(`received ${request.url}`));
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    callback = `http://127.0.0.1:${(app.address() as AddressInfo).port}/callback`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => app?.close(resolve));
    await server?.close();
  });

  /** A page whose context bypasses the CSP, so that axe can be injected (the pages still send theirs). */
  async function newPage(): Promise<Page> {
    const page = await (await browser.newContext({ bypassCSP: true })).newPage();
    page.setDefaultTimeout(10_000);
    return page;
  }

  /**
   * An account page as a user sees it: one h1, a title with the side's product name, no trace of
   * the server's own name, axe-core's serious and critical violations (returned, so that a test
   * reports every page at once), and a full-page screenshot at 1280 and 390 px.
   */
  async function inspect(page: Page, side: keyof typeof NAMES, name: string): Promise<string[]> {
    const failures: string[] = [];
    expect(await page.locator('h1').count(), name).toBe(1);
    expect(await page.title(), name).toMatch(new RegExp(` · ${NAMES[side]}$`));
    expect(await page.content(), name).not.toMatch(/grantry/i);
    await page.addScriptTag({ content: AXE_SOURCE });
    const violations = (await page.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
      return (await axe.run()).violations;
    })) as AxeViolation[];
    for (const v of violations.filter((x) => x.impact === 'serious' || x.impact === 'critical')) {
      failures.push(`${name}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    }
    const size = page.viewportSize();
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width === 1280 ? 800 : 844 });
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${width}.png`), fullPage: true });
    }
    if (size) await page.setViewportSize(size);
    return failures;
  }

  /** Presses Tab until the focused element's text or label is `name` (at most 40 times); fails otherwise. */
  async function tabTo(page: Page, name: string): Promise<void> {
    for (let i = 0; i < 40; i += 1) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const element = (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null; textContent: string | null; id: string } | null } }).document.activeElement;
        return element ? [element.getAttribute('aria-label') ?? '', (element.textContent ?? '').trim(), element.id] : [];
      });
      if (focused.includes(name)) return;
    }
    throw new Error(`"${name}" cannot be reached with the Tab key`);
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
    const { clientId } = await server.createClient({ side: 'storefront', name: 'Shop mobile app', redirectUris: [callback], grants: ['authorization_code', 'refresh_token'] });
    const page = await newPage();
    const failures: string[] = [];

    await signInAt(page, '/account', customer.email, customer.password, '/oauth2-token/login');
    failures.push(...(await inspect(page, 'storefront', 'storefront-overview')));
    await page.goto(`${server.url}/account/applications`);
    expect(await page.locator('main').innerText()).toContain('No application has access to your account.');
    failures.push(...(await inspect(page, 'storefront', 'storefront-applications-empty')));

    // Allow the application on the consent page, as an application would send the customer there.
    await page.goto(server.url + authorizeUrl('storefront', { response_type: 'code', client_id: clientId, state: 'st', scope: 'read profile' }));
    await Promise.all([page.waitForURL((url) => url.href.startsWith(callback)), page.getByRole('button', { name: 'Allow' }).click()]);

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
    const page = await newPage();
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
