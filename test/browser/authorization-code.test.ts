/**
 * The whole flow in a real browser (Debian's Chromium driven by playwright-core): the login
 * and consent pages render with their stylesheet under the page CSP, the forms post with their
 * CSRF tokens, cookies work, and the browser lands on the client's redirect URI with a code.
 * Runs when Chromium is installed; CI installs it and sets GRANTRY_REQUIRE_BROWSER=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, useChromiumAndClientApplication } from '../helpers/chromium.js';
import { apiGet, authorizeUrl, pkcePair, tokenRequest } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe.runIf(chromiumAvailable)('the authorization code flow in Chromium', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
  });
  afterAll(async () => {
    await server?.close();
  });
  // Chromium, and the client application the flows end at (a loopback page that shows what it
  // received); registered after the server's hooks, so that the server outlives the browser.
  const chromium = useChromiumAndClientApplication();

  it('signs in, approves on the consent page, and lands on the redirect URI with a working code', async () => {
    const customer = await server.createCustomerUser('shopper@example.com');
    const client = await server.createClient({ side: 'storefront', type: 'public', name: 'Acme Shop App', redirectUris: [chromium.callback] });
    const { verifier, challenge } = pkcePair();
    const page = await (await chromium.browser.newContext()).newPage();

    await page.goto(server.url + authorizeUrl('storefront', { response_type: 'code', client_id: client.clientId, state: 'st-1', scope: 'profile api', code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(await page.title()).toBe('Sign in · Store');
    // The stylesheet is allowed by the CSP and applied.
    const radius = await page.locator('main.card').evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { borderRadius: string } }).getComputedStyle(el).borderRadius);
    expect(radius).toBe('12px');
    await page.fill('#login', customer.email);
    await page.fill('#password', customer.password);
    await Promise.all([page.waitForURL(/\/oauth2-token\/authorize\?/), page.click('button[type=submit]')]);

    expect(await page.title()).toBe('Authorize access · Store');
    await expect.poll(() => page.locator('main').innerText()).toContain('Acme Shop App');
    expect(await page.locator('ul.scopes').innerText()).toContain('See your profile');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(chromium.callback)), page.click('button[value=allow]')]);

    const landed = new URL(page.url());
    expect(landed.searchParams.get('state')).toBe('st-1');
    expect(landed.searchParams.get('iss')).toBe('http://grantry.test');
    const token = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: client.clientId, redirect_uri: chromium.callback, code: landed.searchParams.get('code') ?? '', code_verifier: verifier });
    expect(token.status).toBe(200);
    const mine = await apiGet(server.url, '/api/customerusers/mine', token.json.access_token as string);
    expect(mine.status).toBe(200);
    expect(mine.json).toMatchObject({ data: { attributes: { email: 'shopper@example.com' } } });
  });

  it('Deny sends the browser back with access_denied and the state', async () => {
    const user = await server.createBackofficeUser('browser-staff');
    const client = await server.createClient({ side: 'backoffice', name: 'Reporting', redirectUris: [chromium.callback] });
    const page = await (await chromium.browser.newContext()).newPage();
    await page.goto(server.url + authorizeUrl('backoffice', { response_type: 'code', client_id: client.clientId, state: 'st-2' }));
    await page.fill('#login', user.username);
    await page.fill('#password', user.password);
    await Promise.all([page.waitForURL(/\/admin\/oauth2-token\/authorize\?/), page.click('button[type=submit]')]);
    await Promise.all([page.waitForURL((url) => url.href.startsWith(chromium.callback)), page.click('button[value=deny]')]);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('error')).toBe('access_denied');
    expect(landed.searchParams.get('state')).toBe('st-2');
    expect(landed.searchParams.has('code')).toBe(false);
  });
});
