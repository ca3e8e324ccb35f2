/**
 * Branding (issue 8 item 3): each side's pages show its product name (storefront_name,
 * backoffice_name) or the logo (logo_url, the name as its alt text), never the server's own
 * name; the stylesheet carries the accent colour (accent_color) and is versioned by its content;
 * an absolute logo's origin, and only it, is added to the pages' img-src. The login page reached
 * from an authorize request names the application; error pages say what went wrong in plain
 * words and keep the technical detail in a small line.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { CLI } from '../../src/management/principal.js';
import type { SideName } from '../../src/oauth/sides.js';
import { expectLoginRedirect, expectPage, loginPathOf, signedInBrowser } from '../helpers/authorize-pages.js';
import { BACKENDS } from '../helpers/backends.js';
import { type PageResponse, TestBrowser } from '../helpers/browser.js';
import { authorizeUrl } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SIDES: SideName[] = ['storefront', 'backoffice'];
const BRANDED = { storefrontName: 'Acme Store', backofficeName: 'Acme Back Office', logoUrl: 'https://cdn.acme.example/brand/logo.svg', accentColor: '#ffcc00' };
const nameOn = (side: SideName) => (side === 'storefront' ? BRANDED.storefrontName : BRANDED.backofficeName);

/** The page's stylesheet URL (from its <link>). */
const stylesheetOf = (body: string) => /<link rel="stylesheet" href="([^"]+)">/.exec(body)?.[1];
const titleOf = (body: string) => /<title>([^<]*)<\/title>/.exec(body)?.[1];
const headingOf = (body: string) => /<h1>([^<]*)<\/h1>/.exec(body)?.[1];
const technicalOf = (body: string) => /<p class="technical">([^<]*)<\/p>/.exec(body)?.[1];

/** What no branded page may contain: the server's own name, or the old side labels. */
function expectNoServerName(response: PageResponse) {
  expect(response.body).not.toMatch(/grantry/i);
  expect(response.body).not.toMatch(/STOREFRONT|class="side"/);
}

