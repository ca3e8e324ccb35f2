/**
 * A user changing their own email through the JSON:API, on every backend. An address another
 * user has is refused with 409, which tells that it is registered: for a non-admin (a customer on
 * /api/customerusers/mine) each such refusal is counted by the brute-force throttle like a failed
 * sign-in (brute_force_max_failures per brute_force_window, per user), and past the limit every
 * email change of theirs is refused as too many attempts, taken address or not, so a shop's
 * customers cannot be listed by trying addresses. Admins keep the plain 409. A non-admin
 * back-office user, who manages only themselves, changes their own email the same way
 * (PATCH /admin/api/users/{themselves}); everything else of theirs stays an admin's (403).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TooManyAttempts } from '../../src/management/errors.js';
import { type ActionContext, CLI } from '../../src/management/principal.js';
import { BACKENDS } from '../helpers/backends.js';
import { signIn, TestBrowser } from '../helpers/browser.js';
import { apiCall, expectApiDocument, expectApiError } from '../helpers/json-api-calls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createSideUser, exchangeCode, expectTokenSuccess, type SideUser, type TestClient } from '../helpers/tokens.js';

const MINE = '/api/customerusers/mine';
const CUSTOMERS = '/admin/api/customerusers';
const USERS = '/admin/api/users';
/**
 * What the API answers once the limit is reached: management refuses with TooManyAttempts, a
 * 'forbidden' refusal, until src/http/api/json-api.ts maps it to 429 with Retry-After.
 */
const TOO_MANY = 429;
const MAX_FAILURES = 2;

let serial = 0;
const freshEmail = (what: string) => `${what}-${process.pid}-${Date.now().toString(36)}-${++serial}@example.com`;
const customerDoc = (id: number, attributes: Record<string, unknown>) => ({ data: { type: 'customerusers', id: String(id), attributes } });
const userDoc = (id: number, attributes: Record<string, unknown>) => ({ data: { type: 'users', id: String(id), attributes } });

