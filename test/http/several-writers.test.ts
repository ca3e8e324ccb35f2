/**
 * Several server processes writing to one database at once: `grantry start --workers 2` (two
 * worker processes, plus this test's own server as a third process on the same database) under a
 * concurrent load of authorizations, code exchanges, refresh rotations and client credentials.
 * No request may fail with a 5xx, no write may be lost (every token issued is known afterwards,
 * every revocation holds) and each code is redeemed once. On SQLite this is what WAL, BEGIN
 * IMMEDIATE and busy_timeout are for; a write lock held past busy_timeout is a 503, not a 500.
 */
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../../src/management/principal.js';
import type { SideName } from '../../src/oauth/sides.js';
import { sqliteFileOf } from '../../src/storage/database-url.js';
import { cliEnv } from '../cli/run.js';
import { BACKENDS, type Backend } from '../helpers/backends.js';
import { TestBrowser } from '../helpers/browser.js';
import { childrenOf, eventually, PinnedConnection, type RunningCluster, startCluster } from '../helpers/cluster.js';
import { introspect } from '../helpers/endpoints.js';
import { apiGet, type TokenCall, tokenRequest } from '../helpers/oauth.js';
import { PUBLIC_URL, startTestServer, TEST_SCOPES, type TestServer } from '../helpers/server.js';
import { API_PATH, codeFor, codeRow, createSideUser, expectTokenError, expectTokenSuccess, SIDES, type SideUser, type TestClient } from '../helpers/tokens.js';

/** Per side, in one concurrent burst: */
const FLOWS = 24; // authorize, then exchange the code
const CLIENT_CREDENTIALS = 24;
const CHAINS = 6; // refresh tokens, each rotated ROTATIONS times in a row
const ROTATIONS = 5;
const DOUBLE_SPENT = 4; // codes exchanged twice at the same time

interface SideSetup {
  user: SideUser;
  /** Confidential, authorization_code + refresh_token, skip consent; also introspects. */
  codeClient: TestClient;
  /** client_credentials, acting as the side's user. */
  machine: TestClient;
}

/** The test server on a fresh database and `grantry start --workers 2` on the same one. */
async function startBoth(backend: Backend): Promise<{ server: TestServer; cluster: RunningCluster }> {
  const server = await startTestServer(backend);
  try {
    const env = cliEnv(server.dir, server.config.databaseUrl, { PORT: '0', PUBLIC_URL, GRANTRY_SCOPES: JSON.stringify(TEST_SCOPES), GRANTRY_WORKERS: '2' });
    const cluster = await startCluster([], env);
    return { server, cluster };
  } catch (e) {
    await server.close();
    throw e;
  }
}

async function stopBoth(server: TestServer | undefined, cluster: RunningCluster | undefined): Promise<void> {
  if (cluster) {
    const workers = childrenOf(cluster.process.child.pid as number);
    cluster.process.child.kill('SIGTERM');
    expect(await cluster.process.exited).toEqual({ code: 0, signal: null });
    expect(workers.length).toBe(2);
  }
  await server?.close();
}

async function setUpSide(server: TestServer, clusterUrl: string, side: SideName): Promise<SideSetup> {
  const created = await createSideUser(server, side);
  // The user's browser talks to the workers, not to the test server.
  const user = { ...created, browser: new TestBrowser(clusterUrl) };
  const codeClient = await server.createClient({ side, grants: ['authorization_code', 'refresh_token'], skipConsent: true });
  const machine = await server.createClient({ side, grants: ['client_credentials'], owner: user.login });
  return { user, codeClient, machine };
}

const exchange = (url: string, client: TestClient, code: string) =>
  tokenRequest(url, { grant_type: 'authorization_code', client_id: client.clientId, client_secret: client.clientSecret, redirect_uri: client.redirectUri, code });
const refresh = (url: string, client: TestClient, refreshToken: string) =>
  tokenRequest(url, { grant_type: 'refresh_token', client_id: client.clientId, client_secret: client.clientSecret, refresh_token: refreshToken }, { format: 'form' });
