/**
 * The consent page and the account page describe Grantry's API scopes in the words of the
 * signed-in user's role: `api` lets an admin manage every user and application, a staff user
 * their own account and applications, a customer their own account, and the user allowing it
 * must read which. A description the deployment configures (the `scopes` setting) wins.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { ScopePolicy } from '../../src/oauth/scopes.js';
import { sidePrefix, type TestBrowser } from '../helpers/browser.js';
import { BACKENDS } from '../helpers/backends.js';
import { authorizeUrl, runAuthorize } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { expectConsentPage, expectPage, signedInBrowser, type TestUser, unique } from '../helpers/authorize-pages.js';

const CATALOGUE = ['api', 'users:read', 'users:write', 'applications:read', 'applications:write'];

/** The scopes a consent page asks for, as "description <code>name</code>" items. */
const askedScopes = (body: string) => [...body.matchAll(/<li>([^<]*) <code>([^<]+)<\/code><\/li>/g)].map((m) => [m[2], m[1]]);

describe('ScopePolicy.describe', () => {
  const policy = new ScopePolicy({ 'orders:read': 'See your orders', 'users:read': 'Read the staff directory' }, 'api');

  it('gives each catalogue scope the wording of the role, the generic one without a role', () => {
    expect(policy.describe('api', 'admin')).toBe('Manage all users and applications on your behalf');
    expect(policy.describe('api', 'staff')).toBe('See your account and manage your applications on your behalf');
    expect(policy.describe('api', 'customer')).toBe('See and change your account details on your behalf');
    expect(policy.describe('api')).toBe('Use the API on your behalf');
    expect(policy.describe('users:write', 'admin')).toBe('Create, change and delete users');
    expect(policy.describe('users:write', 'customer')).toBe('Change your account details');
    expect(policy.describe('applications:read', 'admin')).toBe('See all applications');
    expect(policy.describe('applications:read', 'staff')).toBe('See your applications');
    expect(policy.describe('applications:write', 'admin')).toBe('Register, change and delete any application');
    expect(policy.describe('applications:write', 'staff')).toBe('Register, change and delete your applications');
    // A role that may not hold the scope has no wording of its own: the generic one.
    expect(policy.describe('users:write', 'staff')).toBe('Change your account details');
  });

  it("prefers the deployment's description, whatever the role; an unknown scope is its own name", () => {
    for (const role of ['admin', 'staff', 'customer', undefined] as const) {
      expect(policy.describe('users:read', role)).toBe('Read the staff directory');
      expect(policy.describe('orders:read', role)).toBe('See your orders');
      expect(policy.describe('no:such', role)).toBe('no:such');
    }
  });

  it('takes a catalogue scope the setting lists by name only (GRANTRY_SCOPES="api,orders:read") as not worded', () => {
    const named = new ScopePolicy({ api: 'api', 'orders:read': 'orders:read' }, 'api');
    expect(named.describe('api', 'admin')).toBe('Manage all users and applications on your behalf');
    expect(named.describe('api')).toBe('Use the API on your behalf');
    expect(named.describe('orders:read', 'admin')).toBe('orders:read');
  });
});

describe.each(BACKENDS)('consent and account pages word the API scopes for the role (%s)', (backend) => {
  /** A deployment that words none of the catalogue scopes itself. */
  let server: TestServer;
  /** The test servers' usual scopes, which word `api` themselves ("Use the API on your behalf"). */
  let worded: TestServer;
  beforeAll(async () => {
    [server, worded] = await Promise.all([startTestServer(backend, { scopes: { 'orders:read': 'See your orders' } }), startTestServer(backend)]);
  });
  afterAll(async () => {
    await Promise.all([server?.close(), worded?.close()]);
  });

  /** A user of `side` (an admin when asked), signed in. */
  async function signedIn(on: TestServer, side: SideName, admin = false): Promise<{ browser: TestBrowser; user: TestUser }> {
    if (!admin) return signedInBrowser(on, side);
    const created = await on.createBackofficeUser(unique('boss'), 'correct-horse-1', { isAdmin: true });
    return signedInBrowser(on, side, { id: created.id, login: created.username, password: created.password, ref: created.username });
  }

  async function consentScopes(on: TestServer, side: SideName, admin: boolean, scope: string) {
    const client = await on.createClient({ side, scopes: side === 'backoffice' ? [...CATALOGUE, 'orders:read'] : ['api', 'users:read', 'users:write', 'orders:read'] });
    const { browser, user } = await signedIn(on, side, admin);
    const page = await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, scope, state: 's' }));
    expectConsentPage(page);
    return { scopes: askedScopes(page.body), browser, user, client };
  }

  it("an admin's consent page says api manages all users and applications", async () => {
    const { scopes } = await consentScopes(server, 'backoffice', true, 'api');
    expect(scopes).toEqual([['api', 'Manage all users and applications on your behalf']]);
    const each = await consentScopes(server, 'backoffice', true, CATALOGUE.slice(1).join(' ') + ' orders:read');
    expect(each.scopes).toEqual([
      ['users:read', 'See all users'],
      ['users:write', 'Create, change and delete users'],
      ['applications:read', 'See all applications'],
      ['applications:write', 'Register, change and delete any application'],
      ['orders:read', 'See your orders'],
    ]);
  });

  it("a staff user's consent page says api reaches their own account and applications", async () => {
    const { scopes } = await consentScopes(server, 'backoffice', false, 'api');
    expect(scopes).toEqual([['api', 'See your account and manage your applications on your behalf']]);
    // users:write is not theirs to hold, and is left out of what is asked.
    const each = await consentScopes(server, 'backoffice', false, CATALOGUE.slice(1).join(' '));
    expect(each.scopes).toEqual([
      ['users:read', 'See your account details'],
      ['applications:read', 'See your applications'],
      ['applications:write', 'Register, change and delete your applications'],
    ]);
  });

  it("a customer's consent page says api reaches their own account", async () => {
    const { scopes } = await consentScopes(server, 'storefront', false, 'api users:read users:write');
    expect(scopes).toEqual([
      ['api', 'See and change your account details on your behalf'],
      ['users:read', 'See your account details'],
      ['users:write', 'Change your account details'],
    ]);
  });

  it('the account page lists an allowed application in the same words', async () => {
    for (const [side, admin, wording] of [
      ['backoffice', true, 'Manage all users and applications on your behalf'],
      ['backoffice', false, 'See your account and manage your applications on your behalf'],
      ['storefront', false, 'See and change your account details on your behalf'],
    ] as const) {
      const { browser, user, client } = await consentScopes(server, side, admin, 'api');
      await runAuthorize(browser, side, { response_type: 'code', client_id: client.clientId, scope: 'api', state: 's' }, { login: user.login, password: user.password, decision: 'allow' });
      const list = await browser.get(`${sidePrefix(side)}/account/applications`);
      expectPage(list, 200);
      expect(askedScopes(list.body)).toEqual([['api', wording]]);
    }
  });

  it("a deployment's own description of a catalogue scope wins over the role's", async () => {
    for (const [side, admin] of [['backoffice', true], ['backoffice', false], ['storefront', false]] as const) {
      const { scopes } = await consentScopes(worded, side, admin, 'api');
      expect(scopes).toEqual([['api', 'Use the API on your behalf']]);
    }
    // The other catalogue scopes, which the test servers do not word, still follow the role.
    const { scopes } = await consentScopes(worded, 'backoffice', true, 'users:read');
    expect(scopes).toEqual([['users:read', 'See all users']]);
  });

});