describe.each(BACKENDS)('self-service email changes and the brute-force throttle (%s)', (backend) => {
  let server: TestServer;
  let admin: SideUser;
  let storefrontClient: TestClient;
  let backofficeClient: TestClient;
  let adminToken: string;

  /** A customer with a token for their own account (users:read users:write). */
  async function customerWithToken(): Promise<{ user: SideUser; token: string }> {
    const user = await createSideUser(server, 'storefront');
    return { user, token: expectTokenSuccess(await exchangeCode(user, storefrontClient, server, { scope: 'users:read users:write' })) };
  }
  const emailOf = async (user: SideUser) => (await server.grantry.repos.users.findCustomerUser(user.id))?.email;

  beforeAll(async () => {
    server = await startTestServer(backend, { bruteForceMaxFailures: MAX_FAILURES });
    const boss = await server.createBackofficeUser(`boss-${backend}`, 'correct-horse-1', { isAdmin: true });
    admin = { side: 'backoffice', id: boss.id, login: boss.username, password: boss.password, browser: new TestBrowser(server.url) };
    storefrontClient = await server.createClient({ side: 'storefront', scopes: ['users:read', 'users:write'] });
    backofficeClient = await server.createClient({ side: 'backoffice', scopes: ['api', 'users:read', 'users:write'] });
    adminToken = expectTokenSuccess(await exchangeCode(admin, backofficeClient, server, { scope: 'users:read users:write' }));
  });
  afterAll(() => server?.close());

  it('a customer gets 409 for a taken address until the limit, then every email change of theirs is refused, a free address too', async () => {
    const { user, token } = await customerWithToken();
    const { user: holder } = await customerWithToken();
    const patch = (email: string) => apiCall(server.url, 'PATCH', MINE, token, customerDoc(user.id, { email }));
    const own = await emailOf(user);

    // Under the limit the answer is the truth; a free address is not counted.
    expectApiError(await patch(holder.login), 409);
    const free = freshEmail('moved');
    const moved = await patch(free);
    expectApiDocument(moved, 200);
    expect(moved.json).toMatchObject({ data: { attributes: { email: free } } });
    // In another spelling, the same address.
    expectApiError(await patch(holder.login.toUpperCase()), 409);

    // Over the limit: taken or free, the answer is the same and nothing changes.
    for (const email of [holder.login, freshEmail('free'), own as string]) {
      const refused = await patch(email);
      const error = expectApiError(refused, TOO_MANY);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(error.detail).toMatch(/^too many attempts to use an email address another user has; try again in \d+ seconds$/);
      expect(refused.text).not.toContain(holder.login);
    }
    expect(await emailOf(user)).toBe(free);
    // Names still change: only email changes wait.
    expectApiDocument(await apiCall(server.url, 'PATCH', MINE, token, customerDoc(user.id, { lastName: 'Still here' })), 200);

    // Counted per user: another customer is told the truth, and the holder is untouched.
    const { user: neighbour, token: neighbourToken } = await customerWithToken();
    expectApiError(await apiCall(server.url, 'PATCH', MINE, neighbourToken, customerDoc(neighbour.id, { email: holder.login })), 409);
    expect(await emailOf(holder)).toBe(holder.login);
  });

  it('management refuses with TooManyAttempts and the seconds to wait, within the window', async () => {
    const { user } = await customerWithToken();
    const { user: holder } = await customerWithToken();
    const ctx: ActionContext = { principal: { kind: 'user', side: 'storefront', userId: user.id, isAdmin: false, label: user.login } };
    const change = () => server.grantry.users.update(ctx, 'storefront', String(user.id), { email: holder.login });
    for (let i = 0; i < MAX_FAILURES; i += 1) await expect(change()).rejects.toMatchObject({ code: 'conflict', field: 'email' });
    const refusal = await change().catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(TooManyAttempts);
    expect((refusal as TooManyAttempts).retryAfter).toBeGreaterThan(0);
    expect((refusal as TooManyAttempts).retryAfter).toBeLessThanOrEqual(server.config.bruteForceWindow);
  });

  describe('a non-admin back-office user on PATCH /users/{themselves}', () => {
    /** A staff user with a token carrying api (staff never hold users:write), and how to PATCH themselves. */
    async function staffWithToken() {
      const user = await createSideUser(server, 'backoffice');
      const token = expectTokenSuccess(await exchangeCode(user, backofficeClient, server, { scope: 'api' }));
      const patch = (attributes: Record<string, unknown>) => apiCall(server.url, 'PATCH', `${USERS}/${user.id}`, token, userDoc(user.id, attributes));
      return { user, token, patch };
    }
    const staffEmail = async (user: SideUser) => (await server.grantry.repos.users.findBackofficeUser(user.id))?.email;

    it('changes their own email, recorded in the audit trail', async () => {
      const { user, patch } = await staffWithToken();
      const email = freshEmail('staff-moved');
      const changed = await patch({ email: email.toUpperCase() });
      expectApiDocument(changed, 200);
      expect(changed.json).toMatchObject({ data: { type: 'users', id: String(user.id), attributes: { username: user.login, email, admin: false, enabled: true } } });
      expect(await staffEmail(user)).toBe(email);
      // The new email signs in.
      expect((await signIn(new TestBrowser(server.url), 'backoffice', email, user.password)).status).toBe(303);
      const events = (await server.grantry.audit.list(CLI, { kind: 'user.updated', side: 'backoffice', userId: user.id, page: 1, size: 10 })).items;
      expect(events.map((e) => [e.actor, e.details])).toEqual([[user.login, { changed: 'email' }]]);
    });

    it('anything else stays an admin\'s: enabled, locked, admin, password, alone or beside the email, 403 and nothing changes', async () => {
      const { user, patch } = await staffWithToken();
      const before = await server.grantry.repos.users.findBackofficeUser(user.id);
      for (const attributes of [{ enabled: false }, { locked: true }, { admin: true }, { password: 'a-long-new-password-9' }, { email: freshEmail('sneaky'), admin: true }, { email: freshEmail('sneaky'), enabled: false }]) {
        const refused = await patch(attributes);
        expectApiError(refused, 403);
        expect(refused.headers.get('www-authenticate'), JSON.stringify(attributes)).toBeNull();
      }
      expect(await server.grantry.repos.users.findBackofficeUser(user.id)).toEqual(before);
    });

    it("another user's email: 409 until the limit, then every email change waits", async () => {
      const { user, patch } = await staffWithToken();
      const holder = await createSideUser(server, 'backoffice');
      const holderEmail = (await staffEmail(holder)) as string;
      for (let i = 0; i < MAX_FAILURES; i += 1) expectApiError(await patch({ email: holderEmail }), 409);
      for (const email of [holderEmail, freshEmail('free')]) {
        expect(expectApiError(await patch({ email }), TOO_MANY).detail).toMatch(/^too many attempts to use an email address another user has/);
      }
      expect(await staffEmail(user)).toBe(`${user.login}@example.com`);
    });
  });

  it('an admin is told 409 each time, never throttled', async () => {
    const { user } = await customerWithToken();
    const { user: holder } = await customerWithToken();
    for (let i = 0; i < MAX_FAILURES + 3; i += 1) {
      expectApiError(await apiCall(server.url, 'PATCH', `${CUSTOMERS}/${user.id}`, adminToken, customerDoc(user.id, { email: holder.login })), 409);
    }
    const free = freshEmail('by-admin');
    expectApiDocument(await apiCall(server.url, 'PATCH', `${CUSTOMERS}/${user.id}`, adminToken, customerDoc(user.id, { email: free })), 200);
    expect(await emailOf(user)).toBe(free);
  });
});