const machineToken = (url: string, client: TestClient) => tokenRequest(url, { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret });

describe.each(BACKENDS)('several server processes writing to one database (%s)', (backend) => {
  let server: TestServer;
  let cluster: RunningCluster;
  const sides = {} as Record<SideName, SideSetup>;

  beforeAll(async () => {
    ({ server, cluster } = await startBoth(backend));
    for (const side of SIDES) sides[side] = await setUpSide(server, cluster.url, side);
  }, 180_000);
  afterAll(() => stopBoth(server, cluster), 60_000);

  it('a concurrent burst of code exchanges, refreshes and client credentials on two workers: no 5xx, no lost write, each code redeemed once', async () => {
    const url = cluster.url;
    /** Every answer of the burst, to check that none is a 5xx. */
    const statuses: number[] = [];
    const seen = async (call: Promise<TokenCall>) => {
      const result = await call;
      statuses.push(result.status);
      return result;
    };

    // Before the burst: the refresh tokens to rotate and the codes to spend twice.
    const chainsStart: Record<SideName, string[]> = { backoffice: [], storefront: [] };
    const doubles: Record<SideName, string[]> = { backoffice: [], storefront: [] };
    for (const side of SIDES) {
      const { user, codeClient } = sides[side];
      for (let i = 0; i < CHAINS; i += 1) {
        const first = await exchange(url, codeClient, await codeFor(user, codeClient));
        expectTokenSuccess(first);
        chainsStart[side].push(first.json.refresh_token as string);
      }
      for (let i = 0; i < DOUBLE_SPENT; i += 1) doubles[side].push(await codeFor(user, codeClient));
    }

    const burst = SIDES.map(async (side) => {
      const { user, codeClient, machine } = sides[side];
      const flows = Array.from({ length: FLOWS }, async () => {
        const code = await codeFor(user, codeClient);
        return { code, call: await seen(exchange(url, codeClient, code)) };
      });
      const machines = Array.from({ length: CLIENT_CREDENTIALS }, () => seen(machineToken(url, machine)));
      const chains = chainsStart[side].map(async (start) => {
        const steps: TokenCall[] = [];
        let current = start;
        for (let i = 0; i < ROTATIONS; i += 1) {
          const step = await seen(refresh(url, codeClient, current));
          steps.push(step);
          if (step.status !== 200) break;
          current = step.json.refresh_token as string;
        }
        return steps;
      });
      const spentTwice = doubles[side].map(async (code) => ({ code, calls: await Promise.all([seen(exchange(url, codeClient, code)), seen(exchange(url, codeClient, code))]) }));
      return { side, flows: await Promise.all(flows), machines: await Promise.all(machines), chains: await Promise.all(chains), spentTwice: await Promise.all(spentTwice) };
    });
    const results = await Promise.all(burst);

    expect(statuses.filter((s) => s >= 500), `statuses: ${JSON.stringify(statuses)}`).toEqual([]);
    for (const { side, flows, machines, chains, spentTwice } of results) {
      const { codeClient } = sides[side];
      const active: string[] = [];
      const inactive: string[] = [];
      for (const { call } of flows) {
        active.push(expectTokenSuccess(call), call.json.refresh_token as string);
      }
      for (const call of machines) active.push(expectTokenSuccess(call));
      chainsStart[side].forEach((start) => inactive.push(start));
      for (const steps of chains) {
        expect(steps.map((s) => s.status)).toEqual(Array.from({ length: ROTATIONS }, () => 200));
        steps.forEach((step, i) => {
          const access = expectTokenSuccess(step);
          const refreshToken = step.json.refresh_token as string;
          // Each rotation revoked the access token issued with the refresh token it used up.
          if (i === steps.length - 1) active.push(access, refreshToken);
          else inactive.push(access, refreshToken);
        });
      }
      // Of two exchanges of one code, one wins; the other is refused and revokes the winner's token.
      for (const { calls } of spentTwice) {
        const winners = calls.filter((c) => c.status === 200);
        expect(calls.map((c) => c.status).sort()).toEqual([200, 400]);
        expectTokenError(calls.find((c) => c.status === 400) as TokenCall, 400, 'invalid_grant');
        inactive.push(expectTokenSuccess(winners[0] as TokenCall));
      }
      expect(new Set(active).size).toBe(active.length);

      // No write was lost: every token issued is known as active, every one revoked or used up as not.
      const asked = await Promise.all([...active, ...inactive].map((token) => introspect(url, codeClient, token)));
      asked.forEach((answer, i) => {
        expect(answer.status).toBe(200);
        expect(answer.headers.get('cache-control')).toBe('no-store');
        expect(answer.json.active, i < active.length ? `issued token ${i} is active` : `revoked or used token ${i - active.length} is inactive`).toBe(i < active.length);
      });
      // And the API takes the active access tokens, on whichever worker.
      const lastChain = chains[chains.length - 1] as TokenCall[];
      const api = await apiGet(url, API_PATH[side], (lastChain[lastChain.length - 1] as TokenCall).json.access_token as string);
      expect(api.status).toBe(200);

      // Each code was redeemed once, and is recorded as used.
      for (const code of [...flows.map((f) => f.code), ...spentTwice.map((s) => s.code)]) {
        const row = await codeRow(server, code);
        expect(row?.used_at, 'the code is recorded as used').toEqual(expect.any(Number));
      }
    }
  }, 180_000);
});

