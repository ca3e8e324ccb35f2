/**
 * The account page's authorized applications, on both sides and every backend: what it lists
 * and what "Remove access" says it did. A client-credentials client the user owns (a CI
 * pipeline) holds tokens for them that nobody allowed and gets a new one at once, so it is not
 * listed, unless the user also allowed it (a remembered consent). And the confirmation is true
 * for every kind of application: one that asks for permission needs it again; a skip-consent
 * application never asks, and gets new tokens the next time the user signs in to it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../../src/management/principal.js';
import type { SideName } from '../../src/oauth/sides.js';
import { formField, type PageResponse, sidePrefix, type TestBrowser } from '../helpers/browser.js';
import { BACKENDS } from '../helpers/backends.js';
import { authorizeUrl, runAuthorize, tokenRequest } from '../helpers/oauth.js';
import { DEFAULT_REDIRECT_URI, startTestServer, type TestServer } from '../helpers/server.js';
import { expectConsentPage, expectPage, signedInBrowser, type TestUser, unique } from '../helpers/authorize-pages.js';
import { expectTokenSuccess, SIDES } from '../helpers/tokens.js';

const applicationsPathOf = (side: SideName) => `${sidePrefix(side)}/account/applications`;
/** The names of the applications the page lists. */
const listedNames = (body: string) => [...body.matchAll(/<li>\n<h2>([^<]*)<\/h2>/g)].map((m) => m[1]);
const notice = (body: string) => /<p class="notice" role="status">([^<]*)<\/p>/.exec(body)?.[1];

describe.each(BACKENDS)('authorized applications: what is listed and what removing says (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  describe.each(SIDES)('%s', (side) => {
    const base = applicationsPathOf(side);

    /** A confidential client of this side owned by `user`, with the client_credentials grant (and authorization_code when asked). */
    async function ownedClient(user: TestUser, withCode: boolean) {
      const { client, clientSecret } = await server.grantry.clients.create(CLI, {
        side,
        name: unique('CI pipeline '),
        type: 'confidential',
        grants: withCode ? ['client_credentials', 'authorization_code'] : ['client_credentials'],
        redirectUris: withCode ? [DEFAULT_REDIRECT_URI] : [],
        scopes: ['api'],
        owner: String(user.id),
      });
      const token = await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: client.clientId, client_secret: clientSecret, scope: 'api' });
      expectTokenSuccess(token, server.config.accessTokenTtl);
      return client;
    }

    async function list(browser: TestBrowser, query = ''): Promise<PageResponse> {
      const page = await browser.get(base + query);
      expectPage(page, 200);
      return page;
    }

    /** Removes `clientId`'s access with the page's own form; returns the redirect. */
    async function remove(browser: TestBrowser, clientId: string): Promise<PageResponse> {
      const csrf = formField((await list(browser)).body, 'csrf_token');
      expect(csrf).toBeTruthy();
      return browser.post(`${base}/${clientId}/remove`, { csrf_token: csrf as string });
    }

    it('leaves out a client-credentials client the user owns, which nobody allowed', async () => {
      const { browser, user } = await signedInBrowser(server, side);
      const ci = await ownedClient(user, false);
      // Its token is a live grant for the user, as before.
      expect((await server.grantry.repos.grants.liveGrantsOfUser(side, user.id, Math.floor(Date.now() / 1000))).length).toBe(1);
      const page = await list(browser);
      expect(listedNames(page.body)).toEqual([]);
      expect(page.body).toContain('No application has access to your account.');
      expect(page.body).not.toContain(ci.clientId);
    });

    it('lists it when the user allowed it too (a remembered consent), and only the applications the user allowed beside it', async () => {
      const { browser, user } = await signedInBrowser(server, side);
      const ci = await ownedClient(user, true);
      const other = await server.createClient({ side, name: unique('Reporting app ') });
      expect(listedNames((await list(browser)).body)).toEqual([]);
      for (const client of [ci, other]) {
        await runAuthorize(browser, side, { response_type: 'code', client_id: client.clientId, scope: 'api', state: 's' }, { login: user.login, password: user.password, decision: 'allow' });
      }
      expect(listedNames((await list(browser)).body).sort()).toEqual([ci.name, (await server.grantry.repos.clients.findByClientId(other.clientId))?.name].sort());
    });

    it('an application that asks: the confirmation says it needs permission again, and it does', async () => {
      const { browser, user } = await signedInBrowser(server, side);
      const client = await server.createClient({ side, name: unique('Asking app ') });
      await runAuthorize(browser, side, { response_type: 'code', client_id: client.clientId, scope: 'api', state: 's' }, { login: user.login, password: user.password, decision: 'allow' });
      const page = await list(browser);
      expect(page.body).toContain("Removing an application's access revokes its tokens at once; it then needs your permission again to get new ones, unless it is allowed to sign you in without asking.");
      expect(page.body).not.toContain('It is allowed to sign you in without asking');

      const removed = await remove(browser, client.clientId);
      expect(removed.status).toBe(303);
      expect(removed.location).toBe(`${base}?done=removed`);
      expect(notice((await list(browser, '?done=removed')).body)).toBe('Access removed. Its tokens were revoked; it needs your permission again to get new ones.');
      expectConsentPage(await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, scope: 'api', state: 's' })));
    });

    it('a skip-consent application: the page and the confirmation say it gets new tokens without asking, and it does', async () => {
      const { browser, user } = await signedInBrowser(server, side);
      const client = await server.createClient({ side, name: unique('Trusted app '), skipConsent: true });
      const location = await runAuthorize(browser, side, { response_type: 'code', client_id: client.clientId, scope: 'api', state: 's' }, { login: user.login, password: user.password, decision: 'expect-none' });
      // Nothing is remembered for it: its token is what lists it.
      const code = location.searchParams.get('code') ?? '';
      expectTokenSuccess(await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: client.clientId, client_secret: client.clientSecret, redirect_uri: client.redirectUri, code }), server.config.accessTokenTtl);
      const page = await list(browser);
      expect(listedNames(page.body)).toHaveLength(1);
      expect(page.body).toContain('<p class="muted">It is allowed to sign you in without asking: after you remove its access, it gets new tokens the next time you use it.</p>');

      const removed = await remove(browser, client.clientId);
      expect(removed.status).toBe(303);
      expect(removed.location).toBe(`${base}?done=removed_skip_consent`);
      const after = await list(browser, '?done=removed_skip_consent');
      expect(notice(after.body)).toBe('Access removed. Its tokens were revoked. It is allowed to sign you in without asking, so it gets new ones the next time you use it.');
      expect(listedNames(after.body)).toEqual([]);
      // True to its word: no consent page, a code at once.
      const again = await runAuthorize(browser, side, { response_type: 'code', client_id: client.clientId, scope: 'api', state: 's' }, { login: user.login, password: user.password, decision: 'expect-none' });
      expect(again.searchParams.get('code')).toBeTruthy();
    });
  });
});
