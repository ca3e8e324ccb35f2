/**
 * The permission rules of src/management, which the CLI, the console and (later) the JSON:API
 * share: checked here on the real databases, through the managers themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManagementError } from '../../src/management/errors.js';
import { listKeys, rotateKeys } from '../../src/management/keys.js';
import { type ActionContext, CLI } from '../../src/management/principal.js';
import { BACKENDS } from '../helpers/backends.js';
import { asUser, refusal } from '../helpers/management.js';
import { expectApiAccepts, expectApiRefuses, firstPair, refresh, refreshClient } from '../helpers/lifecycle.js';
import type { TestServer } from '../helpers/server.js';
import { createSideUser, expectTokenError, startServerWithSideUsers, type SideUser } from '../helpers/tokens.js';

/** Asserts that `action` fails with a ManagementError of `code` (and a message matching `message`). */
async function expectRefused(action: Promise<unknown>, code: ManagementError['code'], message?: RegExp): Promise<void> {
  const error = await refusal(action);
  expect(error.code).toBe(code);
  if (message) expect(error.message).toMatch(message);
}

describe.each(BACKENDS)('management permissions (%s)', (backend) => {
  let server: TestServer;
  let alice: { id: number; username: string };
  let bob: { id: number; username: string };
  let admin2: { id: number; username: string };
  const newClient = (name: string) => ({ side: 'backoffice' as const, name, type: 'confidential' as const, grants: ['client_credentials'], redirectUris: [] });

  beforeAll(async () => {
    // Tokens asked for without a scope get "api", which the API's routes need (or their own scope).
    ({ server } = await startServerWithSideUsers(backend, { defaultScope: 'api' }));
    alice = await server.createBackofficeUser('alice-perm');
    bob = await server.createBackofficeUser('bob-perm');
    admin2 = await server.createBackofficeUser('admin-two', undefined, { isAdmin: true });
  });
  afterAll(() => server?.close());

  it('a non-admin creates a back-office client that is theirs and acts as themselves; naming another owner is forbidden', async () => {
    const other = await refusal(server.grantry.clients.create(asUser(alice, false), { ...newClient('Alice app'), owner: String(bob.id) }));
    expect(other).toMatchObject({ code: 'forbidden', field: 'owner' });
    // Someone who does not exist gets the same answer: the refusal confirms no one.
    expect(await refusal(server.grantry.clients.create(asUser(alice, false), { ...newClient('Alice app'), owner: 'nobody-at-all' }))).toMatchObject({ code: 'forbidden', message: other.message });
    const { client } = await server.grantry.clients.create(asUser(alice, false), { ...newClient('Alice app'), owner: alice.username });
    expect(client.ownerUserId).toBe(alice.id);
    await expectRefused(server.grantry.clients.update(asUser(alice, false), client.clientId, { owner: String(bob.id), name: 'Alice app 2' }), 'forbidden');
    const updated = await server.grantry.clients.update(asUser(alice, false), client.clientId, { owner: String(alice.id), name: 'Alice app 2' });
    expect(updated).toMatchObject({ ownerUserId: alice.id, name: 'Alice app 2' });
    const mine = await server.grantry.clients.list(asUser(alice, false), { page: 1, size: 50 });
    expect(mine.items.map((c) => c.clientId)).toEqual([client.clientId]);
    expect(mine.total).toBe(1);
    // Asking for the storefront or another owner gives nothing rather than a refusal.
    expect((await server.grantry.clients.list(asUser(alice, false), { side: 'storefront', page: 1, size: 50 })).total).toBe(0);
    expect((await server.grantry.clients.list(asUser(alice, false), { ownerUserId: bob.id, page: 1, size: 50 })).total).toBe(0);
  });

  it("another user's client and any storefront client are not found to a non-admin, for every action", async () => {
    const { client: bobs } = await server.grantry.clients.create(asUser(bob, false), newClient('Bob app'));
    const { client: shop } = await server.createClient({ side: 'storefront' }).then(async (c) => ({ client: await server.grantry.clients.get(CLI, c.clientId) }));
    for (const id of [bobs.clientId, shop.clientId]) {
      const ctx = asUser(alice, false);
      await expectRefused(server.grantry.clients.get(ctx, id), 'not_found');
      await expectRefused(server.grantry.clients.update(ctx, id, { name: 'Stolen' }), 'not_found');
      await expectRefused(server.grantry.clients.rotateSecret(ctx, id), 'not_found');
      await expectRefused(server.grantry.clients.setActive(ctx, id, false), 'not_found');
      await expectRefused(server.grantry.clients.revokeTokens(ctx, id), 'not_found');
      await expectRefused(server.grantry.clients.delete(ctx, id), 'not_found');
    }
    // Nothing changed; the admin sees both.
    expect(await server.grantry.clients.get(asUser(admin2, true), bobs.clientId)).toMatchObject({ name: 'Bob app', active: true });
    expect((await server.grantry.clients.get(asUser(admin2, true), shop.clientId)).active).toBe(true);
    await expectRefused(server.grantry.clients.create(asUser(alice, false), { ...newClient('Shop'), side: 'storefront' }), 'forbidden');
  });

  it('admin-only actions are forbidden to a non-admin: creating users, listing customers, keys, audit', async () => {
    const ctx = asUser(alice, false);
    await expectRefused(server.grantry.users.list(ctx, 'storefront', { page: 1, size: 10 }), 'forbidden');
    await expectRefused(server.grantry.users.createBackofficeUser(ctx, { username: 'x-perm', email: 'x-perm@example.com', password: 'long-enough-pw-1' }), 'forbidden');
    await expectRefused(server.grantry.users.createCustomerUser(ctx, { email: 'x-perm@example.com', password: 'long-enough-pw-1' }), 'forbidden');
    await expectRefused(server.grantry.audit.list(ctx, { page: 1, size: 10 }), 'forbidden');
    expect(() => listKeys(ctx, server.grantry.keys)).toThrow(/administrators/);
    await expectRefused(rotateKeys(ctx, server.grantry.keys, server.grantry.audit, 'ES256', 3600), 'forbidden');
  });

  it('a non-admin reads only themselves: others are not found, word for word as nobody, for every action', async () => {
    const ctx = asUser(alice, false);
    expect((await server.grantry.users.get(ctx, 'backoffice', String(alice.id))).id).toBe(alice.id);
    const customer = await server.createCustomerUser('perm-customer@example.com');
    for (const [side, ref] of [['backoffice', bob.username], ['backoffice', String(bob.id)], ['backoffice', String(admin2.id)], ['storefront', String(customer.id)]] as const) {
      const nobody = await refusal(server.grantry.users.get(ctx, side, '999999999'));
      for (const action of [
        () => server.grantry.users.get(ctx, side, ref),
        () => server.grantry.users.update(ctx, side, ref, { enabled: false }),
        () => server.grantry.users.setFlag(ctx, side, ref, 'enabled', false),
        () => server.grantry.users.setPassword(ctx, side, ref, 'new-password-123'),
        () => server.grantry.users.revokeTokens(ctx, side, ref),
        () => server.grantry.users.delete(ctx, side, ref),
      ]) {
        const error = await refusal(action());
        expect(error.code).toBe('not_found');
        expect(error.message).toBe(nobody.message.replace('999999999', ref));
      }
    }
    await expectRefused(server.grantry.users.setAdmin(ctx, bob.username, true), 'not_found');
    // On themselves, managing is still for admins: forbidden, not not_found.
    await expectRefused(server.grantry.users.setAdmin(ctx, alice.username, true), 'forbidden');
    // Their own email is theirs to change, but not with anything else.
    await expectRefused(server.grantry.users.update(ctx, 'backoffice', String(alice.id), { email: 'alice-new@example.com', enabled: false }), 'forbidden');
    await expectRefused(server.grantry.users.setFlag(ctx, 'backoffice', String(alice.id), 'enabled', false), 'forbidden');
    await expectRefused(server.grantry.users.delete(ctx, 'backoffice', String(alice.id)), 'forbidden');
    // Nothing changed.
    expect(await server.grantry.users.get(CLI, 'backoffice', bob.username)).toMatchObject({ enabled: true, isAdmin: false });
    expect(await server.grantry.users.get(CLI, 'backoffice', String(alice.id))).toMatchObject({ enabled: true, isAdmin: false, email: 'alice-perm@example.com' });
  });

  it("a non-admin's list of back-office users holds only themselves, when the search matches them", async () => {
    const ctx = asUser(alice, false);
    expect(await server.grantry.users.list(ctx, 'backoffice', { page: 1, size: 10 })).toMatchObject({ total: 1, items: [{ id: alice.id }] });
    expect(await server.grantry.users.list(ctx, 'backoffice', { search: 'ALICE-P', page: 1, size: 10 })).toMatchObject({ total: 1, items: [{ id: alice.id }] });
    expect(await server.grantry.users.list(ctx, 'backoffice', { search: 'bob', page: 1, size: 10 })).toEqual({ total: 0, items: [] });
    expect(await server.grantry.users.list(ctx, 'backoffice', { page: 2, size: 10 })).toEqual({ total: 1, items: [] });
  });

  it('client list filters by side, type, grant, active state and a case-insensitive search of name or client_id', async () => {
    const admin = asUser(admin2, true);
    const { client: a } = await server.grantry.clients.create(admin, { side: 'backoffice', name: 'Filter 100% Reporting', type: 'public', grants: ['authorization_code'], redirectUris: ['https://r.example/cb'] });
    const { client: b } = await server.grantry.clients.create(admin, { side: 'storefront', name: 'Filter Shop', type: 'confidential', grants: ['authorization_code', 'refresh_token'], redirectUris: ['https://s.example/cb'] });
    await server.grantry.clients.setActive(admin, b.clientId, false);
    const ids = async (q: Parameters<TestServer['grantry']['clients']['list']>[1]) => (await server.grantry.clients.list(admin, q)).items.map((c) => c.clientId);
    expect(await ids({ search: 'filter', page: 1, size: 100 })).toEqual([a.clientId, b.clientId]);
    expect(await ids({ search: 'FILTER 100%', page: 1, size: 100 })).toEqual([a.clientId]);
    expect(await ids({ search: 'filter_', page: 1, size: 100 })).toEqual([]);
    expect(await ids({ search: b.clientId.slice(3, 15).toUpperCase(), page: 1, size: 100 })).toContain(b.clientId);
    expect(await ids({ search: 'filter', side: 'storefront', page: 1, size: 100 })).toEqual([b.clientId]);
    expect(await ids({ search: 'filter', type: 'public', page: 1, size: 100 })).toEqual([a.clientId]);
    expect(await ids({ search: 'filter', grant: 'refresh_token', page: 1, size: 100 })).toEqual([b.clientId]);
    expect(await ids({ search: 'filter', active: false, page: 1, size: 100 })).toEqual([b.clientId]);
    const paged = await server.grantry.clients.list(admin, { search: 'filter', page: 2, size: 1 });
    expect(paged).toMatchObject({ total: 2, items: [{ clientId: b.clientId }] });
    await expectRefused(server.grantry.clients.list(admin, { page: 0, size: 10 }), 'invalid_input', /page/);
  });

  it('there is always one active admin, and a console user cannot demote, disable or delete themselves', async () => {
    const fresh = await startServerWithSideUsers(backend);
    try {
      const s = fresh.server;
      // The first-start admin is the only one.
      await expectRefused(s.grantry.users.setAdmin(CLI, 'admin', false), 'invalid_input', /last active admin/);
      await expectRefused(s.grantry.users.setFlag(CLI, 'backoffice', 'admin', 'enabled', false), 'invalid_input', /last active admin/);
      await expectRefused(s.grantry.users.setFlag(CLI, 'backoffice', 'admin', 'locked', true), 'invalid_input', /last active admin/);
      await expectRefused(s.grantry.users.delete(CLI, 'backoffice', 'admin'), 'invalid_input', /last active admin/);
      const root = (await s.grantry.users.get(CLI, 'backoffice', 'admin')) as { id: number; username: string };
      const other = await s.createBackofficeUser('second-admin', undefined, { isAdmin: true });
      await expectRefused(s.grantry.users.setAdmin(asUser(root, true), 'admin', false), 'invalid_input', /your own admin right/);
      await expectRefused(s.grantry.users.delete(asUser(root, true), 'backoffice', 'admin'), 'invalid_input', /delete yourself/);
      await expectRefused(s.grantry.users.setFlag(asUser(root, true), 'backoffice', 'admin', 'enabled', false), 'invalid_input', /yourself/);
      // Another admin may demote them, now that two exist; then the other is the last one.
      expect((await s.grantry.users.setAdmin(asUser(other, true), 'admin', false)).isAdmin).toBe(false);
      await expectRefused(s.grantry.users.setAdmin(CLI, 'second-admin', false), 'invalid_input', /last active admin/);
      expect((await s.grantry.users.setAdmin(CLI, 'admin', true)).isAdmin).toBe(true);
    } finally {
      await fresh.server.close();
    }
  });

  it('deleting a user takes their sessions, grants and tokens: their token fails at the API at once', async () => {
    for (const side of ['backoffice', 'storefront'] as const) {
      const user: SideUser = await createSideUser(server, side);
      const client = await refreshClient(server, side);
      const pair = await firstPair(server, user, client);
      await expectApiAccepts(server, side, pair.accessToken, user.id);
      await server.grantry.users.delete(CLI, side, user.login);
      await expectApiRefuses(server, side, pair.accessToken);
      expectTokenError(await refresh(server, client, pair.refreshToken), 400, 'invalid_grant');
      await expectRefused(server.grantry.users.get(CLI, side, String(user.id)), 'not_found');
      const grants = await server.grantry.database.db.selectFrom('grants').select('id').where('side', '=', side).where('user_id', '=', user.id).execute();
      const sessions = await server.grantry.database.db.selectFrom('sessions').select('id_hash').where('side', '=', side).where('user_id', '=', user.id).execute();
      expect([grants, sessions]).toEqual([[], []]);
    }
  });

  it('a user who owns clients cannot be deleted, and the message says how many', async () => {
    const owner = await server.createBackofficeUser('owner-perm');
    await server.grantry.clients.create(asUser(owner, false), newClient('Owned 1'));
    await server.grantry.clients.create(asUser(owner, false), newClient('Owned 2'));
    await expectRefused(server.grantry.users.delete(CLI, 'backoffice', owner.username), 'conflict', /owns 2 client\(s\)/);
    expect((await server.grantry.users.get(CLI, 'backoffice', owner.username)).id).toBe(owner.id);
  });

  it('setting a password ends the sessions and tokens obtained before, and the new one signs in', async () => {
    const user = await createSideUser(server, 'backoffice');
    const client = await refreshClient(server, 'backoffice');
    const pair = await firstPair(server, user, client);
    await server.grantry.users.setPassword(CLI, 'backoffice', user.login, 'brand-new-password-1');
    await expectApiRefuses(server, 'backoffice', pair.accessToken);
    expectTokenError(await refresh(server, client, pair.refreshToken), 400, 'invalid_grant');
    await expectRefused(server.grantry.users.setPassword(CLI, 'backoffice', user.login, 'short'), 'invalid_input', /at least/);
    const again = await firstPair(server, { ...user, password: 'brand-new-password-1', browser: new (user.browser.constructor as new (url: string) => SideUser['browser'])(server.url) }, client);
    await expectApiAccepts(server, 'backoffice', again.accessToken, user.id);
  });

  it('user list searches usernames and emails in any spelling, with paging', async () => {
    await server.createBackofficeUser('Searchable-One');
    await server.createBackofficeUser('searchable-two');
    const page = await server.grantry.users.list(CLI, 'backoffice', { search: 'SEARCHABLE', page: 1, size: 1 });
    expect(page.total).toBe(2);
    expect(page.items.map((u) => ('username' in u ? u.username : ''))).toEqual(['Searchable-One']);
    expect((await server.grantry.users.list(CLI, 'storefront', { search: 'nobody-like-this', page: 1, size: 10 })).total).toBe(0);
  });
});
