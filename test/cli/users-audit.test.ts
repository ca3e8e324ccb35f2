/**
 * `grantry user show|delete|set-password|grant-admin|revoke-admin` and `grantry audit list`,
 * spawning the compiled CLI on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/database.js';
import { createRepositories } from '../../src/storage/index.js';
import { BACKENDS } from '../helpers/backends.js';
import { type DataDir, freshDataDir } from '../helpers/server.js';
import { type CliResult, cliEnv, expectFailure, okJson, runCli } from './run.js';

const PASSWORD = 'first-password-1';
const NEW_PASSWORD = 'second-password-2';

describe.each(BACKENDS)('grantry user show/delete/set-password/grant-admin/revoke-admin and audit list (%s)', (backend) => {
  let data: DataDir;
  let env: Record<string, string>;
  const cli = (args: string[], input?: string): Promise<CliResult> => runCli(args, env, input);

  /** Whether `password` is the stored password of the back-office login. */
  async function passwordIs(login: string, password: string): Promise<boolean> {
    const database = openDatabase(data.databaseUrl);
    try {
      const account = await createRepositories(database.db).users.findLoginAccount('backoffice', login);
      const { verifyPassword } = await import('../../src/security/passwords.js');
      return verifyPassword(password, account?.passwordHash);
    } finally {
      await database.close();
    }
  }

  beforeAll(async () => {
    data = await freshDataDir(backend, 'grantry-cli-users-');
    env = cliEnv(data.dir, data.databaseUrl);
    okJson(await cli(['migrate', '--json']));
    okJson(await cli(['user', 'create', '--side', 'backoffice', '--username', 'root', '--email', 'root@example.com', '--admin', '--json'], `${PASSWORD}\n`));
    okJson(await cli(['user', 'create', '--side', 'backoffice', '--username', 'dana', '--email', 'dana@example.com', '--json'], `${PASSWORD}\n`));
    okJson(await cli(['user', 'create', '--side', 'storefront', '--email', 'eve@example.com', '--first-name', 'Eve', '--json'], `${PASSWORD}\n`));
  });
  afterAll(() => data?.remove());

  it('user show prints one user by id, name or email; unknown is exit 1', async () => {
    const dana = okJson(await cli(['user', 'show', '--side', 'backoffice', 'DANA@example.com', '--json']));
    expect(dana).toMatchObject({ side: 'backoffice', username: 'dana', email: 'dana@example.com', admin: false, enabled: true, locked: false });
    const text = await cli(['user', 'show', '--side', 'storefront', 'eve@example.com']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^email +eve@example\.com$/m);
    expect(text.stdout).toMatch(/^name +Eve$/m);
    expectFailure(await cli(['user', 'show', '--side', 'backoffice', 'nobody']), 1, 'grantry: no backoffice user "nobody"');
  });

  it('grant-admin and revoke-admin; the last active admin keeps the right', async () => {
    expect(okJson(await cli(['user', 'grant-admin', 'dana', '--json'])).admin).toBe(true);
    expect(okJson(await cli(['user', 'revoke-admin', 'dana', '--json'])).admin).toBe(false);
    const last = await cli(['user', 'revoke-admin', 'root', '--json']);
    expect(last.code).toBe(1);
    expect(JSON.parse(last.stdout)).toEqual({ error: 'invalid_input', message: expect.stringMatching(/"root" is the last active admin/) });
    expectFailure(await cli(['user', 'disable', '--side', 'backoffice', 'root']), 1, /last active admin and cannot be disabled/);
    expectFailure(await cli(['user', 'delete', '--side', 'backoffice', 'root', '--yes']), 1, /last active admin and cannot be deleted/);
  });

  it('set-password takes the password from stdin only, checks it, and stores it', async () => {
    expectFailure(await cli(['user', 'set-password', '--side', 'backoffice', 'dana'], 'short\n'), 1, /at least \d+ characters/);
    expectFailure(await cli(['user', 'set-password', '--side', 'backoffice', 'dana'], 'v8#kT2!mq9Z\n'), 1, 'grantry: the password must have at least 12 characters');
    expectFailure(await cli(['user', 'set-password', '--side', 'backoffice', 'dana'], '1q2w3e4r5t6y\n'), 1, 'grantry: this password is too common; choose another');
    expect(await passwordIs('dana', PASSWORD)).toBe(true);
    const r = await cli(['user', 'set-password', '--side', 'backoffice', 'dana', '--json'], `${NEW_PASSWORD}\n`);
    expect(okJson(r)).toMatchObject({ username: 'dana' });
    expect(r.stdout + r.stderr).not.toContain(NEW_PASSWORD);
    expect(await passwordIs('dana', NEW_PASSWORD)).toBe(true);
    expectFailure(await cli(['user', 'set-password', '--side', 'backoffice', 'dana']), 1, /no password on standard input/);
  });

  it('delete needs --yes (exit 2, nothing deleted), then deletes', async () => {
    expectFailure(await cli(['user', 'delete', '--side', 'storefront', 'eve@example.com']), 2, /add --yes/);
    okJson(await cli(['user', 'show', '--side', 'storefront', 'eve@example.com', '--json']));
    const deleted = okJson(await cli(['user', 'delete', '--side', 'storefront', 'eve@example.com', '--yes', '--json']));
    expect(deleted).toMatchObject({ deleted: true, user: { email: 'eve@example.com' } });
    expectFailure(await cli(['user', 'show', '--side', 'storefront', 'eve@example.com']), 1, 'no storefront user');
  });

  it('a user who owns clients is not deleted; the message says how many', async () => {
    okJson(await cli(['client', 'create', '--side', 'backoffice', '--name', 'Dana job', '--type', 'confidential', '--grant', 'client_credentials', '--owner', 'dana', '--json']));
    expectFailure(await cli(['user', 'delete', '--side', 'backoffice', 'dana', '--yes']), 1, /owns 1 client\(s\)/);
  });

  it('audit list shows what the commands did, newest first, filtered by kind, user and client, never a password', async () => {
    const all = okJson(await cli(['audit', 'list', '--size', '1000', '--json']));
    const kinds = (all.events as Array<{ kind: string }>).map((e) => e.kind);
    for (const kind of ['user.created', 'user.admin_granted', 'user.admin_revoked', 'user.password_set', 'user.deleted', 'client.created']) expect(kinds).toContain(kind);
    expect(all.events[0]).toMatchObject({ kind: 'client.created', actor: 'cli', side: 'backoffice', address: null, at: expect.stringMatching(/^\d{4}-/) });
    expect(all.total).toBe(all.events.length);
    const text = JSON.stringify(all);
    for (const secret of [PASSWORD, NEW_PASSWORD]) expect(text).not.toContain(secret);

    const dana = okJson(await cli(['user', 'show', '--side', 'backoffice', 'dana', '--json']));
    const byUser = okJson(await cli(['audit', 'list', '--side', 'backoffice', '--user', 'dana', '--json']));
    expect(new Set((byUser.events as Array<{ user_id: number }>).map((e) => e.user_id))).toEqual(new Set([dana.id]));
    expect((byUser.events as Array<{ kind: string }>).map((e) => e.kind)).toEqual(['user.password_set', 'user.admin_revoked', 'user.admin_granted', 'user.created']);
    const byKind = okJson(await cli(['audit', 'list', '--kind', 'user.deleted', '--json']));
    expect(byKind).toMatchObject({ total: 1, events: [{ kind: 'user.deleted', side: 'storefront' }] });
    const clientId = (all.events[0] as { client_id: string }).client_id;
    expect(okJson(await cli(['audit', 'list', '--client', clientId, '--json'])).total).toBe(1);
    const page = okJson(await cli(['audit', 'list', '--page', '2', '--size', '1', '--json']));
    expect(page).toMatchObject({ page: 2, size: 1, total: all.total, events: [{ id: all.events[1].id }] });

    expectFailure(await cli(['audit', 'list', '--user', 'dana']), 2, /--user needs --side/);
    expectFailure(await cli(['audit', 'list', '--kind', 'nonsense']), 2, /Allowed choices/);
    const table = await cli(['audit', 'list', '--kind', 'user.deleted']);
    expect(table.stdout).toMatch(/^AT +KIND +ACTOR/m);
    expect(table.stdout).toMatch(/user\.deleted +cli/);
  });
});
