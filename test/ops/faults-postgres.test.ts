/**
 * PostgreSQL faults seen from outside, against `grantry start` processes: the database server
 * restarted during a load (on a private cluster, so the shared server is never restarted).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { okJson, runCli, cliEnv } from '../cli/run.js';
import { type GrantryNode, longestAnswerMs, type Outcome, PrivatePostgres, opsAvailable, send, sleep, startLoad, startNode, statusCounts, tokenPost, waitUntil } from './support.js';

const ADMIN_PASSWORD = 'ops-faults-admin-pass-1';

/** Every answer comes within this, outage or not: a hang is a failure. */
const ANSWER_BOUND_MS = 10_000;

describe.runIf(opsAvailable)('PostgreSQL restarted during a load', () => {
  let cluster: PrivatePostgres | undefined;
  let node: GrantryNode | undefined;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'grantry-ops-pg-node-'));
    cluster = await PrivatePostgres.create();
    const admin = new pg.Client({ connectionString: cluster.url() });
    await admin.connect();
    await admin.query('create database grantry');
    await admin.end();
  });

  afterAll(async () => {
    await node?.kill();
    cluster?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After while the database is down, never hangs or fails with a 500, and serves again by itself once it is back', async () => {
    const databaseUrl = (cluster as PrivatePostgres).url('grantry');
    const env = { GRANTRY_ADMIN_PASSWORD: ADMIN_PASSWORD, GRANTRY_LOG_LEVEL: 'error' };
    node = await startNode(dataDir, databaseUrl, env);
    const client = okJson(
      await runCli(['client', 'create', '--side', 'backoffice', '--name', 'Load', '--type', 'confidential', '--grant', 'client_credentials', '--owner', 'admin', '--json'], cliEnv(dataDir, databaseUrl, env)),
    ) as { client_id: string; client_secret: string };
    const url = node.url;
    const issue = () => tokenPost(0, url, client, { grant_type: 'client_credentials' });
    expect((await issue()).status).toBe(200);

    // Readiness is watched beside the load, its answers kept with their times.
    const readiness: Outcome[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        readiness.push(await send(0, `${url}/readyz`));
        await sleep(100);
      }
    })();

    const load = startLoad(4, () => issue());
    await waitUntil('some tokens issued under load', () => load.outcomes.filter((o) => o.status === 200).length >= 20);
    const stoppedAt = Date.now();
    (cluster as PrivatePostgres).stop();
    // Down long enough for every request of the load to meet it a few times.
    await sleep(2000);
    (cluster as PrivatePostgres).start();
    const backAt = Date.now();
    const firstSuccess = await waitUntil('a token issued after PostgreSQL is back', () => load.outcomes.find((o) => o.status === 200 && o.sentAt >= backAt), 20_000);
    // And a short while of normal service after it: the node recovered, it did not just get lucky once.
    await sleep(500);
    load.stop();
    const outcomes = await load.done;

    const duringOutage = outcomes.filter((o) => o.answeredAt >= stoppedAt && o.sentAt < backAt);
    const unavailable = duringOutage.filter((o) => o.status === 503);
    const afterRecovery = outcomes.filter((o) => o.sentAt >= firstSuccess.answeredAt);
    console.log(
      `PostgreSQL restart: ${outcomes.length} requests in all, ${duringOutage.length} during the outage (${(backAt - stoppedAt) / 1000} s): ${unavailable.length} got 503 (${unavailable.filter((o) => o.retryAfter !== null).length} with Retry-After), statuses ${JSON.stringify(statusCounts(duringOutage))}; longest answer ${longestAnswerMs(outcomes)} ms; recovery (PostgreSQL back to first 200) ${firstSuccess.answeredAt - backAt} ms; after it ${JSON.stringify(statusCounts(afterRecovery))}`,
    );

    // Every request got an answer, in time, and none was a 500.
    expect(statusCounts(outcomes)).not.toHaveProperty('0');
    expect(statusCounts(outcomes)).not.toHaveProperty('500');
    expect(longestAnswerMs(outcomes)).toBeLessThan(ANSWER_BOUND_MS);
    expect(outcomes.every((o) => o.status === 200 || o.status === 503), JSON.stringify(statusCounts(outcomes))).toBe(true);
    // The outage was seen, as 503 + Retry-After in the token endpoint's own format (RFC 6749 §5.2).
    expect(unavailable.length).toBeGreaterThan(0);
    for (const o of outcomes.filter((x) => x.status === 503)) {
      expect(o.retryAfter).toBe('5');
      expect(JSON.parse(o.body)).toEqual({ error: 'temporarily_unavailable', error_description: 'the database cannot be reached now; try again in a moment' });
    }
    // Recovered by itself: every request sent after the first success succeeded.
    expect(afterRecovery.length).toBeGreaterThan(0);
    expect(statusCounts(afterRecovery)).toEqual({ 200: afterRecovery.length });
    // Readiness: 503 while the database was down, 200 once it was back.
    await waitUntil('readiness 200 again', () => readiness.some((o) => o.sentAt >= backAt && o.status === 200), 10_000).finally(() => (watching = false));
    await watcher;
    expect(readiness.some((o) => o.sentAt >= stoppedAt && o.answeredAt < backAt && o.status === 503), JSON.stringify(statusCounts(readiness))).toBe(true);
    expect(readiness.some((o) => o.sentAt >= backAt && o.status === 200)).toBe(true);
    // The process lived through it: still the one started, still serving.
    expect(node.process.child.exitCode).toBeNull();
    expect(node.process.stderr).not.toMatch(/^\s+at /m);
  });
});
