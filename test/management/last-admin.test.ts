/**
 * "There is always one active admin" under concurrency, on both databases: admins demoting,
 * disabling, locking or deleting each other at the same moment never leave zero enabled,
 * unlocked admins. The check and the change are one atomic step in the repository; checked
 * separately, both of two concurrent demotions saw two admins and both went through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManagementError } from '../../src/management/errors.js';
import { type ActionContext, CLI } from '../../src/management/principal.js';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

type Admin = { id: number; username: string };
type Change = 'demote' | 'disable' | 'lock' | 'delete';

const asAdmin = (user: Admin): ActionContext => ({ principal: { kind: 'user', side: 'backoffice', userId: user.id, isAdmin: true, label: user.username } });

describe.each(BACKENDS)('always one active admin, under concurrency (%s)', (backend) => {
  let server: TestServer;
  let serial = 0;

  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  const activeAdmins = async () =>
    (
      await server.grantry.database.db
        .selectFrom('backoffice_users')
        .select('username')
        .where('is_admin', '=', 1)
        .where('enabled', '=', 1)
        .where('locked', '=', 0)
        .execute()
    ).map((r) => r.username);

  /** Makes `count` new admins and leaves them the only active ones. */
  async function onlyAdmins(count: number): Promise<Admin[]> {
    const admins: Admin[] = [];
    for (let i = 0; i < count; i++) admins.push(await server.createBackofficeUser(`race-admin-${++serial}`, undefined, { isAdmin: true }));
    for (const name of await activeAdmins()) {
      if (!admins.some((a) => a.username === name)) await server.grantry.users.setAdmin(CLI, name, false);
    }
    expect((await activeAdmins()).sort()).toEqual(admins.map((a) => a.username).sort());
    return admins;
  }

  function apply(actor: Admin, target: Admin, change: Change): Promise<unknown> {
    const users = server.grantry.users;
    const ctx = asAdmin(actor);
    if (change === 'demote') return users.setAdmin(ctx, target.username, false);
    if (change === 'disable') return users.setFlag(ctx, 'backoffice', target.username, 'enabled', false);
    if (change === 'lock') return users.setFlag(ctx, 'backoffice', target.username, 'locked', true);
    return users.delete(ctx, 'backoffice', target.username);
  }

  /** Runs the changes at once; returns the errors of the refused ones. */
  async function race(changes: [Admin, Admin, Change][]): Promise<ManagementError[]> {
    const results = await Promise.allSettled(changes.map(([actor, target, change]) => apply(actor, target, change)));
    return results.flatMap((r) => (r.status === 'rejected' ? [r.reason as ManagementError] : []));
  }

  it('two admins changing each other at the same moment: one change goes through, the other is refused as the last admin', async () => {
    const changes = ['demote', 'disable', 'lock', 'delete'] as const;
    // Every pair of changes, each way round.
    for (let round = 0; round < 16; round++) {
      const [a, b] = (await onlyAdmins(2)) as [Admin, Admin];
      const errors = await race([
        [a, b, changes[round % 4] as Change],
        [b, a, changes[Math.floor(round / 4)] as Change],
      ]);
      expect(await activeAdmins(), `round ${round}`).toHaveLength(1);
      expect(errors, `round ${round}`).toHaveLength(1);
      expect(errors[0]).toMatchObject({ name: 'ManagementError', code: 'invalid_input' });
      expect(errors[0]?.message).toMatch(/is the last active admin and cannot /);
    }
  });

  it('three admins each changing another at the same moment: exactly one stays active', async () => {
    const changes = ['demote', 'disable', 'lock', 'delete'] as const;
    for (let round = 0; round < 8; round++) {
      const [a, b, c] = (await onlyAdmins(3)) as [Admin, Admin, Admin];
      const errors = await race([
        [a, b, changes[round % 4] as Change],
        [b, c, changes[(round + 1) % 4] as Change],
        [c, a, changes[(round + 2) % 4] as Change],
      ]);
      expect(await activeAdmins(), `round ${round}`).toHaveLength(1);
      expect(errors.map((e) => e.message), `round ${round}`).toEqual([expect.stringMatching(/is the last active admin/)]);
    }
  });

  it('the refusals say in plain words what the last admin cannot become', async () => {
    const [a] = (await onlyAdmins(1)) as [Admin];
    const refusal = async (p: Promise<unknown>) => ((await p.then(() => undefined, (e: unknown) => e)) as Error).message;
    expect(await refusal(server.grantry.users.setAdmin(CLI, a.username, false))).toBe(`"${a.username}" is the last active admin and cannot lose the admin right; make another user an admin first`);
    expect(await refusal(server.grantry.users.setFlag(CLI, 'backoffice', a.username, 'enabled', false))).toMatch(/cannot be disabled;/);
    expect(await refusal(server.grantry.users.setFlag(CLI, 'backoffice', a.username, 'locked', true))).toMatch(/cannot be locked;/);
    expect(await refusal(server.grantry.users.delete(CLI, 'backoffice', a.username))).toMatch(/cannot be deleted;/);
    expect(await activeAdmins()).toEqual([a.username]);
  });
});
