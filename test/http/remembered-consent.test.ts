/**
 * Remembered consent (issue 8 item 4) over HTTP, on both sides and every backend: a second
 * authorization for the same or fewer scopes skips the consent page, more scopes ask again
 * showing only what is new, prompt=consent always asks, prompt=none never shows a page, and
 * remember_consent=false turns it off. Consents go with their client and their user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { CLI } from '../../src/management/principal.js';
import { TestBrowser } from '../helpers/browser.js';
import { BACKENDS } from '../helpers/backends.js';
import { authorizePath, authorizeUrl, runAuthorize } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  createUser,
  expectCodeRedirect,
  expectConsentPage,
  expectErrorRedirect,
  expectLoginRedirect,
  issuerOf,
  signedInBrowser,
} from '../helpers/authorize-pages.js';
import { SIDES } from '../helpers/tokens.js';

describe.each(BACKENDS)('remembered consent (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  describe.each(SIDES)('%s', (side: SideName) => {
    const iss = issuerOf(side);
    const newClient = () => server.createClient({ side });
    const params = (clientId: string, scope: string, extra: Record<string, string> = {}) => ({ response_type: 'code', client_id: clientId, scope, state: 'st-1', ...extra });

    /** A signed-in browser that has allowed `scope` for `clientId` once through the consent page. */
    async function allowedOnce(clientId: string, scope: string) {
      const { browser, user } = await signedInBrowser(server, side);
      const page = await browser.get(authorizeUrl(side, params(clientId, scope)));
      const fields = expectConsentPage(page);
      expectCodeRedirect(await browser.post(authorizePath(side), { ...fields, decision: 'allow' }), { target: 'https://app.example/callback', state: 'st-1', iss, status: 303 });
      return { browser, user };
    }

    it('a second authorization for the same or fewer scopes skips the consent page', async () => {
      const { clientId } = await newClient();
      const { browser } = await allowedOnce(clientId, 'read write');
      expectCodeRedirect(await browser.get(authorizeUrl(side, params(clientId, 'read write'))), { target: 'https://app.example/callback', state: 'st-1', iss, status: 302 });
      expectCodeRedirect(await browser.get(authorizeUrl(side, params(clientId, 'write'))), { target: 'https://app.example/callback', state: 'st-1', iss, status: 302 });
      // And through the whole flow, the helper refusing any consent page.
      const location = await runAuthorize(browser, side, params(clientId, 'read'), { login: '', password: '', decision: 'expect-none' });
      expect(location.searchParams.get('code')).toBeTruthy();
    });

    it('more scopes ask again, showing only the new ones and a line for what was allowed; Allow remembers the union', async () => {
      const { clientId } = await newClient();
      const { browser } = await allowedOnce(clientId, 'read');
      const page = await browser.get(authorizeUrl(side, params(clientId, 'read profile')));
      const fields = expectConsentPage(page);
      const asked = /<ul class="scopes">([\s\S]*?)<\/ul>/.exec(page.body)?.[1] ?? '';
      expect(asked).toContain('<code>profile</code>');
      expect(asked).not.toContain('<code>read</code>');
      expect(page.body).toMatch(/You already allowed it to: Read your data <code>read<\/code>\./);
      expectCodeRedirect(await browser.post(authorizePath(side), { ...fields, decision: 'allow' }), { target: 'https://app.example/callback', state: 'st-1', iss, status: 303 });
      // Both are remembered now, also each alone.
      for (const scope of ['read profile', 'profile', 'read']) {
        expectCodeRedirect(await browser.get(authorizeUrl(side, params(clientId, scope))), { target: 'https://app.example/callback', state: 'st-1', iss, status: 302 });
      }
    });

    it('a denied consent is not remembered, and another user or client is asked', async () => {
      const { clientId } = await newClient();
      const { browser } = await signedInBrowser(server, side);
      const first = expectConsentPage(await browser.get(authorizeUrl(side, params(clientId, 'read'))));
      expectErrorRedirect(await browser.post(authorizePath(side), { ...first, decision: 'deny' }), { target: 'https://app.example/callback', error: 'access_denied', state: 'st-1', iss, status: 303 });
      expectConsentPage(await browser.get(authorizeUrl(side, params(clientId, 'read'))));

      await allowedOnce(clientId, 'read');
      const other = await signedInBrowser(server, side);
      expectConsentPage(await other.browser.get(authorizeUrl(side, params(clientId, 'read'))));
      const { clientId: otherClient } = await newClient();
      const { browser: same } = await allowedOnce(clientId, 'read');
      expectConsentPage(await same.get(authorizeUrl(side, params(otherClient, 'read'))));
    });

    it('prompt=consent always asks, and its Allow answers without looping', async () => {
      const { clientId } = await newClient();
      const { browser } = await allowedOnce(clientId, 'read');
      const page = await browser.get(authorizeUrl(side, params(clientId, 'read', { prompt: 'consent' })));
      const fields = expectConsentPage(page);
      expect(page.body).toContain('name="prompt" value="consent"');
      expect(page.body).toContain('<code>read</code>');
      const answered = await browser.post(authorizePath(side), { ...fields, prompt: 'consent', decision: 'allow' });
      expectCodeRedirect(answered, { target: 'https://app.example/callback', state: 'st-1', iss, status: 303 });
    });

    it('prompt=consent is carried through the login page', async () => {
      const { clientId } = await newClient();
      const user = await createUser(server, side);
      const browser = new TestBrowser(server.url);
      const returnTo = expectLoginRedirect(await browser.get(authorizeUrl(side, params(clientId, 'read', { prompt: 'consent' }))), side);
      expect(new URL(returnTo, 'http://x.invalid').searchParams.get('prompt')).toBe('consent');
      const location = await runAuthorize(browser, side, params(clientId, 'read', { prompt: 'consent' }), { login: user.login, password: user.password, decision: 'allow' });
      expect(location.searchParams.get('code')).toBeTruthy();
    });

    it('prompt=none without a session answers login_required, never a page', async () => {
      const { clientId } = await newClient();
      const response = await new TestBrowser(server.url).get(authorizeUrl(side, params(clientId, 'read', { prompt: 'none' })));
      expectErrorRedirect(response, { target: 'https://app.example/callback', error: 'login_required', state: 'st-1', iss, status: 302 });
    });

    it('prompt=none with a session answers consent_required when consent is needed, a code when it is remembered', async () => {
      const { clientId } = await newClient();
      const { browser } = await signedInBrowser(server, side);
      expectErrorRedirect(await browser.get(authorizeUrl(side, params(clientId, 'read', { prompt: 'none' }))), {
        target: 'https://app.example/callback', error: 'consent_required', state: 'st-1', iss, status: 302,
      });
      const allowed = await allowedOnce(clientId, 'read');
      expectCodeRedirect(await allowed.browser.get(authorizeUrl(side, params(clientId, 'read', { prompt: 'none' }))), { target: 'https://app.example/callback', state: 'st-1', iss, status: 302 });
      expectErrorRedirect(await allowed.browser.get(authorizeUrl(side, params(clientId, 'read write', { prompt: 'none' }))), {
        target: 'https://app.example/callback', error: 'consent_required', state: 'st-1', iss, status: 302,
      });
      // A skip-consent client keeps skipping, prompt=none included.
      const { clientId: skipping } = await server.createClient({ side, skipConsent: true });
      expectCodeRedirect(await browser.get(authorizeUrl(side, params(skipping, 'read', { prompt: 'none' }))), { target: 'https://app.example/callback', state: 'st-1', iss, status: 302 });
      expectCodeRedirect(await browser.get(authorizeUrl(side, params(skipping, 'read'))), { target: 'https://app.example/callback', state: 'st-1', iss, status: 302 });
    });

    it.each([
      ['select_account', 'unsupported prompt'],
      ['bogus', 'unknown'],
      ['none consent', 'combined'],
    ])('prompt=%s is invalid_request', async (prompt, words) => {
      const { clientId } = await newClient();
      const { browser } = await signedInBrowser(server, side);
      const location = expectErrorRedirect(await browser.get(authorizeUrl(side, params(clientId, 'read', { prompt }))), {
        target: 'https://app.example/callback', error: 'invalid_request', state: 'st-1', iss, status: 302,
      });
      expect(location.searchParams.get('error_description')).toContain(words);
    });

    it('consents go with their client and their user', async () => {
      const { clientId } = await newClient();
      const { user } = await allowedOnce(clientId, 'read');
      const db = server.grantry.database.db;
      const count = async () => Number((await db.selectFrom('consents').select((eb) => eb.fn.countAll<number | string>().as('n')).where('side', '=', side).where('user_id', '=', user.id).executeTakeFirstOrThrow()).n);
      expect(await count()).toBe(1);
      await server.grantry.users.delete(CLI, side, user.ref);
      expect(await count()).toBe(0);

      const second = await allowedOnce(clientId, 'read');
      const rows = () => db.selectFrom('consents').select('id').where('user_id', '=', second.user.id).where('side', '=', side).execute();
      expect(await rows()).toHaveLength(1);
      await server.grantry.clients.delete(CLI, clientId);
      expect(await rows()).toHaveLength(0);
    });
  });
});

describe.each(BACKENDS)('remember_consent=false (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { rememberConsent: false });
  });
  afterAll(() => server?.close());

  it.each(SIDES)('%s: every authorization asks again, and prompt=none answers consent_required', async (side) => {
    const iss = issuerOf(side);
    const { clientId } = await server.createClient({ side });
    const { browser } = await signedInBrowser(server, side);
    const p = { response_type: 'code', client_id: clientId, scope: 'read', state: 's' };
    const fields = expectConsentPage(await browser.get(authorizeUrl(side, p)));
    expectCodeRedirect(await browser.post(authorizePath(side), { ...fields, decision: 'allow' }), { target: 'https://app.example/callback', state: 's', iss, status: 303 });
    expectConsentPage(await browser.get(authorizeUrl(side, p)));
    expectErrorRedirect(await browser.get(authorizeUrl(side, { ...p, prompt: 'none' })), { target: 'https://app.example/callback', error: 'consent_required', state: 's', iss, status: 302 });
  });
});
