/**
 * Which database the CLI uses. Management commands (users, clients, tokens, keys rotate/list,
 * cleanup) work on the server's existing database or fail: run from another folder or without
 * the server's environment they must not create an empty ./var/ the server never reads. Every
 * command names the database it uses on stderr; --data-dir points the CLI at a data folder.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { tokenRequest } from '../helpers/oauth.js';
import { createPostgresDatabase, type DataDir, freshDataDir, startTestServer, type TestServer } from '../helpers/server.js';
import { expectFailure, okJson, onlyJson, runCli, usingDatabase } from './run.js';

/** An environment without GRANTRY_DATA_DIR or DATABASE_URL: the defaults (./var) apply. */
const bareEnv = (extra: Record<string, string> = {}) => ({ GRANTRY_LOG_LEVEL: 'silent', PATH: process.env.PATH ?? '', ...extra });

const CONFIDENTIAL = ['--side', 'backoffice', '--type', 'confidential', '--grant', 'authorization_code', '--redirect-uri', 'https://app.example/cb'];

/** Every command that manages the server's data, with the stdin it needs. */
const MANAGEMENT: Array<[string, string[], string?]> = [
  ['client list', ['client', 'list']],
  ['client create', ['client', 'create', '--name', 'Reporting app', ...CONFIDENTIAL]],
  ['client show', ['client', 'show', 'some-client']],
  ['user list', ['user', 'list', '--side', 'backoffice']],
  ['user create', ['user', 'create', '--side', 'storefront', '--email', 'a@example.com'], 'long-enough-password\n'],
  ['user disable', ['user', 'disable', '--side', 'backoffice', 'alice']],
  ['token revoke', ['token', 'revoke', '--client', 'some-client']],
  ['keys list', ['keys', 'list']],
  ['keys rotate', ['keys', 'rotate']],
  ['cleanup', ['cleanup']],
];

