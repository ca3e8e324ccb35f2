/**
 * SQLite faults seen from outside, against `grantry start` processes whose data folder is a
 * small tmpfs of the test's own: the disk filling up while serving, a read-only file system at
 * start, and the process killed (SIGKILL) in the middle of its writes.
 */
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, expectFailure, okJson, runCli } from '../cli/run.js';
import { type GrantryNode, longestAnswerMs, type Outcome, opsAvailable, run, send, startLoad, startNode, statusCounts, tokenPost, unmount, waitUntil } from './support.js';

const ADMIN_PASSWORD = 'ops-faults-admin-pass-1';
const ENV = { GRANTRY_ADMIN_PASSWORD: ADMIN_PASSWORD, GRANTRY_LOG_LEVEL: 'error' };
const DATABASE = 'grantry.sqlite';

type Client = { client_id: string; client_secret: string };

/** The jti of an access token in a 200 body. */
const jtiOf = (o: Outcome) => JSON.parse(Buffer.from((JSON.parse(o.body) as { access_token: string }).access_token.split('.')[1] as string, 'base64url').toString()).jti as string;

/**
 * Opens the database file as a fresh process would, and checks it is whole (SQLite's checks, and
 * grantry doctor's of Grantry's own invariants) and holds every token in `jtis`.
 */
async function expectIntactWith(file: string, jtis: readonly string[]): Promise<void> {
  const doctor = okJson(await runCli(['doctor', '--json'], cliEnv(path.dirname(file), undefined, ENV)));
  expect(doctor.checks.filter((c: { ok: boolean }) => !c.ok)).toEqual([]);
  const db = new SQLite(file, { fileMustExist: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.pragma('foreign_key_check')).toEqual([]);
    const stored = new Set((db.prepare('select jti from access_tokens').pluck().all() as string[]));
    expect(jtis.filter((jti) => !stored.has(jti))).toEqual([]);
  } finally {
    db.close();
  }
}

