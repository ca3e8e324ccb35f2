/**
 * Configuration mistakes an operator makes (bad JSON in a setting, a truncated secret file) are
 * reported as configuration errors (exit 2, one line, no stack trace), and `grantry config`
 * never prints a database password, wherever the URL carries it.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/database.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { cliEnv, expectFailure, okJson, onlyJson, runCli } from './run.js';

const root = mkdtempSync(path.join(tmpdir(), 'grantry-cli-config-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const freshDir = (name: string) => mkdtempSync(path.join(root, `${name}-`));

describe('settings with invalid JSON', () => {
  it.each([
    ['GRANTRY_SCOPES', '{bad'],
    ['GRANTRY_CORS_ALLOWED_ORIGINS', '[bad'],
  ])('%s=%s: exit 2 with a message naming the setting, on config and on a database command', async (name, value) => {
    const env = cliEnv(freshDir('json'), undefined, { [name]: value });
    const [config, list] = await Promise.all([runCli(['config'], env), runCli(['user', 'list', '--side', 'backoffice', '--json'], env)]);
    for (const r of [config, list]) expectFailure(r, 2, new RegExp(`^grantry: invalid environment variable ${name}: .*JSON`));
    expect(config.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(onlyJson(list)).toEqual({ error: 'invalid_config', message: expect.stringContaining(name) });
  });
});

describe('grantry config output', () => {
  it('prints the scopes as JSON in the text table, not [object Object]', async () => {
    const [configured, byDefault] = await Promise.all([
      runCli(['config'], cliEnv(freshDir('scopes'), undefined, { GRANTRY_SCOPES: '{"api": "Use the API", "read": "Read your data"}' })),
      runCli(['config'], cliEnv(freshDir('scopes'), undefined)),
    ]);
    for (const r of [configured, byDefault]) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toContain('[object Object]');
    }
    expect(configured.stdout).toMatch(/^scopes\s+GRANTRY_SCOPES\s+\{"api":"Use the API","read":"Read your data"\}\s+environment$/m);
    // No scopes of its own by default: Grantry's API scopes are always known without them.
    expect(byDefault.stdout).toMatch(/^scopes\s+GRANTRY_SCOPES\s+\{\}\s+default$/m);
  });

  it.each([
    ['postgres://u@db/x?password=s3cret', 'postgres://u@db/x?password=****'],
    ['postgres://u@db:5432/x?sslmode=require&password=s3cret', 'postgres://u@db:5432/x?sslmode=require&password=****'],
    ['postgres://u:s3cret@db/x?password=s3cret', 'postgres://u:****@db/x?password=****'],
    ['postgres://u:s3cret@db/x', 'postgres://u:****@db/x'],
  ])('DATABASE_URL=%s is printed as %s, in JSON and in text', async (url, masked) => {
    const env = cliEnv(freshDir('mask'), url);
    const [json, text] = await Promise.all([runCli(['config', '--json'], env), runCli(['config'], env)]);
    expect(okJson(json).settings.database_url).toEqual({ env: 'DATABASE_URL', value: masked, source: 'environment' });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^database_url\\s+DATABASE_URL\\s+${masked.replace(/[?*.]/g, '\\$&')}\\s+environment$`, 'm'));
    for (const r of [json, text]) expect(r.stdout).not.toContain('s3cret');
  });
});

describe('the generated secret file', () => {
  it.each([
    ['empty', ''],
    ['shorter than 32 characters', 'too-short\n'],
  ])('when %s, a command refuses it naming the file: exit 2, no stack trace', async (_what, content) => {
    const dir = freshDir('secret');
    const file = path.join(dir, 'secret');
    writeFileSync(file, content, { mode: 0o600 });
    // migrate (which would create a missing secret) refuses it before creating the database.
    const migrate = await runCli(['migrate'], cliEnv(dir, undefined));
    expectFailure(migrate, 2, file);
    expect(existsSync(path.join(dir, 'grantry.sqlite'))).toBe(false);
    // A management command on an existing database refuses it too.
    const database = openDatabase(`sqlite:${path.join(dir, 'grantry.sqlite')}`);
    await migrateToLatest(database.db, database.dialect);
    await database.close();
    const r = await runCli(['user', 'list', '--side', 'backoffice', '--json'], cliEnv(dir, undefined));
    expectFailure(r, 2, file);
    expect(r.stderr).toMatch(/32 characters/);
    expect(onlyJson(r)).toEqual({ error: 'invalid_config', message: expect.stringContaining(file) });
  });
});