describe('branding settings at config load', () => {
  it('defaults: "Store" and "Back office", no logo, the indigo accent', () => {
    expect(loadConfig({ env: {} })).toMatchObject({ storefrontName: 'Store', backofficeName: 'Back office', logoUrl: undefined, accentColor: '#4338ca' });
  });

  it('takes names, an https logo, a path logo and a colour from the environment and the config file', () => {
    expect(loadConfig({ env: { GRANTRY_STOREFRONT_NAME: ' Acme Store ', GRANTRY_BACKOFFICE_NAME: 'Acme Back Office', GRANTRY_LOGO_URL: 'https://cdn.acme.example/logo.svg', GRANTRY_ACCENT_COLOR: '#FFCC00' } })).toMatchObject({
      storefrontName: 'Acme Store',
      backofficeName: 'Acme Back Office',
      logoUrl: 'https://cdn.acme.example/logo.svg',
      accentColor: '#ffcc00',
    });
    const file = path.join(process.env.TMPDIR ?? '/tmp', `branding-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ storefront_name: 'Ünïcode Shop 🛒', logo_url: '/static/logo.png', accent_color: '#0f766e' }));
    expect(loadConfig({ env: {}, configFile: file })).toMatchObject({ storefrontName: 'Ünïcode Shop 🛒', logoUrl: '/static/logo.png', accentColor: '#0f766e' });
  });

  it.each([
    [{ GRANTRY_STOREFRONT_NAME: 'x'.repeat(61) }, /GRANTRY_STOREFRONT_NAME: must be at most 60 characters, got 61/],
    [{ GRANTRY_BACKOFFICE_NAME: '   ' }, /GRANTRY_BACKOFFICE_NAME: must be a non-empty string/],
    [{ GRANTRY_BACKOFFICE_NAME: 'Back\u0007office' }, /GRANTRY_BACKOFFICE_NAME: must not contain control characters/],
    [{ GRANTRY_STOREFRONT_NAME: 'Shop\u007f' }, /GRANTRY_STOREFRONT_NAME: must not contain control characters/],
    [{ GRANTRY_LOGO_URL: 'javascript:alert(1)' }, /GRANTRY_LOGO_URL: must be an https URL or a path on this server/],
    [{ GRANTRY_LOGO_URL: 'data:image/svg+xml,<svg/>' }, /GRANTRY_LOGO_URL: must be an https URL or a path on this server/],
    [{ GRANTRY_LOGO_URL: 'http://cdn.acme.example/logo.svg' }, /GRANTRY_LOGO_URL: must be an https URL or a path on this server/],
    [{ GRANTRY_LOGO_URL: '//evil.example/logo.svg' }, /GRANTRY_LOGO_URL: .*would point at another host/],
    [{ GRANTRY_LOGO_URL: '/\\evil.example/logo.svg' }, /GRANTRY_LOGO_URL: .*would point at another host/],
    [{ GRANTRY_LOGO_URL: 'logo.svg' }, /GRANTRY_LOGO_URL: must be an https URL or a path on this server/],
    [{ GRANTRY_LOGO_URL: 'https://user:pw@cdn.acme.example/logo.svg' }, /GRANTRY_LOGO_URL: must not carry credentials/],
    [{ GRANTRY_LOGO_URL: 'https://cdn.acme.example/my logo.svg' }, /GRANTRY_LOGO_URL: .*without spaces/],
    [{ GRANTRY_ACCENT_COLOR: 'red' }, /GRANTRY_ACCENT_COLOR: must be a colour written #rrggbb/],
    [{ GRANTRY_ACCENT_COLOR: '#abc' }, /GRANTRY_ACCENT_COLOR: must be a colour written #rrggbb/],
    [{ GRANTRY_ACCENT_COLOR: '#4338ca;background:url(x)' }, /GRANTRY_ACCENT_COLOR: must be a colour written #rrggbb/],
  ])('refuses %o, naming the setting', (env, message) => {
    expect(() => loadConfig({ env })).toThrow(message);
  });

  it('names the config file key for a bad value there', () => {
    const file = path.join(process.env.TMPDIR ?? '/tmp', `branding-bad-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ logo_url: 'javascript:alert(1)' }));
    expect(() => loadConfig({ env: {}, configFile: file })).toThrow(/setting "logo_url" in .*must be an https URL/);
  });
});