describe.runIf(opsAvailable)('SQLite on a bad disk', () => {
  let mountPoint: string;
  let mounted = false;
  let node: GrantryNode | undefined;

  beforeAll(() => {
    mountPoint = mkdtempSync(path.join(os.tmpdir(), 'grantry-ops-disk-'));
  });

  afterEach(async () => {
    await node?.kill();
    node = undefined;
    if (mounted) unmount(mountPoint);
    mounted = false;
  });

  afterAll(() => {
    if (mountPoint) rmSync(mountPoint, { recursive: true, force: true });
  });

  /** A new, small tmpfs as the data folder, and a node serving from it with a client for client_credentials. */
  async function serveFromSmallDisk(): Promise<{ node: GrantryNode; client: Client; issue: () => Promise<Outcome> }> {
    run('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', mountPoint]);
    mounted = true;
    node = await startNode(mountPoint, undefined, ENV);
    const client = okJson(
      await runCli(['client', 'create', '--side', 'backoffice', '--name', 'Load', '--type', 'confidential', '--grant', 'client_credentials', '--owner', 'admin', '--json'], cliEnv(mountPoint, undefined, ENV)),
    ) as Client;
    const url = node.url;
    return { node, client, issue: () => tokenPost(0, url, client, { grant_type: 'client_credentials' }) };
  }

  it('a full disk: writes answer 503 with Retry-After and a plain description, the log names the cause, readiness fails; freed, it serves again by itself and the file is whole', async () => {
    const { node: serving, issue } = await serveFromSmallDisk();
    const before = await Promise.all(Array.from({ length: 5 }, () => issue()));
    expect(before.map((o) => o.status)).toEqual([200, 200, 200, 200, 200]);

    // Fill the disk: a file grown until the file system refuses.
    const filler = path.join(mountPoint, 'filler');
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      closeSync(fd);
    }

    // Writes then fail: the WAL may still have room for a few, not for many.
    const whileFull: Outcome[] = [];
    const refused = await waitUntil('a write refused for the full disk', async () => {
      const o = await issue();
      whileFull.push(o);
      return o.status === 503 && o;
    });
    const fullAt = Date.now();
    expect(refused.retryAfter).toBe('5');
    expect(JSON.parse(refused.body)).toEqual({ error: 'temporarily_unavailable', error_description: 'the database cannot store anything now: its disk is full' });
    for (let i = 0; i < 10; i += 1) whileFull.push(await issue());
    expect(whileFull.every((o) => o.status === 200 || o.status === 503), JSON.stringify(statusCounts(whileFull))).toBe(true);
    // Reads still work: the signing keys are served.
    expect((await send(0, `${serving.url}/.well-known/jwks.json`)).status).toBe(200);
    await waitUntil('the log line naming the cause', () => /database unavailable: the database cannot store anything now: its disk is full/.test(serving.process.stdout + serving.process.stderr));
    expect(serving.process.stdout + serving.process.stderr).not.toMatch(/^\s+at /m);
    const ready = await send(0, `${serving.url}/readyz`);
    expect(ready.status, ready.body).toBe(503);
    expect(ready.body).toMatch(/database/);
    expect(ready.body).toMatch(/disk is full/);

    // Space freed: the node recovers by itself, readiness first (its trial writes), then writes.
    unlinkSync(filler);
    const freedAt = Date.now();
    await waitUntil('readiness again', async () => (await send(0, `${serving.url}/readyz`)).status === 200, 10_000);
    const after = await Promise.all(Array.from({ length: 5 }, () => issue()));
    expect(after.map((o) => o.status)).toEqual([200, 200, 200, 200, 200]);
    console.log(
      `SQLite disk full: ${whileFull.length} requests while full, statuses ${JSON.stringify(statusCounts(whileFull))}, longest answer ${longestAnswerMs(whileFull)} ms; full for ${freedAt - fullAt} ms, ready again ${Date.now() - freedAt} ms after the space was freed`,
    );

    await serving.kill();
    node = undefined;
    await expectIntactWith(path.join(mountPoint, DATABASE), [...before, ...whileFull, ...after].filter((o) => o.status === 200).map(jtiOf));
  });

  it('a read-only file system: start stops at once with one sentence naming the file and the cause, and the file is left whole', async () => {
    const { node: serving, issue } = await serveFromSmallDisk();
    const issued = await issue();
    expect(issued.status).toBe(200);
    // SIGKILL, as a disk that fails under a process would leave it (a remount read-only is
    // refused while a process has files open for writing, so the node is stopped first).
    await serving.kill();
    node = undefined;
    run('mount', ['-o', 'remount,ro', mountPoint]);
    const started = Date.now();
    const result = await runCli(['start'], cliEnv(mountPoint, undefined, { ...ENV, PORT: '0' }));
    expectFailure(result, 1, `grantry: cannot open the SQLite database ${path.join(mountPoint, DATABASE)} for writing: its file system is read-only\n`);
    expect(Date.now() - started).toBeLessThan(10_000);
    run('mount', ['-o', 'remount,rw', mountPoint]);
    await expectIntactWith(path.join(mountPoint, DATABASE), [jtiOf(issued)]);
  });

  it('SIGKILL in the middle of writes: the file opens whole, every token the clients were given is stored, and a new start serves', async () => {
    const { node: serving, client, issue } = await serveFromSmallDisk();
    expect((await issue()).status).toBe(200);
    const load = startLoad(4, () => issue());
    await waitUntil('tokens issued under load', () => load.outcomes.filter((o) => o.status === 200).length >= 200);
    await serving.kill();
    node = undefined;
    load.stop();
    const outcomes = await load.done;
    const acknowledged = outcomes.filter((o) => o.status === 200);
    // The requests in flight at the kill lost their connection (status 0); nothing else failed.
    expect(outcomes.every((o) => o.status === 200 || o.status === 0), JSON.stringify(statusCounts(outcomes))).toBe(true);
    console.log(`SQLite SIGKILL under load: ${outcomes.length} requests, statuses ${JSON.stringify(statusCounts(outcomes))}; every acknowledged token checked in the file`);
    await expectIntactWith(path.join(mountPoint, DATABASE), acknowledged.map(jtiOf));

    node = await startNode(mountPoint, undefined, ENV);
    const again = await tokenPost(0, node.url, client, { grant_type: 'client_credentials' });
    expect(again.status, again.body).toBe(200);
  });
});
