/**
 * The console in a real Chromium: an admin creates an application, copies its secret from the
 * page, and the application completes the authorization code flow with it; every console page
 * passes axe-core with no serious or critical violation, and is photographed at desktop and
 * phone width under test-artifacts/console/ (not committed). Runs when Chromium is installed.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiGet, authorizeUrl, tokenRequest } from '../helpers/oauth.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

const CHROMIUM = process.env.GRANTRY_CHROMIUM ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available && process.env.GRANTRY_REQUIRE_BROWSER === '1') throw new Error(`GRANTRY_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM}`);
if (!available) process.stderr.write(`\nBrowser tests not run: no Chromium at ${CHROMIUM} (apt-get install -y chromium).\n`);

const ARTIFACTS = path.resolve('test-artifacts/console');
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const BASE = '/admin/console';

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

describe.runIf(available)('the console in Chromium', { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let app: Server;
  let callback: string;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
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

  async function signInAt(page: Page, target: string, login: string, password: string) {
    page.setDefaultTimeout(10_000);
    await page.goto(server.url + target);
    // Not signed in: the back-office login page, which brings us back.
    expect(page.url()).toContain('/admin/oauth2-token/login?return_to=');
    await page.fill('#login', login);
    await page.fill('#password', password);
    await Promise.all([page.waitForURL((url) => url.pathname.startsWith(BASE)), page.click('button[type=submit]')]);
  }

  it('an admin creates a confidential application with skip consent; its secret, read from the page, completes the code flow', async () => {
    const page = await (await browser.newContext()).newPage();
    await signInAt(page, `${BASE}/applications/new`, 'admin', ADMIN_PASSWORD);
    expect(await page.title()).toBe('New application · Console · Grantry');
    await page.check('#side-backoffice');
    await page.check('#type-confidential');
    await page.fill('#name', 'Reporting app');
    await page.check('#grant-authorization_code');
    await page.fill('#redirect_uris', callback);
    await page.check('#scope-api');
    await page.check('#skip_consent');
    await page.getByRole('button', { name: 'Create application' }).click();
    await page.waitForSelector('#client-secret');
    expect(await page.title()).toBe('Reporting app created · Console · Grantry');
    // The copy button is shown by the script file (allowed by the console's CSP).
    await expect.poll(() => page.locator('button[data-copy]').isVisible()).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'secret-1280.png'), fullPage: true });
    const clientId = (await page.locator('#client-id').innerText()).trim();
    const secret = (await page.locator('#client-secret').innerText()).trim();

    // Already signed in on the back office, and consent skipped: straight back to the app.
    await page.goto(server.url + authorizeUrl('backoffice', { response_type: 'code', client_id: clientId, state: 'st-c', scope: 'api' }));
    await page.waitForURL((url) => url.href.startsWith(callback));
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
    const { clientId } = await server.createClient({ side: 'storefront', name: 'Shop app', redirectUris: [callback] });
    // bypassCSP lets the test inject axe; the pages themselves still carry their CSP.
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
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
    const check = async (name: string) => {
      expect(await page.locator('h1').count(), name).toBe(1);
      expect(await page.title(), name).toMatch(/ · Console · Grantry$/);
      await page.addScriptTag({ content: AXE_SOURCE });
      const violations = (await page.evaluate(async () => {
        const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
        return (await axe.run()).violations;
      })) as AxeViolation[];
      for (const v of violations.filter((x) => x.impact === 'serious' || x.impact === 'critical')) {
        failures.push(`${name}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      }
      for (const width of [1280, 390]) {
        await page.setViewportSize({ width, height: width === 1280 ? 800 : 844 });
        await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${width}.png`), fullPage: true });
      }
    };
    for (const [name, url] of pages) {
      await page.goto(server.url + url);
      await check(name);
    }
    // A form with an error, as the admin sees it after a mistake.
    await page.goto(`${server.url}${BASE}/applications/new`);
    await page.fill('#name', 'Broken');
    await page.fill('#redirect_uris', 'http://not-https.example/cb');
    await page.getByRole('button', { name: 'Create application' }).click();
    await page.waitForSelector('.field-error');
    await check('application-new-error');
    // A non-admin's 403 page.
    const other = await (await browser.newContext({ bypassCSP: true })).newPage();
    await other.goto(`${server.url}/admin/oauth2-token/login`);
    await other.fill('#login', user.username);
    await other.fill('#password', user.password);
    await Promise.all([other.waitForLoadState(), other.click('button[type=submit]')]);
    const forbidden = await other.goto(`${server.url}${BASE}/users`);
    expect(forbidden?.status()).toBe(403);
    expect(failures).toEqual([]);
  });
});
