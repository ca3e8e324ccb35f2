/**
 * PostgreSQL faults seen from outside, against `grantry start` processes: the database server
 * restarted during a load (on a private cluster, so the shared server is never restarted).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { okJson, runCli, cliEnv } from '../cli/run.js';
import { TestBrowser } from '../helpers/browser.js';
import { BACKENDS } from '../helpers/backends.js';
import { obtainCode } from '../helpers/oauth.js';
import { type DataDir, freshDataDir } from '../helpers/server.js';
import { unavailabilityOf } from '../../src/storage/database-errors.js';
import { openDatabase } from '../../src/storage/database.js';
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

  it('a connection lost inside a transaction fails that transaction as unavailable, without crashing the process, and is not handed out again', async () => {
    const cluster_ = cluster as PrivatePostgres;
    const database = openDatabase(cluster_.url(), { poolSize: 2 });
    try {
      let failure: unknown;
      await database.db
        .transaction()
        .execute(async (trx) => {
          await sql`select 1`.execute(trx);
          // The server goes away while the transaction holds its connection between two queries:
          // node-postgres reports that on the client, where only Grantry's listener hears it.
          cluster_.stop();
          await sleep(200);
          await sql`select 1`.execute(trx);
        })
        .catch((e: unknown) => (failure = e));
      expect(unavailabilityOf(failure), String(failure)).toBe('unreachable');
      expect(database.poolUse?.().total).toBe(0);
      // Down: refused at once, not after a wait.
      const refused = await sql`select 1`.execute(database.db).catch((e: unknown) => e);
      expect(unavailabilityOf(refused), String(refused)).toBe('unreachable');
      cluster_.start();
      // Back: the same pool serves with fresh connections.
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(database.db);
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await database.close();
    }
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
    const first = await issue();
    expect(first.status).toBe(200);
    const accessToken = (JSON.parse(first.body) as { access_token: string }).access_token;

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
    // The other route groups answer in their own formats meanwhile: the JSON:API (the token is
    // checked against the database) and the pages (the authorization request names a client).
    const api = await send(0, `${url}/admin/api/users`, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/vnd.api+json' } });
    const page = await send(0, `${url}/admin/oauth2-token/authorize?response_type=code&client_id=${encodeURIComponent(client.client_id)}`);
    // Down long enough for every request of the load to meet it a few times.
    await sleep(Math.max(0, stoppedAt + 2000 - Date.now()));
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
    expect(api.status, api.body).toBe(503);
    expect(api.retryAfter).toBe('5');
    expect(JSON.parse(api.body)).toEqual({ errors: [{ status: '503', title: 'Service unavailable', detail: 'the database cannot be reached now; try again in a moment' }] });
    expect(page.status, page.body).toBe(503);
    expect(page.retryAfter).toBe('5');
    expect(page.body).toMatch(/^<!DOCTYPE html>/i);
    expect(page.body).toContain('The database cannot be reached now; try again in a moment.');
    // Recovered by itself: every request sent after the first success succeeded.
    expect(afterRecovery.length).toBeGreaterThan(0);
    expect(statusCounts(afterRecovery)).toEqual({ 200: afterRecovery.length });
    // Readiness: 503 while the database was down, 200 once it was back.
    await waitUntil('readiness 200 again', () => readiness.some((o) => o.sentAt >= backAt && o.status === 200), 10_000).finally(() => (watching = false));
    await watcher;
    const notReady = readiness.filter((o) => o.sentAt >= stoppedAt && o.answeredAt < backAt && o.status === 503);
    expect(notReady.length, JSON.stringify(statusCounts(readiness))).toBeGreaterThan(0);
    // In plain words, never the driver's message with the database's address (anyone may ask /readyz).
    for (const o of notReady) expect((JSON.parse(o.body) as { checks: { database: string } }).checks.database).toMatch(/^(the database cannot be reached now; try again in a moment|no answer within 2 s)$/);
    expect(readiness.some((o) => o.sentAt >= backAt && o.status === 200)).toBe(true);
    // The process lived through it: still the one started, still serving.
    expect(node.process.child.exitCode).toBeNull();
    expect(node.process.stderr).not.toMatch(/^\s+at /m);
    // The log says why, in words an operator reads at a glance.
    expect(node.process.stdout + node.process.stderr).toMatch(/"msg":"database unavailable: the database cannot be reached now; try again in a moment"/);
  });
});

type Client = { client_id: string; client_secret: string };
const REDIRECT_URI = 'http://127.0.0.1:9/callback';

/** One request of the mixed load: what it was, and what came back. */
interface Sent {
  kind: 'client_credentials' | 'code' | 'refresh';
  /** The code or refresh token presented. */
  presented?: string;
  /** A second try of the same code or refresh token, after the first got no answer. */
  retry: boolean;
  outcome: Outcome;
}