let root: string;
beforeAll(() => {
  // realpath: the CLI reports the path as its working directory sees it.
  root = realpathSync(mkdtempSync(path.join(tmpdir(), 'grantry-cli-db-')));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
const emptyFolder = (name: string) => mkdtempSync(path.join(root, `${name}-`));

describe('management commands in a folder without a Grantry database', () => {
  it.each(MANAGEMENT)('%s: exit 2 naming the database it looked for; creates no file or folder', async (_name, args, input) => {
    const cwd = emptyFolder('cwd');
    const [text, json] = await Promise.all([runCli(args, bareEnv(), input, cwd), runCli([...args, '--json'], bareEnv(), input, cwd)]);
    const expected = `grantry: no Grantry database at ${cwd}/var/grantry.sqlite (DATABASE_URL / database_url, data_dir / GRANTRY_DATA_DIR); run this where the server runs, pass --data-dir, or start the server once`;
    expectFailure(text, 2, `${expected}\n`);
    expect(text.stdout).toBe('');
    expectFailure(json, 2, expected);
    expect(onlyJson(json)).toEqual({ error: 'no_database', message: expected.slice('grantry: '.length) });
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('--data-dir names the folder looked in; a missing one is not created', async () => {
    const cwd = emptyFolder('cwd');
    const elsewhere = path.join(root, 'no-such-folder');
    const r = await runCli(['--data-dir', elsewhere, 'client', 'list'], bareEnv(), '', cwd);
    expectFailure(r, 2, `grantry: no Grantry database at ${elsewhere}/grantry.sqlite`);
    expect(existsSync(elsewhere)).toBe(false);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('an existing SQLite file without Grantry tables is refused and left as it was', async () => {
    const dir = emptyFolder('foreign');
    const file = path.join(dir, 'grantry.sqlite');
    writeFileSync(file, '');
    const r = await runCli(['client', 'list'], bareEnv({ GRANTRY_DATA_DIR: dir }));
    expectFailure(r, 2, `grantry: the SQLite database ${file} has no Grantry tables`);
    expect(statSync(file).size).toBe(0);
    expect(readdirSync(dir)).toEqual(['grantry.sqlite']);
  });

  it('a Grantry database whose server secret is missing is refused, naming the secret file; none is created', async () => {
    const dir = emptyFolder('no-secret');
    const secretFile = path.join(dir, 'secret');
    expect((await runCli(['migrate'], bareEnv({ GRANTRY_DATA_DIR: dir }))).code).toBe(0);
    rmSync(secretFile);
    const r = await runCli(['client', 'list'], bareEnv({ GRANTRY_DATA_DIR: dir }));
    expectFailure(r, 2, `grantry: no server secret at ${secretFile}`);
    expect(existsSync(secretFile)).toBe(false);
  });
});

describe.runIf(BACKENDS.includes('postgres'))('management commands on a PostgreSQL database without Grantry tables', () => {
  let database: { url: string; drop: () => Promise<void> };
  beforeAll(async () => {
    database = await createPostgresDatabase();
  });
  afterAll(() => database?.drop());

  it('are refused with exit 2, the URL named with its password masked, and the database is not migrated', async () => {
    const url = new URL(database.url);
    // The test server trusts local connections, so a password in the URL is accepted and ignored.
    url.password = 'db-password-1';
    const cwd = emptyFolder('pg');
    const results = await Promise.all([
      runCli(['client', 'list', '--json'], bareEnv({ DATABASE_URL: url.href }), '', cwd),
      runCli(['user', 'list', '--side', 'storefront'], bareEnv({ DATABASE_URL: url.href }), '', cwd),
    ]);
    url.password = '****';
    for (const r of results) {
      expectFailure(r, 2, `grantry: the PostgreSQL database ${url.href} has no Grantry tables (DATABASE_URL / database_url); use the server's DATABASE_URL, or start the server once`);
      expect(r.stderr).not.toContain('db-password-1');
    }
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const tables = await client.query("select table_name from information_schema.tables where table_schema = 'public'");
      expect(tables.rows).toEqual([]);
    } finally {
      await client.end();
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('a database that does not exist is a missing database too: exit 2 with the advice and the masked URL, for every command', async () => {
    const url = new URL(database.url);
    url.pathname = `${url.pathname}_absent`;
    url.password = 'db-password-1';
    const cwd = emptyFolder('pg-absent');
    const env = bareEnv({ DATABASE_URL: url.href });
    const [listed, json, migrated, started] = await Promise.all([
      runCli(['client', 'list'], env, '', cwd),
      runCli(['user', 'list', '--side', 'storefront', '--json'], env, '', cwd),
      runCli(['migrate'], env, '', cwd),
      runCli(['start'], { ...env, PORT: '0' }, '', cwd),
    ]);
    url.password = '****';
    const missing = `the PostgreSQL database ${url.href} does not exist (DATABASE_URL / database_url)`;
    const advice = "; use the server's DATABASE_URL, or start the server once";
    expectFailure(listed, 2, `grantry: ${missing}${advice}\n`);
    expectFailure(json, 2, `grantry: ${missing}${advice}\n`);
    expect(onlyJson(json)).toEqual({ error: 'no_database', message: `${missing}${advice}` });
    for (const r of [migrated, started]) expectFailure(r, 2, `grantry: ${missing}\n`);
    for (const r of [listed, json, migrated, started]) expect(r.stderr).not.toContain('db-password-1');
    expect(readdirSync(cwd)).toEqual([]);
  });
});

/**
 * The server secret keys every hash a Grantry database stores and seals its signing keys: a
 * database Grantry has set up is only usable with the secret it was set up with. Only a new
 * database gets a new secret, and only once the database has answered.
 */
describe.each(BACKENDS)('the server secret of an existing database (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  it.each([['migrate'], ['start']])('%s from a folder without the secret: exit 2 naming the secret file it looked for; writes nothing', async (command) => {
    const cwd = emptyFolder(`no-secret-${command}`);
    const r = await runCli([command], bareEnv({ DATABASE_URL: server.config.databaseUrl, PORT: '0' }), '', cwd);
    expectFailure(r, 2, `grantry: no server secret at ${cwd}/var/secret (GRANTRY_SECRET / secret, data_dir / GRANTRY_DATA_DIR)`);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("migrate with the server's secret works from anywhere, and writes no secret file", async () => {
    const cwd = emptyFolder('with-secret');
    const secret = readFileSync(path.join(server.dir, 'secret'), 'utf8').trim();
    const r = await runCli(['migrate', '--json'], bareEnv({ DATABASE_URL: server.config.databaseUrl, GRANTRY_SECRET: secret }), '', cwd);
    expect(okJson(r)).toEqual({ applied: [] });
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('a database that cannot be opened gets no server secret', () => {
  it.each([
    ['PostgreSQL server that does not answer', () => 'postgres://grantry@127.0.0.1:1/grantry', /^grantry: .*ECONNREFUSED/m],
    ['SQLite file in a folder that cannot be made', (cwd: string) => `sqlite:${path.join(cwd, 'not-a-folder', 'grantry.sqlite')}`, /^grantry: E[A-Z]+: .*not-a-folder/m],
  ])('%s: migrate fails as a system error (exit 1) and writes no secret', async (_what, databaseUrl, message) => {
    const cwd = emptyFolder('unopenable');
    writeFileSync(path.join(cwd, 'not-a-folder'), '');
    const r = await runCli(['migrate'], bareEnv({ DATABASE_URL: databaseUrl(cwd) }), '', cwd);
    expectFailure(r, 1, message);
    expect(readdirSync(cwd)).toEqual(['not-a-folder']);
  });
});

describe('--data-dir points the CLI at the server\'s data folder', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite');
  });
  afterAll(() => server?.close());

  it('from another folder, a client created with --data-dir is the server\'s (same database, same secret); the database is named', async () => {
    const cwd = emptyFolder('elsewhere');
    const created = await runCli(['--data-dir', server.dir, 'client', 'create', '--name', 'Via data dir', ...CONFIDENTIAL, '--json'], bareEnv(), '', cwd);
    const client = okJson(created);
    expect(created.stderr).toContain(usingDatabase(`sqlite:${server.dir}/grantry.sqlite`));
    // The server knows the client and its secret: a made-up code is invalid_grant, not invalid_client.
    const call = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: client.client_id, client_secret: client.client_secret, code: 'made-up' });
    expect(call.status).toBe(400);
    expect(call.json.error).toBe('invalid_grant');

    // The option also works after the subcommand, and overrides GRANTRY_DATA_DIR.
    const listed = await runCli(['client', 'list', '--json', '--data-dir', server.dir], bareEnv({ GRANTRY_DATA_DIR: path.join(cwd, 'wrong') }), '', cwd);
    expect(okJson(listed).clients.map((c: { client_id: string }) => c.client_id)).toContain(client.client_id);
    expect(listed.stderr).toBe(usingDatabase(`sqlite:${server.dir}/grantry.sqlite`));
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('grantry config shows --data-dir as the source of data_dir, and the database and key file under it', async () => {
    const r = await runCli(['config', '--json', '--data-dir', server.dir], bareEnv({ GRANTRY_DATA_DIR: '/elsewhere' }));
    const { settings } = okJson(r);
    expect(settings.data_dir).toEqual({ env: 'GRANTRY_DATA_DIR', value: server.dir, source: 'option' });
    expect(settings.database_url).toEqual({ env: 'DATABASE_URL', value: `sqlite:${server.dir}/grantry.sqlite`, source: 'derived' });
    expect(settings.signing_key_file.value).toBe(`${server.dir}/signing-key.rs256.pem`);
  });

  it('a relative --data-dir is resolved from the working directory', async () => {
    const cwd = path.dirname(server.dir);
    const r = await runCli(['--data-dir', path.basename(server.dir), 'keys', 'list', '--json'], bareEnv(), '', cwd);
    expect(okJson(r).keys).toHaveLength(1);
    expect(r.stderr).toBe(usingDatabase(`sqlite:${server.dir}/grantry.sqlite`));
  });
});

describe.each(BACKENDS)('every command names the database it uses (%s)', (backend) => {
  let data: DataDir;
  let env: Record<string, string>;
  beforeAll(async () => {
    data = await freshDataDir(backend, 'grantry-cli-db-named-');
    env = bareEnv({ GRANTRY_DATA_DIR: data.dir, DATABASE_URL: data.databaseUrl });
  });
  afterAll(() => data?.remove());

  it('migrate creates it and says so on stderr; management commands then use it, stdout staying one JSON object', async () => {
    const migrated = await runCli(['migrate', '--json'], env);
    expect(okJson(migrated).applied.length).toBeGreaterThan(0);
    expect(migrated.stderr).toBe(usingDatabase(data.databaseUrl));
    // A new database: its server secret is created with it.
    expect(readFileSync(path.join(data.dir, 'secret'), 'utf8').trim().length).toBeGreaterThanOrEqual(32);
    const listed = await runCli(['user', 'list', '--side', 'backoffice', '--json'], env);
    expect(okJson(listed)).toMatchObject({ users: [] });
    expect(listed.stderr).toBe(usingDatabase(data.databaseUrl));
  });
});
