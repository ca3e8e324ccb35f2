/**
 * The administration console over HTTP, on both databases: who may open which page, CSRF on
 * every form, confirmation before destructive actions, one-time secrets, validation errors
 * next to their field, and a non-admin kept to their own applications whatever id they type.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../../src/management/principal.js';
import { hashPassword } from '../../src/security/passwords.js';
import { BACKENDS } from '../helpers/backends.js';
import { formField, type PageResponse, signIn, TestBrowser } from '../helpers/browser.js';
import { tokenRequest } from '../helpers/oauth.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';

const BASE = '/admin/console';

async function signedIn(server: TestServer, login: string, password: string): Promise<TestBrowser> {
  const browser = new TestBrowser(server.url);
  const response = await signIn(browser, 'backoffice', login, password);
  expect(response.status).toBe(303);
  return browser;
}

async function csrfOf(browser: TestBrowser): Promise<string> {
  const page = await browser.get(`${BASE}/profile`);
  expect(page.status).toBe(200);
  const token = formField(page.body, 'csrf_token');
  expect(token).toBeTruthy();
  return token as string;
}

function expectLoginRedirect(response: PageResponse) {
  expect(response.status).toBe(303);
  expect(response.location).toMatch(/^\/admin\/oauth2-token\/login\?return_to=%2Fadmin%2Fconsole/);
}

describe.each(BACKENDS)('administration console (%s)', (backend) => {
  let server: TestServer;
  let admin: TestBrowser;
  let alice: TestBrowser;
  let aliceId: number;
  let bobId: number;
  let bobClient: string;
  let customerId: number;
  let sfClient: string;

  /** Every console route, with real ids: [method, path]. */
  const routes = (): Array<['GET' | 'POST', string]> => {
    const app = `${BASE}/applications/${sfClient}`;
    const mine = `${BASE}/my/applications/${bobClient}`;
    const user = `${BASE}/users/storefront/${customerId}`;
    return [
      ['GET', BASE], ['GET', `${BASE}/profile`],
      ['GET', `${BASE}/applications`], ['GET', `${BASE}/applications/new`], ['POST', `${BASE}/applications/new`],
      ['GET', app], ['GET', `${app}/edit`], ['POST', `${app}/edit`], ['POST', `${app}/active`],
      ['GET', `${app}/delete`], ['POST', `${app}/delete`], ['GET', `${app}/revoke-tokens`], ['POST', `${app}/revoke-tokens`],
      ['GET', `${app}/regenerate-secret`], ['POST', `${app}/regenerate-secret`],
      ['GET', `${BASE}/my/applications`], ['GET', `${BASE}/my/applications/new`], ['POST', `${BASE}/my/applications/new`],
      ['GET', mine], ['GET', `${mine}/edit`], ['POST', `${mine}/edit`], ['POST', `${mine}/active`],
      ['GET', `${mine}/delete`], ['POST', `${mine}/delete`], ['GET', `${mine}/revoke-tokens`], ['POST', `${mine}/revoke-tokens`],
      ['GET', `${mine}/regenerate-secret`], ['POST', `${mine}/regenerate-secret`],
      ['GET', `${BASE}/users`], ['GET', `${BASE}/users/new?side=storefront`], ['POST', `${BASE}/users/new`],
      ['GET', user], ['POST', `${user}/flag`], ['POST', `${BASE}/users/backoffice/${bobId}/admin`],
      ['GET', `${user}/password`], ['POST', `${user}/password`], ['GET', `${user}/delete`], ['POST', `${user}/delete`],
      ['GET', `${BASE}/keys`], ['POST', `${BASE}/keys/rotate`], ['GET', `${BASE}/audit`],
    ];
  };
  const ADMIN_ONLY = /\/console\/(applications|users|keys|audit)/;

  /** What a refused request must leave as it was. */
  async function snapshot() {
    const repos = server.grantry.repos;
    return JSON.stringify({
      clients: await repos.clients.list(),
      users: await repos.users.listBackofficeUsers(0, 100),
      customers: await repos.users.listCustomerUsers(0, 100),
      keys: (await repos.signingKeys.list()).map((k) => k.kid),
    });
  }

  beforeAll(async () => {
    server = await startTestServer(backend);
    const a = await server.createBackofficeUser('alice');
    const b = await server.createBackofficeUser('bob');
    aliceId = a.id;
    bobId = b.id;
    customerId = (await server.createCustomerUser('shopper@example.com')).id;
    const { client } = await server.grantry.clients.create(
      { principal: { kind: 'user', side: 'backoffice', userId: b.id, isAdmin: false, label: 'bob' } },
      { side: 'backoffice', name: 'Bob app', type: 'confidential', grants: ['authorization_code'], redirectUris: ['https://bob.example/cb'] },
    );
    bobClient = client.clientId;
    sfClient = (await server.createClient({ side: 'storefront', name: 'Shop app' })).clientId;
    admin = await signedIn(server, 'admin', ADMIN_PASSWORD);
    alice = await signedIn(server, 'alice', a.password);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('sends anonymous visitors of every route to the back-office login, changing nothing', async () => {
    const before = await snapshot();
    const anonymous = new TestBrowser(server.url);
    for (const [method, path] of routes()) {
      const response = await anonymous.request(method, path, method === 'POST' ? { confirm: 'yes', csrf_token: 'x' } : undefined);
      expectLoginRedirect(response);
      // A GET comes back to the page itself after sign-in.
      if (method === 'GET') expect(new URL(response.location as string, server.url).searchParams.get('return_to')).toBe(path);
    }
    expect(await snapshot()).toBe(before);
  });

  it('keeps a storefront session out of every console route, even under the back-office cookie name', async () => {
    const before = await snapshot();
    // Customer ids and back-office ids are counted apart: this customer's id may well be an admin's.
    const shopper = await server.createCustomerUser('storefront.visitor@example.com');
    const customer = new TestBrowser(server.url);
    expect((await signIn(customer, 'storefront', shopper.email, shopper.password)).status).toBe(303);
    const storefront = server.grantry.sides.all.find((s) => s.name === 'storefront');
    const backoffice = server.grantry.sides.all.find((s) => s.name === 'backoffice');
    const sessionId = customer.cookies.get(storefront?.sessionCookie as string) as string;
    expect(sessionId).toBeTruthy();
    // The same session id presented as a back-office session must not pass either.
    const forged = new TestBrowser(server.url);
    forged.cookies.set(backoffice?.sessionCookie as string, sessionId);
    for (const browser of [customer, forged]) {
      const csrf = formField((await browser.get('/oauth2-token/login')).body, 'csrf_token') as string;
      for (const [method, path] of routes()) {
        const response = await browser.request(method, path, method === 'POST' ? { csrf_token: csrf, confirm: 'yes', active: 'no', flag: 'enabled', value: 'no', generate: 'yes', name: 'x', alg: 'ES256', delay: '0' } : undefined);
        expectLoginRedirect(response);
      }
    }
    await server.grantry.users.delete(CLI, 'storefront', String(shopper.id));
    expect(await snapshot()).toBe(before);
  });

  it('brings the visitor back to the console page after signing in, and refuses other return_to targets', async () => {
    const browser = new TestBrowser(server.url);
    const target = `${BASE}/keys?page=1`;
    const response = await signIn(browser, 'backoffice', 'admin', ADMIN_PASSWORD, target);
    expect(response.status).toBe(303);
    expect(response.location).toBe(target);
    const other = new TestBrowser(server.url);
    const elsewhere = await signIn(other, 'backoffice', 'admin', ADMIN_PASSWORD, '/admin/consolex//evil.example');
    expect(elsewhere.location).toBe('/admin/oauth2-token/login');
  });

  it('refuses console return_to paths that a browser would resolve elsewhere (dot segments, empty segments, backslashes, encoded dots and slashes)', async () => {
    const login = '/admin/oauth2-token/login';
    for (const target of [
      `${BASE}/../../..//evil.example`,
      `${BASE}/..`,
      `${BASE}/./keys`,
      `${BASE}//evil.example`,
      `${BASE}/keys//x`,
      `${BASE}/\\evil.example`,
      `${BASE}\\..\\x`,
      `${BASE}/%2e%2e/%2e%2e/x`,
      `${BASE}/%2E%2E/x`,
      `${BASE}/%2fevil.example`,
      `${BASE}/%2Fevil.example`,
      `${BASE}/%5cevil.example`,
      `${BASE}/.%2e/x`,
      `${BASE}/keys?x=\\y`,
    ]) {
      const page = await new TestBrowser(server.url).get(`${login}?${new URLSearchParams({ return_to: target })}`);
      expect(page.status, target).toBe(200);
      expect(formField(page.body, 'return_to'), target).toBeUndefined();
      const response = await signIn(new TestBrowser(server.url), 'backoffice', 'admin', ADMIN_PASSWORD, target);
      expect(response.status, target).toBe(303);
      expect(response.location, target).toBe(login);
    }
    // What the console itself sends there still comes back, query included (a search for "a/b").
    for (const target of [BASE, `${BASE}/keys`, `${BASE}/users/storefront/${customerId}/password`, `${BASE}/applications/${sfClient}/edit`, `${BASE}/users?side=storefront&q=a%2Fb..c`, `${BASE}?page=2`]) {
      const response = await signIn(new TestBrowser(server.url), 'backoffice', 'admin', ADMIN_PASSWORD, target);
      expect(response.location, target).toBe(target);
    }
  });

  it('answers 403 to a non-admin on every admin page and action, changing nothing', async () => {
    const before = await snapshot();
    const csrf = await csrfOf(alice);
    for (const [method, path] of routes().filter(([, p]) => ADMIN_ONLY.test(p))) {
      const response = await alice.request(method, path, method === 'POST' ? { csrf_token: csrf, confirm: 'yes', active: 'no', flag: 'enabled', value: 'no', generate: 'yes', name: 'x', alg: 'ES256', delay: '0' } : undefined);
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(response.body).toContain('Only administrators can open this page.');
    }
    expect(await snapshot()).toBe(before);
    const start = await alice.get(BASE);
    expect(start.location).toBe(`${BASE}/my/applications`);
    const mine = await alice.get(`${BASE}/my/applications`);
    expect(mine.status).toBe(200);
    expect(mine.body).not.toContain('Bob app');
    expect(mine.body).not.toContain('>Users<');
  });

  it('answers 404 to a non-admin for another user\'s application, whatever the action, changing nothing', async () => {
    const before = await snapshot();
    const csrf = await csrfOf(alice);
    for (const [method, path] of routes().filter(([, p]) => p.includes(`/my/applications/${bobClient}`))) {
      const response = await alice.request(method, path, method === 'POST' ? { csrf_token: csrf, confirm: 'yes', active: 'no', name: 'Taken over', grants: 'authorization_code', redirect_uris: 'https://evil.example/cb' } : undefined);
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.body).not.toContain('Bob app');
    }
    // The storefront client, through "My applications" too.
    expect((await alice.get(`${BASE}/my/applications/${sfClient}`)).status).toBe(404);
    expect(await snapshot()).toBe(before);
  });

  it('makes a non-admin the owner of what they create, whatever owner the form names', async () => {
    const csrf = await csrfOf(alice);
    const response = await alice.post(`${BASE}/my/applications/new`, {
      csrf_token: csrf, name: 'Alice worker', type: 'confidential', grants: ['client_credentials'], scopes: ['api'], owner: String(bobId), side: 'storefront',
    });
    expect(response.status).toBe(201);
    const clientId = /id="client-id">([^<]+)</.exec(response.body)?.[1] as string;
    const client = await server.grantry.repos.clients.findByClientId(clientId);
    expect(client).toMatchObject({ side: 'backoffice', ownerUserId: aliceId, name: 'Alice worker' });
    const list = await alice.get(`${BASE}/my/applications`);
    expect(list.body).toContain('Alice worker');
  });

  it('offers a non-admin neither "Skip user consent" nor the password grant, and shows the refusal next to the field when either is posted anyway', async () => {
    const adminForm = await admin.get(`${BASE}/applications/new`);
    expect(adminForm.body).toContain('name="skip_consent"');
    expect(adminForm.body).toContain('name="grants" value="password"');
    const form = await alice.get(`${BASE}/my/applications/new`);
    expect(form.status).toBe(200);
    expect(form.body).not.toContain('name="skip_consent"');
    expect(form.body).not.toContain('name="grants" value="password"');
    const csrf = await csrfOf(alice);
    const base = { csrf_token: csrf, type: 'confidential', redirect_uris: 'https://alice.example/cb', scopes: ['api'] };
    const before = await snapshot();
    const skip = await alice.post(`${BASE}/my/applications/new`, { ...base, name: 'Alice silent', grants: ['authorization_code'], skip_consent: 'yes' });
    expect(skip.status).toBe(403);
    expect(skip.body).toMatch(/<p class="field-error" id="skipConsent-error">Only administrators may [^<]*consent[^<]*<\/p>/);
    expect(skip.body).toContain('value="Alice silent"');
    const password = await alice.post(`${BASE}/my/applications/new`, { ...base, name: 'Alice legacy', grants: ['password'] });
    expect(password.status).toBe(403);
    expect(password.body).toMatch(/<p class="field-error" id="grants-error">Only administrators may allow the password grant\.<\/p>/);
    expect(password.body).toContain('value="Alice legacy"');
    expect(await snapshot()).toBe(before);
    // One an admin allowed on her application is offered (checked) on her edit form, and kept by it.
    const { client } = await server.grantry.clients.create(CLI, { side: 'backoffice', name: 'Alice trusted', type: 'confidential', grants: ['password', 'authorization_code'], redirectUris: ['https://alice.example/cb'], skipConsent: true, owner: 'alice' });
    const edit = await alice.get(`${BASE}/my/applications/${client.clientId}/edit`);
    expect(edit.body).toMatch(/name="skip_consent" value="yes" checked/);
    expect(edit.body).toMatch(/name="grants" value="password" checked/);
    const saved = await alice.post(`${BASE}/my/applications/${client.clientId}/edit`, { csrf_token: csrf, name: 'Alice trusted 2', grants: ['password', 'authorization_code'], redirect_uris: 'https://alice.example/cb', scopes: ['api'], skip_consent: 'yes' });
    expect(saved.status).toBe(303);
    expect(await server.grantry.repos.clients.findByClientId(client.clientId)).toMatchObject({ name: 'Alice trusted 2', skipConsent: true, grants: ['password', 'authorization_code'] });
    await server.grantry.clients.delete(CLI, client.clientId);
  });

  it('words refusals for the console, without CLI option names', async () => {
    const csrf = await csrfOf(admin);
    const response = await admin.post(`${BASE}/applications/new`, { csrf_token: csrf, side: 'backoffice', name: 'No owner', type: 'confidential', grants: ['client_credentials'], scopes: ['api'] });
    expect(response.status).toBe(400);
    expect(response.body).toContain('<p class="field-error" id="owner-error">The client_credentials grant needs an owner user.</p>');
    expect(response.body).not.toContain('--owner');
  });

  it("shows a scope beyond the role the application acts for next to the scopes, on the admin's and the user's pages", async () => {
    const before = await snapshot();
    const aliceCsrf = await csrfOf(alice);
    const mine = await alice.post(`${BASE}/my/applications/new`, { csrf_token: aliceCsrf, name: 'Alice writer', type: 'confidential', grants: ['authorization_code'], redirect_uris: 'https://alice.example/cb', scopes: ['api', 'users:write'] });
    expect(mine.status).toBe(400);
    expect(mine.body).toMatch(/<p class="field-error" id="scopes-error">The staff role may not hold the scope users:write, [^<]*<\/p>/);
    const adminCsrf = await csrfOf(admin);
    const storefront = await admin.post(`${BASE}/applications/new`, { csrf_token: adminCsrf, side: 'storefront', name: 'Shop admin', type: 'confidential', grants: ['authorization_code'], redirect_uris: 'https://shop.example/cb', scopes: ['applications:write'] });
    expect(storefront.status).toBe(400);
    expect(storefront.body).toMatch(/<p class="field-error" id="scopes-error">The customer role may not hold the scope applications:write, [^<]*<\/p>/);
    expect(await snapshot()).toBe(before);
  });

  it('refuses every console form without the CSRF token of the browser (403, nothing changed)', async () => {
    const before = await snapshot();
    for (const [method, path] of routes().filter(([m]) => m === 'POST')) {
      for (const token of [undefined, 'forged-token']) {
        const form: Record<string, string> = { confirm: 'yes', active: 'no', flag: 'enabled', value: 'no', generate: 'yes', name: 'Forged', type: 'public', grants: 'authorization_code', redirect_uris: 'https://x.example/cb', email: 'forged@example.com', alg: 'ES256', delay: '0', side: 'storefront' };
        if (token) form.csrf_token = token;
        const response = await admin.post(path, form);
        expect(response.status, `${path} with ${token}`).toBe(403);
      }
    }
    expect(await snapshot()).toBe(before);
  });

  it('changes nothing on a destructive action without confirm=yes, and shows the confirmation naming the object', async () => {
    const before = await snapshot();
    const csrf = await csrfOf(admin);
    const app = `${BASE}/applications/${sfClient}`;
    for (const path of [`${app}/delete`, `${app}/revoke-tokens`, `${app}/regenerate-secret`, `${BASE}/users/storefront/${customerId}/delete`]) {
      for (const confirm of [undefined, 'no']) {
        const form: Record<string, string> = { csrf_token: csrf };
        if (confirm) form.confirm = confirm;
        const response = await admin.post(path, form);
        expect(response.status, path).toBe(200);
        expect(response.body).toContain('name="confirm" value="yes"');
        expect(response.body).toMatch(/Shop app|shopper@example\.com/);
        expect(response.body).not.toContain('id="client-secret"');
      }
    }
    expect(await snapshot()).toBe(before);
  });

  it('shows a new secret once, which works, and never again', async () => {
    const csrf = await csrfOf(admin);
    const created = await admin.post(`${BASE}/applications/new`, {
      csrf_token: csrf, side: 'backoffice', name: 'Nightly import', type: 'confidential', grants: ['client_credentials'], scopes: ['api'], owner: 'admin',
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(created.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(created.headers.get('x-frame-options')).toBe('DENY');
    const clientId = /id="client-id">([^<]+)</.exec(created.body)?.[1] as string;
    const secret = /id="client-secret">([^<]+)</.exec(created.body)?.[1] as string;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const token = await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: clientId, client_secret: secret });
    expect(token.status).toBe(200);
    for (const path of [`${BASE}/applications`, `${BASE}/applications/${clientId}`, `${BASE}/applications/${clientId}/edit`, `${BASE}/applications/${clientId}/regenerate-secret`]) {
      const page = await admin.get(path);
      expect(page.status).toBe(200);
      expect(page.body).toContain('Nightly import');
      expect(page.body).not.toContain(secret);
    }
    // Regenerating (confirmed) shows the new one once; the old one stops working.
    const regenerated = await admin.post(`${BASE}/applications/${clientId}/regenerate-secret`, { csrf_token: csrf, confirm: 'yes' });
    expect(regenerated.status).toBe(200);
    const fresh = /id="client-secret">([^<]+)</.exec(regenerated.body)?.[1] as string;
    expect(fresh).not.toBe(secret);
    expect((await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: clientId, client_secret: secret })).status).toBe(401);
    expect((await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: clientId, client_secret: fresh })).status).toBe(200);
    expect((await admin.get(`${BASE}/applications/${clientId}`)).body).not.toContain(fresh);
  });

  it('shows a validation error next to its field in plain words, keeping what was typed', async () => {
    const csrf = await csrfOf(admin);
    const response = await admin.post(`${BASE}/applications/new`, {
      csrf_token: csrf, side: 'storefront', name: 'Typed <name>', type: 'public', grants: ['authorization_code'], redirect_uris: 'http://app.example/callback', scopes: ['profile'],
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatch(/<p class="field-error" id="redirectUris-error">Redirect URI http:\/\/app\.example\/callback [^<]+<\/p>/);
    expect(response.body).toContain('aria-describedby="redirect-hint redirectUris-error"');
    expect(response.body).toContain('value="Typed &lt;name&gt;"');
    expect(response.body).toContain('>http://app.example/callback</textarea>');
    expect(response.body).toMatch(/id="type-public" name="type" value="public" checked/);
    expect(response.body).toMatch(/id="scope-profile" name="scopes" value="profile" checked/);
    expect((await server.grantry.repos.clients.list()).some((c) => c.name === 'Typed <name>')).toBe(false);
    // Control characters are refused where they enter, as everywhere else.
    const control = await admin.post(`${BASE}/applications/new`, { csrf_token: csrf, side: 'storefront', name: 'Bad\u0000name', type: 'public', grants: 'authorization_code', redirect_uris: 'https://app.example/cb' });
    expect(control.status).toBe(400);
    expect(control.body).toContain('id="name-error">The name contains characters that are not allowed.');
  });

  it('lets an admin deactivate, filter and delete with confirmation', async () => {
    const csrf = await csrfOf(admin);
    const app = `${BASE}/applications/${sfClient}`;
    const off = await admin.post(`${app}/active`, { csrf_token: csrf, active: 'no' });
    expect(off.status).toBe(303);
    expect((await server.grantry.repos.clients.findByClientId(sfClient))?.active).toBe(false);
    const inactive = await admin.get(`${BASE}/applications?active=no&side=storefront&q=shop`);
    expect(inactive.body).toContain('Shop app');
    const active = await admin.get(`${BASE}/applications?active=yes`);
    expect(active.body).not.toContain('Shop app');
    const deleted = await admin.post(`${app}/delete`, { csrf_token: csrf, confirm: 'yes' });
    expect(deleted.status).toBe(303);
    expect(await server.grantry.repos.clients.findByClientId(sfClient)).toBeUndefined();
    expect((await admin.get(app)).status).toBe(404);
  });

  it('keeps the admin from removing their own admin right', async () => {
    const csrf = await csrfOf(admin);
    const me = (await server.grantry.repos.users.findBackofficeUserByLogin('admin'))?.id as number;
    const response = await admin.post(`${BASE}/users/backoffice/${me}/admin`, { csrf_token: csrf, value: 'no' });
    expect(response.status).toBe(400);
    expect(response.body).toContain('You cannot remove your own admin right');
    expect((await server.grantry.repos.users.findBackofficeUser(me))?.isAdmin).toBe(true);
  });

  it('uses the password the admin typed, and refuses a form that both types one and asks for one to be generated', async () => {
    const csrf = await csrfOf(admin);
    const carol = await server.createBackofficeUser('carol');
    const self = `${BASE}/users/backoffice/${carol.id}/password`;
    const form = await admin.get(self);
    // An explicit choice: two radio buttons, generating the one chosen unless the admin picks "type".
    expect(form.body).toMatch(/<input type="radio" id="generate" name="generate" value="yes" checked>/);
    expect(form.body).toMatch(/<input type="radio" id="type-password" name="generate" value="no">/);
    // Both: nothing changes, the error is next to the password field, the choice is kept.
    const both = await admin.post(self, { csrf_token: csrf, generate: 'yes', password: 'my-typed-password-1' });
    expect(both.status).toBe(400);
    expect(both.body).toMatch(/<p class="field-error" id="password-error">[^<]*typed[^<]*<\/p>/);
    expect(both.body).toContain('aria-describedby="password-hint password-error"');
    expect(both.body).not.toContain('id="new-password"');
    expect(both.body).not.toContain('my-typed-password-1');
    expect((await signIn(new TestBrowser(server.url), 'backoffice', 'carol', 'my-typed-password-1')).status).not.toBe(303);
    expect((await signIn(new TestBrowser(server.url), 'backoffice', 'carol', carol.password)).status).toBe(303);
    // Typed, chosen: it is the password, and none is shown.
    const typed = await admin.post(self, { csrf_token: csrf, generate: 'no', password: 'my-typed-password-1' });
    expect(typed.status).toBe(200);
    expect(typed.body).not.toContain('id="new-password"');
    expect((await signIn(new TestBrowser(server.url), 'backoffice', 'carol', 'my-typed-password-1')).status).toBe(303);
    // Typed, with the choice left to "type": a short one is refused next to the field, choice kept.
    const short = await admin.post(self, { csrf_token: csrf, generate: 'no', password: 'short' });
    expect(short.status).toBe(400);
    expect(short.body).toContain('id="password-error"');
    expect(short.body).toMatch(/id="type-password" name="generate" value="no" checked/);
    // The create form: the same choice and the same refusal, keeping what was typed; no user made.
    const created = await admin.post(`${BASE}/users/new`, { csrf_token: csrf, side: 'backoffice', username: 'dora', email: 'dora@example.com', generate: 'yes', password: 'dora-typed-password-1' });
    expect(created.status).toBe(400);
    expect(created.body).toMatch(/<p class="field-error" id="password-error">[^<]*typed[^<]*<\/p>/);
    expect(created.body).toContain('value="dora@example.com"');
    expect(created.body).toMatch(/id="generate" name="generate" value="yes" checked/);
    expect(await server.grantry.repos.users.findBackofficeUserByLogin('dora')).toBeUndefined();
    const dora = await admin.post(`${BASE}/users/new`, { csrf_token: csrf, side: 'backoffice', username: 'dora', email: 'dora@example.com', generate: 'no', password: 'dora-typed-password-1' });
    expect(dora.status).toBe(303);
    expect((await signIn(new TestBrowser(server.url), 'backoffice', 'dora', 'dora-typed-password-1')).status).toBe(303);
  });

  it('refuses short and common passwords and the username, next to the password field, on the create and reset forms', async () => {
    const csrf = await csrfOf(admin);
    const refusals: [string, RegExp][] = [
      ['v8#kT2!mq9Z', /the password must have at least 12 characters/],
      ['Qwerty123456', /this password is too common; choose another/],
      ['１２３４５６qwerty', /this password is too common; choose another/],
      ['Edith.Clarke-1883', /the password must not be the username or the email address/],
    ];
    for (const [password, message] of refusals) {
      const created = await admin.post(`${BASE}/users/new`, { csrf_token: csrf, side: 'backoffice', username: 'edith.clarke-1883', email: 'edith@example.com', generate: 'no', password });
      expect(created.status, password).toBe(400);
      expect(created.body).toMatch(new RegExp(`<p class="field-error" id="password-error">[^<]*${message.source}[^<]*</p>`, 'i'));
      expect(created.body).toContain('value="edith@example.com"');
      expect(created.body).not.toContain(password);
    }
    expect(await server.grantry.repos.users.findBackofficeUserByLogin('edith.clarke-1883')).toBeUndefined();
    const customer = await admin.post(`${BASE}/users/new`, { csrf_token: csrf, side: 'storefront', email: 'iloveyou1234@example.com', generate: 'no', password: 'iloveyou1234' });
    expect(customer.status).toBe(400);
    expect(customer.body).toMatch(/id="password-error">[^<]*(too common|must not be the username)/i);
    expect(await server.grantry.repos.users.findCustomerUserByEmail('iloveyou1234@example.com')).toBeUndefined();
    // The reset form: refused, and the old password still signs in.
    const erin = await server.createCustomerUser('erin@example.com');
    const reset = await admin.post(`${BASE}/users/storefront/${erin.id}/password`, { csrf_token: csrf, generate: 'no', password: '1q2w3e4r5t6y' });
    expect(reset.status).toBe(400);
    expect(reset.body).toMatch(/id="password-error">[^<]*this password is too common; choose another/i);
    expect((await signIn(new TestBrowser(server.url), 'storefront', 'erin@example.com', erin.password)).status).toBe(303);
    // A password set before the policy (here the most common one) still signs in: sign-in never applies it.
    await server.grantry.repos.users.setPasswordHash('storefront', erin.id, await hashPassword('password'));
    expect((await signIn(new TestBrowser(server.url), 'storefront', 'erin@example.com', 'password')).status).toBe(303);
    // A long uncommon password is accepted.
    const accepted = await admin.post(`${BASE}/users/storefront/${erin.id}/password`, { csrf_token: csrf, generate: 'no', password: 'tulip-harbour-quartz-7' });
    expect(accepted.status).toBe(200);
  });

  it('creates a storefront user with a generated password shown once, which signs in', async () => {
    const csrf = await csrfOf(admin);
    const created = await admin.post(`${BASE}/users/new`, { csrf_token: csrf, side: 'storefront', email: 'new.customer@example.com', generate: 'yes', first_name: 'New' });
    expect(created.status).toBe(201);
    const password = /id="new-password">([^<]+)</.exec(created.body)?.[1] as string;
    expect(password.length).toBeGreaterThanOrEqual(20);
    const id = (await server.grantry.repos.users.findCustomerUserByEmail('new.customer@example.com'))?.id as number;
    expect((await admin.get(`${BASE}/users/storefront/${id}`)).body).not.toContain(password);
    const shopper = new TestBrowser(server.url);
    expect((await signIn(shopper, 'storefront', 'new.customer@example.com', password)).status).toBe(303);
    // A bad email is shown next to its field, keeping what was typed.
    const bad = await admin.post(`${BASE}/users/new`, { csrf_token: csrf, side: 'storefront', email: 'not-an-email', password: 'long-enough-password' });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('id="email-error"');
    expect(bad.body).toContain('value="not-an-email"');
  });
});
