/**
 * `grantry migrate`, `grantry user ...` and `grantry client ...` against a real database, on
 * SQLite and on PostgreSQL. Every call spawns the compiled CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/database.js';
import { createRepositories } from '../../src/storage/index.js';
import { BACKENDS } from '../helpers/backends.js';
import { type DataDir, freshDataDir } from '../helpers/server.js';
import { type CliResult, cliEnv, expectFailure, okJson, onlyJson, runCli, usingDatabase } from './run.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const PASSWORD = 'correct-horse-battery';

describe.each(BACKENDS)('grantry migrate, user and client commands (%s)', (backend) => {
  let data: DataDir;
  let env: Record<string, string>;
  const cli = (args: string[], input?: string): Promise<CliResult> => runCli(args, env, input);

  beforeAll(async () => {
    data = await freshDataDir(backend, 'grantry-cli-');
    env = cliEnv(data.dir, data.databaseUrl);
  });
  afterAll(() => data?.remove());

  it('migrate applies the migrations once and reports them', async () => {
    expect(okJson(await cli(['migrate', '--json']))).toEqual({ applied: ['001-initial', '002-token-lifecycle', '003-brute-force', '004-normalized-logins', '005-code-redirect-uri-sent', '006-audit-trail', '007-consents', '008-sessions-by-user', '009-openid-connect'] });
    expect(okJson(await cli(['migrate', '--json']))).toEqual({ applied: [] });
    const text = await cli(['migrate']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/database is up to date: no migration to apply/);
  });

  describe('users', () => {
    it('creates a back-office admin with the password from the first line of stdin', async () => {
      // Only the first line is the password: what follows is ignored.
      const r = await cli(['user', 'create', '--side', 'backoffice', '--username', 'alice', '--email', 'alice@example.com', '--admin', '--json'], `${PASSWORD}\nignored\n`);
      const json = okJson(r);
      expect(json).toEqual({
        id: expect.any(Number),
        side: 'backoffice',
        username: 'alice',
        email: 'alice@example.com',
        admin: true,
        enabled: true,
        locked: false,
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      });
      // Only the name of the database it used.
      expect(r.stderr).toBe(usingDatabase(data.databaseUrl));
      expect(r.stdout).not.toContain(PASSWORD);
      // The stored password is the one from stdin (and only its first line).
      const database = openDatabase(data.databaseUrl);
      try {
        const account = await createRepositories(database.db).users.findLoginAccount('backoffice', 'alice');
        const { verifyPassword } = await import('../../src/security/passwords.js');
        expect(await verifyPassword(PASSWORD, account?.passwordHash)).toBe(true);
      } finally {
        await database.close();
      }
    });

    it('creates a storefront user (CRLF line ending accepted), readable and JSON output', async () => {
      const text = await cli(['user', 'create', '--side', 'storefront', '--email', 'bob@example.com', '--first-name', 'Bob', '--last-name', 'Builder'], `${PASSWORD}\r\n`);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/^Created storefront user \d+ <bob@example\.com> \(enabled\)\.\n$/);

      const json = okJson(await cli(['user', 'create', '--side', 'storefront', '--email', 'carol@example.com', '--json'], `${PASSWORD}\n`));
      expect(json).toEqual({
        id: expect.any(Number),
        side: 'storefront',
        email: 'carol@example.com',
        first_name: null,
        last_name: null,
        enabled: true,
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      });
      expect(json).not.toHaveProperty('username');
      expect(json).not.toHaveProperty('locked');
    });

    it('refuses a short password, a common one, the username, a missing password and a duplicate with exit 1 and a clear message', async () => {
      const [short, common, own, missing, duplicate, duplicateEmail] = await Promise.all([
        // Eleven characters: one less than password_min_length's default.
        cli(['user', 'create', '--side', 'storefront', '--email', 'short@example.com', '--json'], 'v8#kT2!mq9Z\n'),
        cli(['user', 'create', '--side', 'backoffice', '--username', 'common', '--email', 'common@example.com', '--json'], 'Qwerty123456\n'),
        cli(['user', 'create', '--side', 'backoffice', '--username', 'rosalind.franklin', '--email', 'rf@example.com'], 'Rosalind.Franklin\n'),
        cli(['user', 'create', '--side', 'storefront', '--email', 'none@example.com']),
        cli(['user', 'create', '--side', 'backoffice', '--username', 'alice', '--email', 'other@example.com', '--json'], `${PASSWORD}\n`),
        cli(['user', 'create', '--side', 'storefront', '--email', 'bob@example.com'], `${PASSWORD}\n`),
      ]);
      expectFailure(short, 1, 'grantry: the password must have at least 12 characters');
      expect(onlyJson(short)).toEqual({ error: 'invalid_input', message: 'the password must have at least 12 characters' });
      expectFailure(common, 1, 'grantry: this password is too common; choose another');
      expect(onlyJson(common)).toEqual({ error: 'invalid_input', message: 'this password is too common; choose another' });
      expectFailure(own, 1, 'grantry: the password must not be the username or the email address');
      expectFailure(missing, 1, 'grantry: no password on standard input');
      expect(missing.stdout).toBe('');
      expectFailure(duplicate, 1, 'grantry: a back-office user with that username or email already exists');
      expect(onlyJson(duplicate)).toEqual({ error: 'conflict', message: 'a back-office user with that username or email already exists' });
      expectFailure(duplicateEmail, 1, 'grantry: a storefront user with that email already exists');
      const list = okJson(await cli(['user', 'list', '--side', 'storefront', '--json']));
      expect(list.users.map((u: { email: string }) => u.email)).toEqual(['bob@example.com', 'carol@example.com']);
    });

    it('lists users with pagination, as JSON and as a table', async () => {
      const page = okJson(await cli(['user', 'list', '--side', 'storefront', '--size', '1', '--page', '2', '--json']));
      expect(page).toEqual({ users: [expect.objectContaining({ email: 'carol@example.com', side: 'storefront' })], total: 2, page: 2, size: 1 });
      const text = await cli(['user', 'list', '--side', 'backoffice']);
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/^ID\s+USERNAME\s+EMAIL\s+ADMIN\s+ENABLED\s+LOCKED\s+CREATED$/m);
      expect(text.stdout).toMatch(/^\d+\s+alice\s+alice@example\.com\s+yes\s+yes\s+no\s+\S+Z$/m);
      expect(text.stdout).toContain('1 of 1 backoffice user(s)');
      expectFailure(await cli(['user', 'list', '--side', 'backoffice', '--size', '0']), 2, "option '--size <n>' argument '0' is invalid");
    });

    it('disables, enables, locks and unlocks by username, id or email', async () => {
      // alice is the only admin, and the last active admin cannot be disabled or locked: give her a colleague.
      okJson(await cli(['user', 'create', '--side', 'backoffice', '--username', 'backup', '--email', 'backup@example.com', '--admin', '--json'], `${PASSWORD}\n`));
      const alice = okJson(await cli(['user', 'disable', '--side', 'backoffice', 'alice', '--json']));
      expect(alice).toMatchObject({ username: 'alice', enabled: false, locked: false });
      expect(okJson(await cli(['user', 'lock', '--side', 'backoffice', String(alice.id), '--json']))).toMatchObject({ username: 'alice', enabled: false, locked: true });
      expect(okJson(await cli(['user', 'enable', '--side', 'backoffice', 'alice@example.com', '--json']))).toMatchObject({ enabled: true, locked: true });
      const listed = okJson(await cli(['user', 'list', '--side', 'backoffice', '--json']));
      expect(listed.users).toEqual([expect.objectContaining({ username: 'alice', enabled: true, locked: true }), expect.objectContaining({ username: 'backup' })]);
      const unlocked = await cli(['user', 'unlock', '--side', 'backoffice', 'alice']);
      expect(unlocked.code).toBe(0);
      expect(unlocked.stdout).toBe(`Updated backoffice user ${alice.id} "alice" <alice@example.com> (admin, enabled, not locked).\n`);

      expect(okJson(await cli(['user', 'disable', '--side', 'storefront', 'bob@example.com', '--json']))).toMatchObject({ email: 'bob@example.com', enabled: false });
      const [lockStorefront, unknown] = await Promise.all([
        cli(['user', 'lock', '--side', 'storefront', 'bob@example.com', '--json']),
        cli(['user', 'enable', '--side', 'storefront', 'nobody@example.com', '--json']),
      ]);
      expectFailure(lockStorefront, 1, 'grantry: storefront users cannot be locked; disable them instead');
      expect(onlyJson(lockStorefront).error).toBe('invalid_input');
      expectFailure(unknown, 1, 'grantry: no storefront user "nobody@example.com"');
      expect(onlyJson(unknown)).toEqual({ error: 'not_found', message: 'no storefront user "nobody@example.com"' });
    });
  });

  describe('clients', () => {
    it('creates a confidential client: the secret is printed once, never by list or show', async () => {
      const created = await cli([
        'client', 'create', '--side', 'backoffice', '--name', 'Admin console', '--type', 'confidential',
        '--grant', 'authorization_code', '--redirect-uri', 'https://console.example/cb', '--redirect-uri', 'http://127.0.0.1/cb', '--json',
      ]);
      const json = okJson(created);
      expect(json).toEqual({
        client_id: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/),
        client_secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        name: 'Admin console',
        side: 'backoffice',
        type: 'confidential',
        grants: ['authorization_code'],
        redirect_uris: ['https://console.example/cb', 'http://127.0.0.1/cb'],
        post_logout_redirect_uris: [],
        scopes: ['api'],
        owner_user_id: null,
        allow_guests: false,
        skip_consent: false,
        id_token_signed_response_alg: null,
        subject_type: 'public',
        active: true,
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
        last_used_at: null,
      });
      expect(created.stderr).toContain('the client secret is shown only this once');

      const database = openDatabase(data.databaseUrl);
      const secretHash = (await createRepositories(database.db).clients.findByClientId(json.client_id))?.secretHash;
      await database.close();
      expect(secretHash).toBeTruthy();

      const outputs = await Promise.all([
        cli(['client', 'show', json.client_id]),
        cli(['client', 'show', json.client_id, '--json']),
        cli(['client', 'list']),
        cli(['client', 'list', '--json']),
      ]);
      for (const r of outputs) {
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(json.client_id);
        expect(r.stdout).not.toContain(json.client_secret);
        expect(r.stdout).not.toContain(secretHash);
        expect(r.stdout).not.toMatch(/secret/i);
      }
      const { client_secret: _secret, ...withoutSecret } = json;
      expect(onlyJson(outputs[1] as CliResult)).toEqual(withoutSecret);
      expect(outputs[0]?.stdout).toMatch(/^type\s+confidential$/m);
    });

    it('creates a public client without a secret, readable output', async () => {
      const r = await cli(['client', 'create', '--side', 'storefront', '--name', 'Mobile app', '--type', 'public', '--grant', 'authorization_code', '--redirect-uri', 'com.example.app:/callback', '--skip-consent']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^Created public storefront client "Mobile app"\.\n  client_id\s+[A-Za-z0-9_-]{32}\n  grants\s+authorization_code\n  scopes\s+api\n  owner user\s+\(none\)\n  allow guests\s+no\n$/);
      expect(r.stdout).not.toMatch(/secret/i);
      // Only the name of the database it used.
      expect(r.stderr).toBe(usingDatabase(data.databaseUrl));
      const clientId = /client_id\s+(\S+)/.exec(r.stdout)?.[1] as string;
      const json = okJson(await cli(['client', 'show', clientId, '--json']));
      expect(json).toMatchObject({ client_id: clientId, type: 'public', side: 'storefront', skip_consent: true, redirect_uris: ['com.example.app:/callback'] });
      expect(json).not.toHaveProperty('client_secret');
    });

    it('refuses a plain-http redirect URI, an unknown grant, a missing grant and a duplicate name', async () => {
      const base = ['client', 'create', '--side', 'storefront', '--type', 'public'];
      const [evil, unknownGrant, noGrant, duplicate] = await Promise.all([
        cli([...base, '--name', 'Evil', '--grant', 'authorization_code', '--redirect-uri', 'http://evil.example', '--json']),
        cli([...base, '--name', 'Implicit', '--grant', 'implicit', '--redirect-uri', 'https://a.example/cb']),
        cli([...base, '--name', 'Nothing', '--redirect-uri', 'https://a.example/cb']),
        cli([...base, '--name', 'Mobile app', '--grant', 'authorization_code', '--redirect-uri', 'https://a.example/cb']),
      ]);
      expectFailure(evil, 1, 'grantry: redirect URI http://evil.example must use https (http is allowed only for loopback addresses)');
      expect(onlyJson(evil)).toEqual({ error: 'invalid_input', message: expect.stringContaining('must use https') });
      expectFailure(unknownGrant, 1, 'grantry: unknown grant type "implicit"');
      expectFailure(noGrant, 2, 'grantry: give at least one --grant');
      expectFailure(duplicate, 1, 'grantry: a storefront client named "Mobile app" already exists');
      const names = okJson(await cli(['client', 'list', '--side', 'storefront', '--json'])).clients.map((c: { name: string }) => c.name);
      expect(names).toEqual(['Mobile app']);
    });

    it('list/show/deactivate/activate/delete round trip', async () => {
      const created = okJson(
        await cli(['client', 'create', '--side', 'storefront', '--name', 'Round trip', '--type', 'confidential', '--grant', 'authorization_code', '--redirect-uri', 'https://shop.example/cb', '--json']),
      );
      const id = created.client_id as string;
      const listed = okJson(await cli(['client', 'list', '--side', 'storefront', '--json']));
      expect(listed.clients.find((c: { client_id: string }) => c.client_id === id)).toMatchObject({ name: 'Round trip', active: true });
      const backofficeOnly = okJson(await cli(['client', 'list', '--side', 'backoffice', '--json']));
      expect(backofficeOnly.clients.map((c: { name: string }) => c.name)).toEqual(['Admin console']);

      expect(okJson(await cli(['client', 'deactivate', id, '--json']))).toMatchObject({ client_id: id, active: false });
      expect(okJson(await cli(['client', 'show', id, '--json']))).toMatchObject({ active: false });
      const activated = await cli(['client', 'activate', id]);
      expect(activated.code).toBe(0);
      expect(activated.stdout).toContain(`Activated client ${id}.`);
      expect(activated.stdout).toMatch(/^active\s+yes$/m);
      expect(okJson(await cli(['client', 'show', id, '--json']))).toMatchObject({ active: true });

      expect(okJson(await cli(['client', 'delete', id, '--json']))).toEqual({ deleted: true, client_id: id });
      const [show, again] = await Promise.all([cli(['client', 'show', id, '--json']), cli(['client', 'delete', id])]);
      expectFailure(show, 1, `grantry: no client with client_id "${id}"`);
      expect(onlyJson(show)).toEqual({ error: 'not_found', message: `no client with client_id "${id}"` });
      expectFailure(again, 1, 'no client with client_id');
    });
  });
});
