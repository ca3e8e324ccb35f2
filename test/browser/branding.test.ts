/**
 * Branding in a real Chromium (issue 8 item 3), on a server with storefront_name "Acme Store",
 * backoffice_name "Acme Back Office", a logo on another origin and a teal accent colour: every
 * end-user page (and a console page) shows its side's name, never the server's own name, in its
 * text, title or source; passes axe-core with no serious or critical violation; and is
 * photographed at 1280 and 390 px under test-artifacts/branding/ (not committed). The logo and
 * the accent colour are checked in a context that enforces the pages' CSP. Runs when Chromium
 * is installed.
 */
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { BROWSER_BACKENDS } from '../helpers/backends.js';
import { artifactsFolder, auditAndPhotograph, chromiumAvailable, launchChromium } from '../helpers/chromium.js';
import { authorizeUrl } from '../helpers/oauth.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

const ARTIFACTS = artifactsFolder('branding');

const NAMES: Record<SideName, string> = { storefront: 'Acme Store', backoffice: 'Acme Back Office' };
const LOGO_URL = 'https://cdn.acme.example/brand/logo.svg';
const ACCENT = '#0f766e';
/** The logo Chromium is given for LOGO_URL (the test has no network): a mark and a word. */
const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="168" height="40" viewBox="0 0 168 40">
<rect x="2" y="4" width="32" height="32" rx="8" fill="${ACCENT}"/><path d="M10 30 18 10 26 30M13 23h10" stroke="#fff" stroke-width="3" fill="none"/>
<text x="44" y="28" font-family="sans-serif" font-size="22" font-weight="700" fill="#111827">ACME</text></svg>`;

/** Who a page is seen by: nobody signed in, a signed-in customer, or the back-office admin. */
type Visitor = 'anonymous' | 'customer' | 'admin';

/** What the tests create first, which some pages' addresses need. */
interface Fixtures {
  clientId: string;
}

/**
 * The pages to check, one line each: name (of the screenshot), the side whose name it must show,
 * who looks at it, its address, and text its main content must hold.
 */
const PAGES: Array<{ name: string; side: SideName; as: Visitor; url: (f: Fixtures) => string; shows?: string; status?: number }> = [
  { name: 'storefront-login', side: 'storefront', as: 'anonymous', url: (f) => authorizeUrl('storefront', { response_type: 'code', client_id: f.clientId, state: 's' }), shows: 'Sign in to continue to Reporting app' },
  { name: 'consent', side: 'storefront', as: 'customer', url: (f) => authorizeUrl('storefront', { response_type: 'code', client_id: f.clientId, scope: 'profile', state: 's' }), shows: 'Reporting app wants to access your account' },
  { name: 'signed-in', side: 'storefront', as: 'customer', url: () => '/oauth2-token/login', shows: 'You are signed in as shopper@example.com' },
  { name: 'error-known-client', side: 'storefront', as: 'anonymous', url: (f) => authorizeUrl('storefront', { response_type: 'code', client_id: f.clientId, redirect_uri: 'https://elsewhere.example/cb' }), shows: 'This link to sign in to Reporting app is not valid', status: 400 },
  { name: 'error-unknown-client', side: 'storefront', as: 'anonymous', url: () => authorizeUrl('storefront', { response_type: 'code', client_id: 'no-such-app' }), shows: 'This link to sign in is not valid', status: 400 },
  { name: 'not-found', side: 'storefront', as: 'anonymous', url: () => '/no-such-page', shows: 'There is nothing at this address', status: 404 },
  { name: 'backoffice-login', side: 'backoffice', as: 'anonymous', url: () => '/admin/oauth2-token/login', shows: 'Username or email' },
  { name: 'console', side: 'backoffice', as: 'admin', url: () => '/admin/console/applications', shows: 'Reporting app' },
  { name: 'account', side: 'storefront', as: 'customer', url: () => '/account', shows: 'You are signed in as shopper@example.com' },
  { name: 'backoffice-account-password', side: 'backoffice', as: 'admin', url: () => '/admin/account/password', shows: 'Current password' },
];

describe.runIf(chromiumAvailable).each(BROWSER_BACKENDS)('branding in Chromium (%s)', { timeout: 120_000 }, (backend) => {
  let server: TestServer;
  let browser: Browser;
  const fixtures: Fixtures = { clientId: '' };
  /** One browser context per visitor, signed in as that visitor; each bypasses the CSP so axe can be injected. */
  const contexts = new Map<Visitor, BrowserContext>();

  /** A context that answers the logo's address itself (there is no network here). */
  async function newContext(options: { bypassCSP: boolean }): Promise<BrowserContext> {
    const context = await browser.newContext(options);
    await context.route(`${new URL(LOGO_URL).origin}/**`, (route) => route.fulfill({ status: 200, contentType: 'image/svg+xml', body: LOGO_SVG }));
    return context;
  }

  async function signIn(context: BrowserContext, loginPath: string, login: string, password: string) {
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(server.url + loginPath);
    await page.fill('#login', login);
    await page.fill('#password', password);
    await Promise.all([page.waitForURL((url) => url.pathname === loginPath && !url.search), page.click('button[type=submit]')]);
    expect(await page.locator('h1').innerText()).toBe('Signed in');
    await page.close();
  }

  beforeAll(async () => {
    server = await startTestServer(backend, { storefrontName: NAMES.storefront, backofficeName: NAMES.backoffice, logoUrl: LOGO_URL, accentColor: ACCENT });
    const customer = await server.createCustomerUser('shopper@example.com');
    fixtures.clientId = (await server.createClient({ side: 'storefront', name: 'Reporting app' })).clientId;
    browser = await launchChromium();
    for (const visitor of ['anonymous', 'customer', 'admin'] as const) contexts.set(visitor, await newContext({ bypassCSP: true }));
    await signIn(contexts.get('customer') as BrowserContext, '/oauth2-token/login', customer.email, customer.password);
    await signIn(contexts.get('admin') as BrowserContext, '/admin/oauth2-token/login', 'admin', ADMIN_PASSWORD);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('every page shows its side\'s name and never the server\'s own, passes axe-core, and is photographed at 1280 and 390 px', async () => {
    const failures: string[] = [];
    for (const entry of PAGES) {
      const page = await (contexts.get(entry.as) as BrowserContext).newPage();
      page.setDefaultTimeout(10_000);
      const response = await page.goto(server.url + entry.url(fixtures));
      expect(response?.status(), entry.name).toBe(entry.status ?? 200);
      await page.waitForLoadState('load');
      const name = NAMES[entry.side];
      const title = await page.title();
      expect(title, entry.name).toMatch(new RegExp(` · ${name}$`));
      expect(title, entry.name).not.toMatch(/grantry/i);
      const content = await page.content();
      expect(content, entry.name).not.toMatch(/grantry/i);
      expect(content, entry.name).toContain(name);
      // The name is what a screen reader hears at the top: the logo's alt text, or the console's header.
      const logo = page.locator('header img.logo');
      if (entry.name === 'console') expect(await page.locator('header .brand').innerText(), entry.name).toContain(name);
      else expect(await logo.getAttribute('alt'), entry.name).toBe(name);
      if (entry.shows) expect(await page.locator('main').innerText(), entry.name).toContain(entry.shows);
      expect(await page.locator('h1').count(), entry.name).toBe(1);
      failures.push(...(await auditAndPhotograph(page, ARTIFACTS, entry.name, backend)));
      await page.close();
    }
    expect(failures).toEqual([]);
  });

  it('with the CSP enforced, the logo loads from its origin and the buttons wear the accent colour with readable text', async () => {
    const context = await newContext({ bypassCSP: false });
    const page = await context.newPage();
    const blocked: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) blocked.push(message.text());
    });
    await page.goto(server.url + authorizeUrl('storefront', { response_type: 'code', client_id: fixtures.clientId, state: 's' }));
    await page.waitForLoadState('load');
    await expect.poll(() => page.locator('header img.logo').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    const button = page.locator('button.primary');
    const style = await button.evaluate((el) => {
      const computed = (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string; color: string } }).getComputedStyle(el);
      return { background: computed.backgroundColor, color: computed.color };
    });
    expect(style).toEqual({ background: 'rgb(15, 118, 110)', color: 'rgb(255, 255, 255)' });
    expect(blocked).toEqual([]);
    await context.close();
  });
});