describe('SQLite: the write lock held by another process past busy_timeout', () => {
  let server: TestServer;
  let cluster: RunningCluster;
  let setup: SideSetup;

  beforeAll(async () => {
    ({ server, cluster } = await startBoth('sqlite'));
    setup = await setUpSide(server, cluster.url, 'backoffice');
  }, 180_000);
  afterAll(() => stopBoth(server, cluster), 60_000);

  it('readers are still served; a write waits 5 s, then is answered 503 with Retry-After in the endpoint format; then it works again', async () => {
    const token = expectTokenSuccess(await machineToken(cluster.url, setup.machine));
    // Nothing of this process or the workers is left to write in the background (the audit trail
    // is written in batches), so only the requests below meet the lock.
    await server.grantry.audit.flush();
    await eventually('the audit event of the token', async () => (await server.grantry.audit.list(CLI, { kind: 'token.issued', clientId: setup.machine.clientId, page: 1, size: 1 })).total > 0);
    const holder = new SQLite(sqliteFileOf(server.config.databaseUrl) as string);
    // Each request on a new connection: a worker waiting for the lock answers nothing else meanwhile.
    const connections: PinnedConnection[] = [];
    const fresh = () => {
      const connection = new PinnedConnection(cluster.url);
      connections.push(connection);
      return connection;
    };
    try {
      holder.exec('BEGIN IMMEDIATE');
      // WAL: reading needs no lock, so the API still answers.
      const read = await fresh().request('GET', API_PATH.backoffice, { accept: 'application/vnd.api+json', authorization: `Bearer ${token}` });
      expect(read.status, read.body).toBe(200);
      const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: setup.machine.clientId, client_secret: setup.machine.clientSecret as string }).toString();
      const refused = await fresh().request('POST', '/oauth2-token', { 'content-type': 'application/x-www-form-urlencoded' }, body);
      expect(refused.status, refused.body).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.headers['cache-control']).toBe('no-store');
      expect(refused.headers['content-type']).toMatch(/^application\/json/);
      expect(refused.json).toEqual({ error: 'temporarily_unavailable', error_description: 'the server is too busy to answer now; try again in a moment' });
    } finally {
      if (holder.inTransaction) holder.exec('ROLLBACK');
      holder.close();
      for (const c of connections) c.close();
    }
    expectTokenSuccess(await machineToken(cluster.url, setup.machine));
  }, 60_000);
});
