/**
 * Several processes starting together on one fresh data folder with the default SQLite
 * database (replicas of a container, a supervisor starting workers): they race to create the
 * server secret, the signing key file and the schema. All of them must start, and they must
 * end up with the same secret and the same signing key.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JWKS_PATH } from '../../src/oauth/metadata.js';
import { CliProcess, cliEnv, okJson, runCli, usingDatabase } from './run.js';

const PROCESSES = 4;
const root = mkdtempSync(path.join(tmpdir(), 'grantry-cli-concurrent-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

/** Starts `grantry start --json` and returns its URL once it listens. */
async function started(server: CliProcess): Promise<string> {
  const [line] = await server.waitFor(/^\{.*\}\n/, 'stdout', 30_000);
  const json = JSON.parse(line) as { url?: string };
  if (typeof json.url !== 'string') throw new Error(`start failed: ${line}stderr: ${server.stderr}`);
  return json.url;
}

async function kids(url: string): Promise<string[]> {
  const response = await fetch(url + JWKS_PATH);
  expect(response.status).toBe(200);
  const jwks = (await response.json()) as { keys: Array<{ kid: string }> };
  return jwks.keys.map((k) => k.kid).sort();
}

describe('processes starting together on a fresh SQLite data folder', () => {
  it(`${PROCESSES} × grantry migrate at once: all exit 0 and the migrations are applied once`, async () => {
    const dir = path.join(mkdtempSync(path.join(root, 'migrate-')), 'data');
    const env = cliEnv(dir, undefined);
    const results = await Promise.all(Array.from({ length: PROCESSES }, () => runCli(['migrate', '--json'], env)));
    const applied = results.flatMap((r) => okJson(r).applied as string[]);
    expect(applied.sort()).toEqual(['001-initial', '002-token-lifecycle', '003-brute-force', '004-normalized-logins', '005-code-redirect-uri-sent', '006-audit-trail', '007-consents', '008-sessions-by-user', '009-openid-connect']);
    for (const r of results) expect(r.stderr).toBe(usingDatabase(`sqlite:${dir}/grantry.sqlite`));
    // The server secret is set up with the database, so management commands work before a start.
    expect(mode(path.join(dir, 'secret'))).toBe('600');
    expect(okJson(await runCli(['migrate', '--json'], env))).toEqual({ applied: [] });
    expect(mode(path.join(dir, 'grantry.sqlite'))).toBe('600');
  });

  it(`${PROCESSES} × grantry start at once: all serve the same signing key and exit 0 on SIGTERM; a fifth start agrees`, async () => {
    const dir = path.join(mkdtempSync(path.join(root, 'start-')), 'data');
    const env = cliEnv(dir, undefined, { PORT: '0', GRANTRY_ADMIN_PASSWORD: 'first-admin-password-1' });
    const servers = Array.from({ length: PROCESSES }, () => new CliProcess(['start', '--json'], env));
    try {
      const urls = await Promise.all(servers.map(started));
      const published = await Promise.all(urls.map(kids));
      expect(published[0]).toHaveLength(1);
      for (const k of published) expect(k).toEqual(published[0]);

      // One secret and one key file, private, with no temporary file left behind.
      const secret = readFileSync(path.join(dir, 'secret'), 'utf8');
      expect(secret.trim().length).toBeGreaterThanOrEqual(32);
      expect(mode(path.join(dir, 'secret'))).toBe('600');
      expect(mode(path.join(dir, 'signing-key.rs256.pem'))).toBe('600');
      expect(readdirSync(dir).filter((f) => !/^grantry\.sqlite(-wal|-shm)?$/.test(f)).sort()).toEqual(['secret', 'signing-key.rs256.pem']);

      for (const server of servers) server.child.kill('SIGTERM');
      const exits = await Promise.all(servers.map((s) => s.exited));
      expect(exits, servers.map((s) => s.stderr).join('\n')).toEqual(Array.from({ length: PROCESSES }, () => ({ code: 0, signal: null })));
      // Exactly one process created the admin.
      expect(servers.filter((s) => s.stderr.includes('Created back-office admin'))).toHaveLength(1);

      // A fifth process starts on what they left behind and serves the same key.
      const fifth = new CliProcess(['start', '--json'], env);
      try {
        expect(await kids(await started(fifth))).toEqual(published[0]);
        fifth.child.kill('SIGTERM');
        expect(await fifth.exited).toEqual({ code: 0, signal: null });
      } finally {
        fifth.kill();
      }
      expect(readFileSync(path.join(dir, 'secret'), 'utf8')).toBe(secret);
      expect(existsSync(path.join(dir, 'grantry.sqlite'))).toBe(true);
    } finally {
      for (const server of servers) server.kill();
    }
  });
});
