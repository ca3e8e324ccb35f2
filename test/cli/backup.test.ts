/**
 * `grantry backup FILE` against a `grantry start` process on SQLite that issues tokens the whole
 * time: the copy is consistent (integrity_check, `grantry doctor`), private (0600), never
 * overwritten by accident, and restoring it the documented way (stop, replace the file, delete
 * -wal/-shm, start) gives a server that serves the original's users and clients.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DataDir, freshDataDir } from '../helpers/server.js';
import { tokenRequest } from '../helpers/oauth.js';
import { CliProcess, cliEnv, expectFailure, okJson, onlyJson, runCli } from './run.js';

const LISTENING = /^Grantry listening on (http:\/\/127\.0\.0\.1:\d+) /m;

describe('grantry backup (SQLite, while the server issues tokens)', () => {
  let data: DataDir;
  let env: Record<string, string>;
  let server: CliProcess | undefined;
  let client: { client_id: string; client_secret: string };

  async function startServer(): Promise<string> {
    server = new CliProcess(['start'], env);
    const [, url] = await server.waitFor(LISTENING);
    return url as string;
  }

  async function stopServer(): Promise<void> {
    server!.child.kill('SIGTERM');
    expect((await server!.exited).code).toBe(0);
    server = undefined;
  }

  const issue = (url: string) => tokenRequest(url, { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret });

  beforeAll(async () => {
    data = await freshDataDir('sqlite', 'grantry-backup-');
    env = cliEnv(data.dir, data.databaseUrl, { PORT: '0', HOST: '127.0.0.1', GRANTRY_ADMIN_PASSWORD: 'backup-test-password-1' });
  });
  afterAll(async () => {
    server?.kill();
    await data?.remove();
  });

  it('copies the database consistently while tokens are issued, and the restored copy serves the same clients', async () => {
    let url = await startServer();
    client = okJson(await runCli(['client', 'create', '--side', 'backoffice', '--name', 'Loader', '--type', 'confidential', '--grant', 'client_credentials', '--owner', 'admin', '--json'], env)) as typeof client;

    // Token issuance in a loop (each one writes a grant and an access token) until told to stop.
    let writing = true;
    let issued = 0;
    const load = (async () => {
      while (writing) {
        const token = await issue(url);
        expect(token.status, JSON.stringify(token.json)).toBe(200);
        issued += 1;
      }
    })();
    const backupFile = path.join(data.dir, 'backups', 'grantry-backup.sqlite');
    let backup;
    try {
      while (issued < 20) await new Promise((r) => setTimeout(r, 10));
      const before = issued;
      mkdirSync(path.dirname(backupFile));
      backup = await runCli(['backup', backupFile, '--json'], env);
      const during = issued - before;
      // The server kept writing while the backup ran.
      expect(during).toBeGreaterThan(0);
    } finally {
      writing = false;
      await load;
    }
    const json = okJson(backup);
    expect(json).toEqual({ file: backupFile, bytes: statSync(backupFile).size, taken_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), duration_ms: expect.any(Number) });
    expect(statSync(backupFile).mode & 0o777).toBe(0o600);
    // Nothing left beside it: the partial file was moved into place.
    expect(readdirSync(path.dirname(backupFile))).toEqual(['grantry-backup.sqlite']);

    const copy = new SQLite(backupFile, { readonly: true });
    let copiedTokens: number;
    try {
      expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
      copiedTokens = copy.prepare('select count(*) from access_tokens').pluck().get() as number;
    } finally {
      copy.close();
    }
    expect(copiedTokens).toBeGreaterThanOrEqual(20);
    expect(copiedTokens).toBeLessThanOrEqual(issued);
    // Grantry's own invariants hold in the copy (same data folder, so the same server secret).
    okJson(await runCli(['doctor', '--json'], { ...env, DATABASE_URL: `sqlite:${backupFile}` }));

    // No accidental overwrite; --force replaces.
    const refused = await runCli(['backup', backupFile, '--json'], env);
    expectFailure(refused, 1, `grantry: ${backupFile} exists; pass --force to replace it`);
    expect(onlyJson(refused)).toEqual({ error: 'exists', message: `${backupFile} exists; pass --force to replace it` });
    const text = await runCli(['backup', backupFile, '--force'], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^Wrote ${backupFile}: \\d+ bytes, the database as of \\S+Z, in \\d+ ms\\.\\n$`));

    // The documented restore: stop, replace the file, delete -wal and -shm, start.
    const before = await issue(url);
    expect(before.status).toBe(200);
    await stopServer();
    const file = path.join(data.dir, 'grantry.sqlite');
    copyFileSync(backupFile, file);
    for (const extra of [`${file}-wal`, `${file}-shm`]) rmSync(extra, { force: true });
    url = await startServer();
    // The restored database has the original's client, its owner (the admin) and its key.
    expect(server!.stdout).not.toContain('Created back-office admin');
    const after = await issue(url);
    expect(after.status, JSON.stringify(after.json)).toBe(200);
    expect(after.json.token_type).toBe('Bearer');
    await stopServer();
  });

  it('refuses PostgreSQL, pointing at pg_dump, a database that is not there, and a folder that is not there', async () => {
    const postgres = await runCli(['backup', path.join(data.dir, 'pg.sqlite')], cliEnv(data.dir, 'postgres://grantry@127.0.0.1:5432/grantry'));
    expectFailure(postgres, 2, /grantry backup copies a SQLite database; back up PostgreSQL with pg_dump \(pg_dump --format=custom/);
    const missing = await runCli(['backup', path.join(data.dir, 'nothing.sqlite')], cliEnv(path.join(data.dir, 'nowhere'), undefined));
    expectFailure(missing, 2, `grantry: no Grantry database at ${path.join(data.dir, 'nowhere', 'grantry.sqlite')}`);
    const noFolder = await runCli(['backup', path.join(data.dir, 'no-such-folder', 'b.sqlite')], env);
    expectFailure(noFolder, 1, `grantry: cannot write ${path.join(data.dir, 'no-such-folder', 'b.sqlite')}: its folder does not exist`);
    expect(existsSync(path.join(data.dir, 'pg.sqlite'))).toBe(false);
    expect(existsSync(path.join(data.dir, 'nothing.sqlite'))).toBe(false);
  });
});