describe.runIf(opsAvailable && BACKENDS.includes('postgres'))('kill -9 of one of two nodes on one PostgreSQL during a mixed load', () => {
  let data: DataDir | undefined;
  const nodes: GrantryNode[] = [];

  afterAll(async () => {
    for (const n of nodes) await n.kill();
    await data?.remove();
  });

  it('the other node keeps serving; no code is redeemed twice, no refresh token has two successors, and the stored tokens keep their invariants', async () => {
    data = await freshDataDir('postgres', 'grantry-ops-kill-');
    const env = { GRANTRY_ADMIN_PASSWORD: ADMIN_PASSWORD, GRANTRY_LOG_LEVEL: 'error' };
    const cliEnvironment = cliEnv(data.dir, data.databaseUrl, env);
    // Both nodes share the data folder: the secret and seed key every node of a deployment shares.
    nodes.push(await startNode(data.dir, data.databaseUrl, env));
    nodes.push(await startNode(data.dir, data.databaseUrl, env));
    const [victim, survivor] = nodes as [GrantryNode, GrantryNode];
    const machine = okJson(
      await runCli(['client', 'create', '--side', 'backoffice', '--name', 'Machine', '--type', 'confidential', '--grant', 'client_credentials', '--owner', 'admin', '--json'], cliEnvironment),
    ) as Client;
    const app = okJson(
      await runCli(
        ['client', 'create', '--side', 'backoffice', '--name', 'App', '--type', 'confidential', '--grant', 'authorization_code', '--grant', 'refresh_token', '--redirect-uri', REDIRECT_URI, '--skip-consent', '--json'],
        cliEnvironment,
      ),
    ) as Client;

    // Codes prepared beforehand (one sign-in, then one authorize each), and refresh-token families.
    const browser = new TestBrowser(victim.url);
    const codes: string[] = [];
    for (let i = 0; i < 60; i += 1) codes.push(await obtainCode(browser, 'backoffice', { response_type: 'code', client_id: app.client_id, redirect_uri: REDIRECT_URI }, { login: 'admin', password: ADMIN_PASSWORD }));
    const families: string[] = [];
    for (const code of codes.splice(0, 4)) {
      const first = await tokenPost(0, victim.url, app, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI });
      expect(first.status, first.body).toBe(200);
      families.push((JSON.parse(first.body) as { refresh_token: string }).refresh_token);
    }

    let killedAt = Number.POSITIVE_INFINITY;
    const sent: Sent[] = [];
    /** Both nodes in turn, only the survivor once the victim is dead. */
    const target = (turn: number) => (Date.now() >= killedAt || turn % 2 === 1 ? 1 : 0);
    const post = (turn: number, client: Client, form: Record<string, string>) => {
      const t = target(turn);
      return tokenPost(t, (nodes[t] as GrantryNode).url, client, form);
    };
    /** A code or refresh token whose answer was lost is sent again, to the survivor. */
    const withRetry = async (kind: 'code' | 'refresh', turn: number, client: Client, presented: string, form: Record<string, string>, first_ = post(turn, client, form)) => {
      const first = await first_;
      sent.push({ kind, presented, retry: false, outcome: first });
      if (first.status !== 0) return first;
      const again = await tokenPost(1, survivor.url, client, form);
      sent.push({ kind, presented, retry: true, outcome: again });
      return again;
    };
    let stopped = false;
    const loops = [
      ...[0, 1].map(async (loop) => {
        for (let turn = loop; !stopped; turn += 1) sent.push({ kind: 'client_credentials', retry: false, outcome: await post(turn, machine, { grant_type: 'client_credentials' }) });
      }),
      ...[0, 1].map(async (loop) => {
        for (let turn = loop; !stopped && codes.length > 0; turn += 1) {
          const code = codes.shift() as string;
          await withRetry('code', turn, app, code, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI });
        }
      }),
      ...families.map(async (family, loop) => {
        let token = family;
        for (let turn = loop; !stopped; turn += 1) {
          const answer = await withRetry('refresh', turn, app, token, { grant_type: 'refresh_token', refresh_token: token });
          if (answer.status !== 200) return;
          token = (JSON.parse(answer.body) as { refresh_token: string }).refresh_token;
        }
      }),
    ];
    await waitUntil('the load under way on both nodes', () => sent.filter((s) => s.outcome.status === 200 && s.outcome.target === 0).length >= 10);
    // A burst of code exchanges to the victim as it dies: some answered, some committed with the
    // answer lost, some never run; each one whose answer was lost is sent again to the survivor.
    const burst = codes.splice(0, 8).map((code) => {
      const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI };
      return withRetry('code', 0, app, code, form, tokenPost(0, victim.url, app, form));
    });
    await sleep(15);
    process.kill(victim.pid, 'SIGKILL');
    killedAt = Date.now();
    await Promise.all(burst);
    await victim.process.exited;
    await waitUntil('the survivor serving after the kill', () => sent.filter((s) => s.outcome.target === 1 && s.outcome.sentAt > killedAt && s.outcome.status === 200).length >= 100);
    stopped = true;
    await Promise.all(loops);

    const afterKill = sent.filter((s) => s.outcome.target === 1 && s.outcome.sentAt > killedAt);
    const lost = sent.filter((s) => s.outcome.status === 0);
    const retries = sent.filter((s) => s.retry);
    const byKind = (kind: Sent['kind']) => JSON.stringify(statusCounts(sent.filter((s) => s.kind === kind).map((s) => s.outcome)));
    console.log(
      `kill -9 of one of two nodes: ${sent.length} requests (client_credentials ${byKind('client_credentials')}, code ${byKind('code')}, refresh ${byKind('refresh')}); ${lost.length} lost with the killed node, ${retries.length} sent again to the survivor ${JSON.stringify(statusCounts(retries.map((s) => s.outcome)))}; the survivor after the kill ${JSON.stringify(statusCounts(afterKill.map((s) => s.outcome)))}`,
    );

    // Only the killed node's requests went unanswered; the survivor answered every one, never a 5xx.
    expect(lost.every((s) => s.outcome.target === 0)).toBe(true);
    expect(sent.filter((s) => s.outcome.status >= 500)).toEqual([]);
    expect(afterKill.filter((s) => s.kind === 'client_credentials').every((s) => s.outcome.status === 200)).toBe(true);
    // A refusal is only ever invalid_grant: a code or refresh token already spent.
    for (const s of sent.filter((x) => x.outcome.status !== 200 && x.outcome.status !== 0)) {
      expect(s.outcome.status).toBe(400);
      expect((JSON.parse(s.outcome.body) as { error: string }).error).toBe('invalid_grant');
    }
    // Whatever a client saw: each code got at most one 200, each refresh token at most one successor.
    const successes = new Map<string, Set<string>>();
    for (const s of sent.filter((x) => x.presented !== undefined && x.outcome.status === 200)) {
      const set = successes.get(s.presented as string) ?? new Set<string>();
      set.add(s.outcome.body);
      successes.set(s.presented as string, set);
    }
    expect([...successes.values()].filter((set) => set.size > 1)).toEqual([]);
    expect(sent.filter((s) => s.kind === 'code' && s.outcome.status === 200).length).toBeGreaterThan(0);
    expect(sent.filter((s) => s.kind === 'refresh' && s.outcome.status === 200).length).toBeGreaterThan(0);

    // What the database says (grantry doctor, Grantry's own invariants): no code redeemed twice,
    // no refresh token rotated into two successors, nothing half-written.
    const doctor = okJson(await runCli(['doctor', '--json'], cliEnvironment));
    expect(doctor.checks.filter((c: { ok: boolean }) => !c.ok)).toEqual([]);
    expect(doctor.ok).toBe(true);
    // The survivor still serves.
    expect((await tokenPost(1, survivor.url, machine, { grant_type: 'client_credentials' })).status).toBe(200);
  });
});