describe.each(BACKENDS)('branding of the pages (%s)', (backend) => {
  let plain: TestServer;
  let branded: TestServer;
  let pathLogo: TestServer;
  beforeAll(async () => {
    [plain, branded, pathLogo] = await Promise.all([
      startTestServer(backend),
      startTestServer(backend, BRANDED),
      startTestServer(backend, { logoUrl: '/static/acme-logo.png' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([plain?.close(), branded?.close(), pathLogo?.close()]);
  });

  it.each(SIDES)('by default the %s login page says "Sign in" and the side\'s plain name, nothing internal', async (side) => {
    const page = await new TestBrowser(plain.url).get(loginPathOf(side));
    expectPage(page, 200);
    const name = side === 'storefront' ? 'Store' : 'Back office';
    expect(titleOf(page.body)).toBe(`Sign in · ${name}`);
    expect(page.body).toContain(`<header><span class="brand">${name}</span></header>`);
    expect(headingOf(page.body)).toBe('Sign in');
    expect(page.body).not.toContain('<img');
    expectNoServerName(page);
    expect(page.headers.get('content-security-policy')).toContain("img-src 'self';");
  });

  it.each(SIDES)('configured, the %s login page shows the logo with the product name as its alt text, and the name in the title', async (side) => {
    const page = await new TestBrowser(branded.url).get(loginPathOf(side));
    expectPage(page, 200);
    expect(titleOf(page.body)).toBe(`Sign in · ${nameOn(side)}`);
    expect(page.body).toContain(`<header><img class="logo" src="${BRANDED.logoUrl}" alt="${nameOn(side)}"></header>`);
    expectNoServerName(page);
    // The other side's name is not this side's.
    expect(page.body).not.toContain(nameOn(side === 'storefront' ? 'backoffice' : 'storefront'));
  });

  it("adds the logo's origin, and only it, to img-src of every page, also error pages and the console's", async () => {
    const expected = "img-src 'self' https://cdn.acme.example;";
    const browser = new TestBrowser(branded.url);
    for (const url of [loginPathOf('storefront'), loginPathOf('backoffice'), '/no-such-page', authorizeUrl('storefront', { response_type: 'code', client_id: 'unknown' })]) {
      const response = await browser.get(url);
      expect(response.headers.get('content-type'), url).toMatch(/^text\/html/);
      const csp = response.headers.get('content-security-policy') as string;
      expect(csp, url).toContain(expected);
      expect(csp, url).toContain("default-src 'none'");
      expect(csp, url).not.toContain('/brand/logo.svg');
    }
    const { browser: admin } = await signedInBrowser(branded, 'backoffice', { id: 0, login: 'admin', password: branded.config.adminPassword as string, ref: 'admin' });
    const console = await admin.get('/admin/console/applications');
    expect(console.status).toBe(200);
    expect(console.headers.get('content-security-policy')).toContain(expected);
    expect(console.headers.get('content-security-policy')).toContain("script-src 'self'");
    // Not an HTML page: no CSP to widen.
    const jwks = await browser.get('/.well-known/jwks.json');
    expect(jwks.headers.get('content-security-policy')).toBeNull();
  });

  it('a logo on this server (a path) is shown and needs no CSP change', async () => {
    const page = await new TestBrowser(pathLogo.url).get(loginPathOf('storefront'));
    expectPage(page, 200);
    expect(page.body).toContain('<img class="logo" src="/static/acme-logo.png" alt="Store">');
    expect(page.headers.get('content-security-policy')).toContain("img-src 'self';");
  });

  it('the stylesheet has a neutral name, carries the accent colour with readable text on it, and its URL changes with the colour', async () => {
    const plainSheet = stylesheetOf((await new TestBrowser(plain.url).get(loginPathOf('storefront'))).body) as string;
    const brandedSheet = stylesheetOf((await new TestBrowser(branded.url).get(loginPathOf('storefront'))).body) as string;
    expect(plainSheet).toMatch(/^\/assets\/pages\.css\?v=[0-9a-f]{12}$/);
    expect(brandedSheet).toMatch(/^\/assets\/pages\.css\?v=[0-9a-f]{12}$/);
    expect(brandedSheet).not.toBe(plainSheet);
    // Both sides share the one stylesheet.
    expect(stylesheetOf((await new TestBrowser(branded.url).get(loginPathOf('backoffice'))).body)).toBe(brandedSheet);

    const css = await fetch(branded.url + brandedSheet);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const text = await css.text();
    // Yellow is light: black text on the buttons, and links and outlines darkened until readable on white.
    expect(text).toContain('.primary{background:#ffcc00;color:#111827}');
    expect(text).not.toMatch(/grantry|#4338ca/i);
    const link = /\ba\{color:(#[0-9a-f]{6})\}/.exec(text)?.[1];
    expect(link).toBeDefined();
    expect(link).not.toBe('#ffcc00');
    expect(text).toContain(`:focus-visible{outline:2px solid ${link}`);

    const plainCss = await (await fetch(plain.url + plainSheet)).text();
    expect(plainCss).toContain('.primary{background:#4338ca;color:#ffffff}');
    // The old address is gone.
    expect((await fetch(`${plain.url}/assets/grantry.css`)).status).toBe(404);
  });

  describe('the login page reached from an authorize request', () => {
    it.each(SIDES)('on the %s names the application: "Sign in to continue to …"', async (side) => {
      const { clientId } = await branded.createClient({ side, name: 'Reporting app' });
      const browser = new TestBrowser(branded.url);
      const returnTo = expectLoginRedirect(await browser.get(authorizeUrl(side, { response_type: 'code', client_id: clientId, state: 's' })), side);
      const page = await browser.get(`${loginPathOf(side)}?${new URLSearchParams({ return_to: returnTo })}`);
      expectPage(page, 200);
      expect(headingOf(page.body)).toBe('Sign in to continue to Reporting app');
      expect(titleOf(page.body)).toBe(`Sign in · ${nameOn(side)}`);
      expectNoServerName(page);

      // Still named after a failed attempt (the form posted back).
      const failed = await browser.post(loginPathOf(side), { csrf_token: /name="csrf_token" value="([^"]+)"/.exec(page.body)?.[1] as string, return_to: returnTo, login: 'nobody@example.com', password: 'wrong-password-1' });
      expect(failed.status).toBe(401);
      expect(headingOf(failed.body)).toBe('Sign in to continue to Reporting app');
    });

    it('says plain "Sign in" for an unknown, deactivated or other-side client, and shows nothing else from return_to', async () => {
      const other = await branded.createClient({ side: 'backoffice', name: 'Staff tool' });
      const inactive = await branded.createClient({ side: 'storefront', name: 'Retired app' });
      await branded.grantry.clients.setActive(CLI, inactive.clientId, false);
      const browser = new TestBrowser(branded.url);
      for (const clientId of ['no-such-client', other.clientId, inactive.clientId, `x${'y'.repeat(200)}`]) {
        const returnTo = authorizeUrl('storefront', { response_type: 'code', client_id: clientId, client_name: 'Evil <b>app</b>', state: 'Pay here' });
        const page = await browser.get(`${loginPathOf('storefront')}?${new URLSearchParams({ return_to: returnTo })}`);
        expectPage(page, 200);
        expect(headingOf(page.body), clientId).toBe('Sign in');
        // Only the hidden return_to field carries the request back, encoded; nothing of it is shown.
        const shown = page.body.replace(/<input type="hidden" name="return_to" value="[^"]*">/, '');
        expect(shown).not.toMatch(/Staff tool|Retired app|Evil|Pay here/);
      }
    });
  });

  describe('error pages', () => {
    it('a bad redirect URI of a known client: plain words naming the application, the technical detail in a small line', async () => {
      const { clientId } = await branded.createClient({ side: 'storefront', name: 'Billing app' });
      const page = await new TestBrowser(branded.url).get(authorizeUrl('storefront', { response_type: 'code', client_id: clientId, redirect_uri: 'https://evil.example/cb' }));
      expectPage(page, 400);
      expect(headingOf(page.body)).toBe('This sign-in link is not valid');
      expect(titleOf(page.body)).toBe('This sign-in link is not valid · Acme Store');
      expect(page.body).toContain('This link to sign in to Billing app is not valid. Go back to the application and try again.');
      expect(technicalOf(page.body)).toBe('Technical detail: Invalid redirect URI: The redirect_uri does not match any URI registered for the application. (invalid_request)');
      expect(page.body).not.toContain('evil.example');
      expectNoServerName(page);
    });

    it.each([
      ['an unknown client', { client_id: 'no-such-client' }, 400, 'Invalid client: The application is unknown or has been deactivated. (invalid_request)'],
      ['no client_id', {}, 400, 'Invalid client: The request has no client_id. (invalid_request)'],
    ])('%s: plain words without a name', async (_what, params, status, technical) => {
      const page = await new TestBrowser(branded.url).get(authorizeUrl('storefront', { response_type: 'code', ...params }));
      expectPage(page, status);
      expect(headingOf(page.body)).toBe('This sign-in link is not valid');
      expect(page.body).toContain('This link to sign in is not valid: the application that sent you here is not known to this site.');
      expect(technicalOf(page.body)).toBe(`Technical detail: ${technical}`);
      expectNoServerName(page);
    });

    it("the other side's client is not named (404)", async () => {
      const { clientId } = await branded.createClient({ side: 'backoffice', name: 'Staff helper' });
      const page = await new TestBrowser(branded.url).get(authorizeUrl('storefront', { response_type: 'code', client_id: clientId }));
      expectPage(page, 404);
      expect(page.body).not.toContain('Staff helper');
      expect(technicalOf(page.body)).toBe('Technical detail: Not found: The application is not registered for this site. (invalid_request)');
    });

    it.each([
      ['/no-such-page', 'Acme Store'],
      ['/admin/no-such-page', 'Acme Back Office'],
    ])('the 404 page at %s wears its side\'s brand', async (url, name) => {
      const page = await new TestBrowser(branded.url).get(url);
      expectPage(page, 404);
      expect(titleOf(page.body)).toBe(`Not found · ${name}`);
      expect(page.body).toContain(`alt="${name}"`);
      expect(page.body).toContain('There is nothing at this address. Check the address, or go back to the application and try again.');
      expect(technicalOf(page.body)).toBe('Technical detail: HTTP 404 Not Found');
      expectNoServerName(page);
    });

    it('the 405 page of the guest endpoint and an expired sign-out form say what to do, with the detail apart', async () => {
      const browser = new TestBrowser(branded.url);
      const post = await browser.post('/oauth2-token/authorize-visitor', {});
      expectPage(post, 405);
      expect(headingOf(post.body)).toBe('Method not allowed');
      expect(technicalOf(post.body)).toContain('HTTP 405');

      const { browser: customer } = await signedInBrowser(branded, 'storefront');
      const logout = await customer.post('/oauth2-token/logout', { csrf_token: 'forged' });
      expectPage(logout, 403);
      expect(headingOf(logout.body)).toBe('You are still signed in');
      expect(logout.body).toContain('The sign-out form expired, so you were not signed out.');
      expect(technicalOf(logout.body)).toContain('HTTP 403');
      expectNoServerName(logout);
    });

    it('an expired consent form names the application and says nothing was shared', async () => {
      const { clientId } = await branded.createClient({ side: 'storefront', name: 'Survey app', scopes: ['api'] });
      const { browser } = await signedInBrowser(branded, 'storefront');
      const consent = await browser.get(authorizeUrl('storefront', { response_type: 'code', client_id: clientId, scope: 'api', state: 's' }));
      expectPage(consent, 200);
      expect(titleOf(consent.body)).toBe('Authorize access · Acme Store');
      expectNoServerName(consent);
      const expired = await browser.post('/oauth2-token/authorize', { response_type: 'code', client_id: clientId, scope: 'api', state: 's', csrf_token: 'forged', decision: 'allow' });
      expectPage(expired, 403);
      expect(headingOf(expired.body)).toBe('This page has expired');
      expect(expired.body).toContain('Nothing was shared with Survey app. Go back to the application and try again.');
      expect(technicalOf(expired.body)).toContain('HTTP 403');
    });
  });

  it('the signed-in page and the console say the product name', async () => {
    const { browser } = await signedInBrowser(branded, 'storefront');
    const signedIn = await browser.get(loginPathOf('storefront'));
    expectPage(signedIn, 200);
    expect(titleOf(signedIn.body)).toBe('Signed in · Acme Store');
    expectNoServerName(signedIn);

    const { browser: admin } = await signedInBrowser(branded, 'backoffice', { id: 0, login: 'admin', password: branded.config.adminPassword as string, ref: 'admin' });
    const page = await admin.get('/admin/console/applications');
    expect(page.status).toBe(200);
    expect(titleOf(page.body)).toBe('Applications · Console · Acme Back Office');
    expect(page.body).toContain('<span class="brand">Acme Back Office <span class="sub">Console</span></span>');
    expect(page.body).not.toMatch(/grantry/i);
  });
});
