/**
 * The password policy refuses the user's whole email address as a new password, as it refuses
 * the username and the email's local part: whoever knows the address would try it first. Over
 * HTTP on every backend: the account page's Change password on both sides, and the JSON:API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/security/passwords.js';
import { formField, sidePrefix, signIn, TestBrowser } from '../helpers/browser.js';
import { BACKENDS } from '../helpers/backends.js';
import { apiCall, expectApiError } from '../helpers/json-api-calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { alertText, expectPage, signedInBrowser } from '../helpers/authorize-pages.js';
import { exchangeCode, expectTokenSuccess, SIDES, type SideUser } from '../helpers/tokens.js';

describe.each(BACKENDS)('a password that is the email address (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  it.each(SIDES)('%s account page: refused with the reason, in any case, and nothing changes', async (side) => {
    const { browser, user } = await signedInBrowser(server, side);
    const email = side === 'backoffice' ? `${user.login}@example.com` : user.login;
    const base = `${sidePrefix(side)}/account/password`;
    const csrf = formField((await browser.get(base)).body, 'csrf_token') as string;
    for (const password of [email, email.toUpperCase()]) {
      const refused = await browser.post(base, { csrf_token: csrf, current_password: user.password, new_password: password, confirm_password: password });
      expectPage(refused, 400);
      expect(alertText(refused.body)).toBe('The password must not be the username or the email address.');
      expect(refused.body).toMatch(/<input id="new_password"[^>]*aria-invalid="true"/);
    }
    const account = await server.grantry.repos.users.findLoginAccount(side, user.login);
    expect(await verifyPassword(user.password, account?.passwordHash)).toBe(true);
    expect((await signIn(new TestBrowser(server.url), side, user.login, user.password)).status).toBe(303);
  });

  it('JSON:API: an admin creating a user or a customer with their email as password gets 422 at the password', async () => {
    const boss = await server.createBackofficeUser(`boss-${backend}`, 'correct-horse-1', { isAdmin: true });
    const admin: SideUser = { side: 'backoffice', id: boss.id, login: boss.username, password: boss.password, browser: new TestBrowser(server.url) };
    const client = await server.createClient({ side: 'backoffice', scopes: ['users:read', 'users:write'] });
    const token = expectTokenSuccess(await exchangeCode(admin, client, server, { scope: 'users:read users:write' }));
    const email = `grace.hopper.${backend}@example.com`;
    const user = { data: { type: 'users', attributes: { username: `ghopper-${backend}`, email, password: email } } };
    const customer = { data: { type: 'customerusers', attributes: { email, password: email.toUpperCase() } } };
    for (const [path, document] of [['/admin/api/users', user], ['/admin/api/customerusers', customer]] as const) {
      const refused = await apiCall(server.url, 'POST', path, token, document);
      const error = expectApiError(refused, 422, { pointer: '/data/attributes/password' });
      expect(error.detail).toBe('the password must not be the username or the email address');
    }
    expect(await server.grantry.repos.users.findCustomerUserByEmail(email)).toBeUndefined();
  });
});
