/**
 * The `grantry` command without a database: help, usage and configuration errors, `config`,
 * `keys generate`. The database commands are in manage.test.ts, `start` in start.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signingKeyFromPem } from '../../src/oauth/keys.js';
import { cliEnv, expectFailure, okJson, onlyJson, runCli } from './run.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'grantry-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A data folder of its own, so tests do not see each other's keys. */
const freshDir = (name: string) => mkdtempSync(path.join(dir, `${name}-`));

describe('help and usage', () => {
  it('--help lists every command and the global --config option, exit 0', async () => {
    const r = await runCli(['--help'], cliEnv(freshDir('help'), undefined));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    for (const command of ['start', 'migrate', 'keys', 'user', 'client', 'token', 'audit', 'cleanup', 'config']) expect(r.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(r.stdout).toContain('--config <file>');
    expect(r.stdout).toContain('Exit codes');
  });

  it('a subcommand has its own --help, which shows the global options and never a password option', async () => {
    const r = await runCli(['user', 'create', '--help'], cliEnv(freshDir('help'), undefined));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: grantry user create [options]');
    for (const option of ['--side <side>', '--username <username>', '--email <email>', '--admin', '--first-name <name>', '--json', '--config <file>']) {
      expect(r.stdout).toContain(option);
    }
    expect(r.stdout).not.toMatch(/--password/);
    expect(r.stdout).toContain('first line of stdin');
  });

  it('usage errors exit 2 with commander\'s message: unknown command, unknown option, bad choice, missing option', async () => {
    const env = cliEnv(freshDir('usage'), undefined);
    const [unknownCommand, unknownOption, badChoice, missing, noSubcommand] = await Promise.all([
      runCli(['frobnicate'], env),
      runCli(['migrate', '--frob'], env),
      runCli(['user', 'list', '--side', 'moon'], env),
      runCli(['client', 'create', '--side', 'storefront', '--type', 'public'], env),
      runCli(['client'], env),
    ]);
    expectFailure(unknownCommand, 2, "unknown command 'frobnicate'");
    expectFailure(unknownOption, 2, "unknown option '--frob'");
    expectFailure(badChoice, 2, /argument 'moon' is invalid\. Allowed choices are backoffice, storefront/);
    expectFailure(missing, 2, "required option '--name <name>' not specified");
    expectFailure(noSubcommand, 2, 'Usage: grantry client');
    for (const r of [unknownCommand, unknownOption, badChoice, missing]) expect(r.stdout).toBe('');
  });

  it('token revoke takes exactly one of TOKEN, --client and --user (with --side); keys rotate checks its options: else exit 2 before touching the database', async () => {
    // No database configured: a usage error must come first (the default SQLite file is never created).
    const data = freshDir('usage');
    const env = cliEnv(data, undefined);
    const [tokenAndClient, clientAndUser, userWithoutSide, sideWithoutUser, badDelay, badAlgorithm, help] = await Promise.all([
      runCli(['token', 'revoke', 'some-token', '--client', 'abc', '--json'], env),
      runCli(['token', 'revoke', '--client', 'abc', '--user', 'alice', '--side', 'backoffice'], env),
      runCli(['token', 'revoke', '--user', 'alice'], env),
      runCli(['token', 'revoke', '--client', 'abc', '--side', 'storefront'], env),
      runCli(['keys', 'rotate', '--delay', '-5'], env),
      runCli(['keys', 'rotate', '--algorithm', 'HS256'], env),
      runCli(['keys', 'generate', '--help'], env),
    ]);
    expectFailure(tokenAndClient, 2, 'grantry: give exactly one of TOKEN');
    expect(onlyJson(tokenAndClient)).toEqual({ error: 'usage', message: expect.stringContaining('exactly one of') });
    expectFailure(clientAndUser, 2, 'grantry: give exactly one of TOKEN');
    expectFailure(userWithoutSide, 2, 'grantry: --user needs --side');
    expectFailure(sideWithoutUser, 2, 'grantry: --side goes with --user');
    expectFailure(badDelay, 2, "option '--delay <seconds>' argument '-5' is invalid");
    expectFailure(badAlgorithm, 2, "option '--algorithm <alg>' argument 'HS256' is invalid. must be one of RS256, PS256, ES256, EdDSA");
    expect(existsSync(path.join(data, 'grantry.sqlite'))).toBe(false);
    expect(help.code).toBe(0);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('used only when the database has no signing key yet');
  });

  it('options that do not fit the side are usage errors (exit 2), before any password is read', async () => {
    const env = cliEnv(freshDir('usage'), undefined);
    const [storefrontUsername, backofficeNoUsername] = await Promise.all([
      runCli(['user', 'create', '--side', 'storefront', '--email', 'a@example.com', '--username', 'a', '--json'], env, 'long-enough-1\n'),
      runCli(['user', 'create', '--side', 'backoffice', '--email', 'a@example.com'], env, 'long-enough-1\n'),
    ]);
    expectFailure(storefrontUsername, 2, 'grantry: --username is for back-office users only');
    expect(onlyJson(storefrontUsername)).toEqual({ error: 'usage', message: expect.stringContaining('--username') });
    expectFailure(backofficeNoUsername, 2, 'grantry: --username is required for back-office users');
  });
});

describe('configuration errors', () => {
  it('an invalid environment value exits 2 with a message naming the variable, on any command', async () => {
    const env = cliEnv(freshDir('env'), undefined, { PORT: 'abc' });
    const [config, list] = await Promise.all([runCli(['config'], env), runCli(['user', 'list', '--side', 'backoffice', '--json'], env)]);
    for (const r of [config, list]) {
      expectFailure(r, 2, /^grantry: invalid environment variable PORT: must be a whole number from 0 to 65535, got "abc"\n$/);
    }
    expect(config.stdout).toBe('');
    expect(onlyJson(list)).toEqual({ error: 'invalid_config', message: expect.stringContaining('PORT') });
  });

  it('--config reads a JSON file, the environment overrides it; a bad file exits 2', async () => {
    const data = freshDir('file');
    const good = path.join(data, 'good.json');
    writeFileSync(good, JSON.stringify({ port: 9099, host: '0.0.0.0', backend_prefix: 'bo' }));
    const bad = path.join(data, 'bad.json');
    writeFileSync(bad, JSON.stringify({ prot: 1 }));
    const env = cliEnv(data, undefined, { HOST: '127.0.0.2' });
    const [fromFile, fromEnvVar, unknownSetting, missingFile] = await Promise.all([
      runCli(['--config', good, 'config', '--json'], env),
      runCli(['config', '--json'], { ...env, GRANTRY_CONFIG: good }),
      runCli(['config', '--config', bad], env),
      runCli(['config', '--config', path.join(data, 'nope.json')], env),
    ]);
    for (const r of [fromFile, fromEnvVar]) {
      const json = okJson(r);
      expect(json.config_file).toBe(good);
      expect(json.settings.port).toEqual({ env: 'PORT', value: 9099, source: 'file' });
      expect(json.settings.backend_prefix).toEqual({ env: 'GRANTRY_BACKEND_PREFIX', value: 'bo', source: 'file' });
      expect(json.settings.host).toEqual({ env: 'HOST', value: '127.0.0.2', source: 'environment' });
      expect(json.settings.public_url).toEqual({ env: 'PUBLIC_URL', value: 'http://localhost:9099', source: 'derived' });
    }
    expectFailure(unknownSetting, 2, `grantry: config file ${bad}: unknown setting "prot"`);
    expectFailure(missingFile, 2, 'grantry: cannot read config file');
  });
});

describe('grantry config', () => {
  it('--json lists every setting; secrets are masked as "(set)" or null, a database password is hidden', async () => {
    const data = freshDir('config');
    const secret = 'a-server-secret-of-at-least-32-characters';
    const adminPassword = 'first-admin-password';
    const r = await runCli(
      ['config', '--json'],
      cliEnv(data, 'postgres://grantry:db-password-1@db.internal:5432/grantry', { GRANTRY_SECRET: secret, GRANTRY_ADMIN_PASSWORD: adminPassword, PORT: '8181' }),
    );
    const json = okJson(r);
    expect(Object.keys(json)).toEqual(['config_file', 'settings']);
    expect(json.config_file).toBeNull();
    expect(Object.keys(json.settings)).toEqual([
      'port', 'host', 'public_url', 'database_url', 'data_dir', 'backend_prefix', 'storefront_enabled', 'storefront_name', 'backoffice_name',
      'logo_url', 'accent_color', 'access_token_ttl', 'authorization_code_ttl', 'session_ttl', 'signing_algorithm', 'signing_key_file', 'signing_key', 'secret',
      'admin_username', 'admin_email', 'admin_password', 'password_min_length', 'trust_proxy', 'log_level', 'refresh_token_ttl', 'refresh_grace_period',
      'time_ordered_tokens', 'password_grant_enabled', 'remember_consent', 'scopes', 'default_scope', 'cors_allowed_origins', 'cors_allowed_headers', 'cors_max_age',
      'cleanup_interval', 'cleanup_batch_size', 'audit_retention', 'key_rotation_delay', 'key_refresh_interval', 'brute_force_max_failures',
      'brute_force_window', 'guest_max_authorizations', 'request_timeout', 'headers_timeout', 'keep_alive_timeout', 'max_connections', 'workers',
      'log_format', 'metrics_port', 'metrics_host', 'shutdown_timeout', 'shutdown_delay', 'database_pool_size',
    ]);
    expect(json.settings.secret).toEqual({ env: 'GRANTRY_SECRET', value: '(set)', source: 'environment' });
    expect(json.settings.admin_password).toEqual({ env: 'GRANTRY_ADMIN_PASSWORD', value: '(set)', source: 'environment' });
    expect(json.settings.signing_key).toEqual({ env: 'GRANTRY_SIGNING_KEY', value: null, source: 'default' });
    expect(json.settings.port).toEqual({ env: 'PORT', value: 8181, source: 'environment' });
    expect(json.settings.storefront_enabled.value).toBe(true);
    expect(json.settings.data_dir.value).toBe(data);
    expect(json.settings.database_url.value).toBe('postgres://grantry:****@db.internal:5432/grantry');
    for (const leaked of [secret, adminPassword, 'db-password-1']) expect(r.stdout).not.toContain(leaked);
  });

  it('without --json prints a readable table, secrets masked', async () => {
    const r = await runCli(['config'], cliEnv(freshDir('config'), undefined, { GRANTRY_SIGNING_KEY: '-----BEGIN PRIVATE KEY-----\nnot-really\n-----END PRIVATE KEY-----' }));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^SETTING\s+ENVIRONMENT\s+VALUE\s+SOURCE$/m);
    expect(r.stdout).toMatch(/^port\s+PORT\s+8080\s+default$/m);
    expect(r.stdout).toMatch(/^signing_key\s+GRANTRY_SIGNING_KEY\s+\(set\)\s+environment$/m);
    expect(r.stdout).toMatch(/^secret\s+GRANTRY_SECRET\s+\(unset\)\s+default$/m);
    expect(r.stdout).not.toContain('not-really');
  });
});

