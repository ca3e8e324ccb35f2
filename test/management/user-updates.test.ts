/**
 * UserManager.update, the API's PATCH: everything is checked before anything changes, each
 * refusal names its field, a customer changes only their own email and names, and the last
 * active admin and oneself are protected as by the single-change methods.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActionContext, CLI } from '../../src/management/principal.js';
import { BACKENDS } from '../helpers/backends.js';
import { asUser, refusal } from '../helpers/management.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe.each(BACKENDS)('UserManager.update (%s)', (backend) => {
  let server: TestServer;
  const asCustomer = (id: number, email: string): ActionContext => ({ principal: { kind: 'user', side: 'storefront', userId: id, isAdmin: false, label: email } });

  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  it('refuses the whole change when one part is refused: a taken email after a valid flag, a bad password after a valid email', async () => {
    const target = await server.createBackofficeUser('upd-target');
    const holder = await server.createBackofficeUser('upd-holder');
    const taken = await refusal(server.grantry.users.update(CLI, 'backoffice', String(target.id), { locked: true, email: 'UPD-HOLDER@example.com' }));
    expect(taken).toMatchObject({ code: 'conflict', field: 'email' });
    const weak = await refusal(server.grantry.users.update(CLI, 'backoffice', String(target.id), { email: 'upd-new@example.com', admin: true, password: 'qwerty123456' }));
    expect(weak).toMatchObject({ code: 'invalid_input', field: 'password' });
    expect(await server.grantry.repos.users.findBackofficeUser(target.id)).toMatchObject({ locked: false, isAdmin: false, email: 'upd-target@example.com' });
    expect(holder.id).not.toBe(target.id);
  });

  it('the last active admin cannot be demoted, disabled or locked, checked before the email changes', async () => {
    const root = await server.grantry.users.get(CLI, 'backoffice', 'admin');
    expect(await server.grantry.repos.users.countActiveAdmins()).toBe(1);
    for (const [field, change] of [['admin', { admin: false }], ['enabled', { enabled: false }], ['locked', { locked: true }]] as const) {
      const error = await refusal(server.grantry.users.update(CLI, 'backoffice', String(root.id), { email: 'root-new@example.com', ...change }));
      expect(error).toMatchObject({ code: 'invalid_input', field });
      expect(error.message).toMatch(/last active admin/);
    }
    expect(await server.grantry.repos.users.findBackofficeUser(root.id)).toMatchObject({ isAdmin: true, enabled: true, locked: false, email: root.email });
  });

  it('a customer changes their own email (normalised) and names, not their password nor anything else, nor anyone else', async () => {
    const me = await server.createCustomerUser('upd-me@example.com');
    const them = await server.createCustomerUser('upd-them@example.com');
    const ctx = asCustomer(me.id, me.email);
    const updated = await server.grantry.users.update(ctx, 'storefront', String(me.id), { email: ' UPD-Moved@Example.COM ', firstName: 'Ada', lastName: '' });
    expect(updated).toMatchObject({ email: 'upd-moved@example.com', firstName: 'Ada', lastName: null });
    expect(await refusal(server.grantry.users.update(ctx, 'storefront', String(me.id), { password: 'a-long-new-password-9' }))).toMatchObject({ code: 'invalid_input', field: 'password' });
    expect(await refusal(server.grantry.users.update(ctx, 'storefront', String(me.id), { enabled: false }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(server.grantry.users.update(ctx, 'storefront', String(them.id), { firstName: 'Mallory' }))).toMatchObject({ code: 'not_found' });
    expect(await refusal(server.grantry.users.update(ctx, 'storefront', String(me.id), { email: 'UPD-THEM@example.com' }))).toMatchObject({ code: 'conflict', field: 'email' });
    expect(await refusal(server.grantry.users.update(ctx, 'storefront', String(me.id), { firstName: 'tab\tbed' }))).toMatchObject({ code: 'invalid_input', field: 'firstName' });
    expect(await refusal(server.grantry.users.get(ctx, 'backoffice', '1'))).toMatchObject({ code: 'not_found' });
    expect(await server.grantry.repos.users.findCustomerUser(them.id)).toMatchObject({ firstName: 'Test', email: 'upd-them@example.com' });
    // The audit trail says what changed, not to what.
    const events = await server.grantry.audit.list(CLI, { kind: 'user.updated', side: 'storefront', userId: me.id, page: 1, size: 10 });
    expect(events.items.map((e) => e.details)).toEqual([{ changed: 'email,firstName,lastName' }]);
  });

  it('fields of the other side are refused naming them', async () => {
    const staff = await server.createBackofficeUser('upd-staff');
    const shopper = await server.createCustomerUser('upd-shopper@example.com');
    expect(await refusal(server.grantry.users.update(CLI, 'backoffice', String(staff.id), { firstName: 'x' }))).toMatchObject({ field: 'firstName' });
    expect(await refusal(server.grantry.users.update(CLI, 'storefront', String(shopper.id), { locked: true }))).toMatchObject({ field: 'locked' });
    expect(await refusal(server.grantry.users.update(CLI, 'storefront', String(shopper.id), { admin: true }))).toMatchObject({ field: 'admin' });
    // A non-admin back-office user changes only their email here, never with a name.
    expect(await refusal(server.grantry.users.update(asUser(staff, false), 'backoffice', String(staff.id), { email: 'upd-staff2@example.com', firstName: 'x' }))).toMatchObject({ code: 'forbidden' });
  });
});