describe('grantry keys generate', () => {
  it('writes a 0600 key whose kid it prints, refuses to overwrite without --force, replaces it with --force', async () => {
    const data = freshDir('keys');
    const env = cliEnv(data, undefined);
    const file = path.join(data, 'signing-key.rs256.pem');

    const first = okJson(await runCli(['keys', 'generate', '--json'], env));
    expect(first).toEqual({ kid: expect.any(String), alg: 'RS256', file });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const pem = readFileSync(file, 'utf8');
    expect(signingKeyFromPem(pem, 'RS256').kid).toBe(first.kid);

    const again = await runCli(['keys', 'generate', '--json'], env);
    expectFailure(again, 1, `grantry: ${file} already exists; use --force to replace it`);
    expect(onlyJson(again)).toEqual({ error: 'conflict', message: expect.stringContaining('--force') });
    expect(readFileSync(file, 'utf8')).toBe(pem);

    const forced = await runCli(['keys', 'generate', '--force'], env);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain('replaced the previous key');
    const newPem = readFileSync(file, 'utf8');
    expect(newPem).not.toBe(pem);
    const newKid = signingKeyFromPem(newPem, 'RS256').kid;
    expect(forced.stdout).toContain(`Wrote a new RS256 signing key to ${file} (mode 0600).`);
    expect(forced.stdout).toContain(`kid ${newKid}`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('follows GRANTRY_SIGNING_ALGORITHM and GRANTRY_SIGNING_KEY_FILE', async () => {
    const data = freshDir('keys');
    const file = path.join(data, 'keys', 'ed.pem');
    const json = okJson(await runCli(['keys', 'generate', '--json'], cliEnv(data, undefined, { GRANTRY_SIGNING_ALGORITHM: 'eddsa', GRANTRY_SIGNING_KEY_FILE: file })));
    expect(json).toEqual({ kid: signingKeyFromPem(readFileSync(file, 'utf8'), 'EdDSA').kid, alg: 'EdDSA', file });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
