/**
 * Prometheus metrics over HTTP against real servers, on every backend: off by default (no
 * listener, no /metrics anywhere); with metrics_port, a listener of its own that serves only
 * GET /metrics; the counters move by exactly what the requests made happen (issuance, token
 * errors by code, failed and blocked sign-ins and client authentications, a replayed code,
 * cleanup), with route patterns and no identifier in any label; database latency and, on
 * PostgreSQL, the pool's use are there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCleanup } from '../../src/management/cleanup.js';
import { Metrics } from '../../src/observability/metrics.js';
import { BACKENDS } from '../helpers/backends.js';
import { signIn, TestBrowser } from '../helpers/browser.js';
import { openConnection } from '../helpers/raw-http.js';
import { tokenRequest } from '../helpers/oauth.js';
import { freePort, startTestServer, testConfig, type TestServer } from '../helpers/server.js';
import { codeFor, createSideUser, expectTokenError, expectTokenSuccess, type SideUser, type TestClient } from '../helpers/tokens.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key as string] = value as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

const sameLabels = (a: Record<string, string>, b: Record<string, string>) => Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);

/** The value of one series (0 when it does not exist yet). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.find((s) => s.name === name && sameLabels(s.labels, labels))?.value ?? 0;
}

async function scrape(url: string): Promise<{ text: string; samples: Sample[] }> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  expect(response.headers.get('cache-control')).toBe('no-store');
  const text = await response.text();
  return { text, samples: parseExposition(text) };
}

describe('metrics off by default', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite');
  });
  afterAll(() => server?.close());

  it('opens no listener and serves no /metrics on the main port', async () => {
    expect(server.config.metricsPort).toBeUndefined();
    expect(await server.grantry.metrics.listen(server.config)).toBeUndefined();
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(404);
    expect(await response.text()).not.toContain('process_cpu_seconds_total');
    // Requests are not counted either: a listener opened anyway would find no metrics.
    expect(server.grantry.metrics.queryObserver).toBeUndefined();
  });
});

describe.each(BACKENDS)('metrics on metrics_port (%s)', (backend) => {
  const POOL_SIZE = 4;
  let server: TestServer;
  let metricsUrl: string;
  let user: SideUser;
  /** The back-office user the client credentials client acts for. */
  let owner: SideUser;
  /** Authorization code client of the storefront. */
  let codeClient: TestClient;
  /** Client credentials client of the back office. */
  let ccClient: TestClient;

  beforeAll(async () => {
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    // One failure per login name, two per client secret: blocks come after a few attempts.
    server = await startTestServer(backend, { metricsPort, databasePoolSize: POOL_SIZE, bruteForceMaxFailures: 1, cleanupInterval: 0, headersTimeout: 1, requestTimeout: 2 });
    user = await createSideUser(server, 'storefront');
    codeClient = await server.createClient({ side: 'storefront', skipConsent: true });
    owner = await createSideUser(server, 'backoffice');
    ccClient = await server.createClient({ side: 'backoffice', grants: ['client_credentials'], owner: owner.login });
  });
  afterAll(() => server?.close());

  it('the listener serves GET /metrics and nothing else; the main port never serves /metrics', async () => {
    const { samples } = await scrape(metricsUrl);
    // prom-client's default process metrics, on this server's own registry.
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(samples.some((s) => s.name === name), name).toBe(true);
    }
    for (const [method, path] of [['GET', '/'], ['GET', '/healthz'], ['POST', '/metrics'], ['GET', '/metrics/x']] as const) {
      const response = await fetch(new URL(path, metricsUrl), { method });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response.json()).toEqual({ error: 'not_found', error_description: 'this listener serves only GET /metrics' });
    }
    // A path that cannot be decoded: a clear 400, without the path.
    const undecodable = await fetch(new URL('/%zz', metricsUrl));
    expect(undecodable.status).toBe(400);
    expect(await undecodable.json()).toEqual({ error: 'invalid_request', error_description: 'the request could not be read' });
    const main = await fetch(`${server.url}/metrics`);
    expect(main.status).toBe(404);
    expect(await main.text()).not.toContain('grantry_http_requests_total');
  });

  it('counts issuance, token errors by code, failed and blocked sign-ins and client authentications, and a replayed code, by exactly what happened', async () => {
    const before = (await scrape(metricsUrl)).samples;

    // One client_credentials issuance on the back office.
    expectTokenSuccess(await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: ccClient.clientId, client_secret: ccClient.clientSecret }));
    // invalid_client: a wrong secret (the first of this client's two allowed failures).
    expectTokenError(await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: ccClient.clientId, client_secret: 'wrong-secret' }), 401, 'invalid_client');
    // invalid_grant: a code that was never issued.
    const exchange = (code: string) => tokenRequest(server.url, { grant_type: 'authorization_code', client_id: codeClient.clientId, client_secret: codeClient.clientSecret, redirect_uri: codeClient.redirectUri, code });
    expectTokenError(await exchange('no-such-code'), 400, 'invalid_grant');
    // invalid_request from the server's own handler: a body that is not JSON.
    const malformed = await fetch(`${server.url}/oauth2-token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: string }).error).toBe('invalid_request');
    // A code exchanged, then replayed: invalid_grant again, and the reuse is detected.
    const code = await codeFor(user, codeClient);
    expectTokenSuccess(await exchange(code));
    expectTokenError(await exchange(code), 400, 'invalid_grant');
    // A wrong password on the login form, then the same login blocked (one failure allowed).
    const stranger = new TestBrowser(server.url);
    expect((await signIn(stranger, 'storefront', user.login, 'wrong-password-1')).status).toBe(401);
    expect((await signIn(stranger, 'storefront', user.login, 'wrong-password-2')).status).toBe(429);
    // A second wrong client secret, then the client is blocked from this address.
    expectTokenError(await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: ccClient.clientId, client_secret: 'wrong-secret' }), 401, 'invalid_client');
    expectTokenError(await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: ccClient.clientId, client_secret: ccClient.clientSecret }), 429, 'invalid_client');
    // A request to an unknown path, and one to a route with a parameter.
    expect((await fetch(`${server.url}/no/such/path`)).status).toBe(404);
    expect((await fetch(`${server.url}/admin/api/users/12345`, { headers: { accept: 'application/vnd.api+json' } })).status).toBe(401);

    const { text, samples: after } = await scrape(metricsUrl);
    const delta = (name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);

    expect(delta('grantry_tokens_issued_total', { grant_type: 'client_credentials', side: 'backoffice' })).toBe(1);
    expect(delta('grantry_tokens_issued_total', { grant_type: 'authorization_code', side: 'storefront' })).toBe(1);
    expect(delta('grantry_token_errors_total', { error: 'invalid_client' })).toBe(3);
    expect(delta('grantry_token_errors_total', { error: 'invalid_grant' })).toBe(2);
    expect(delta('grantry_token_errors_total', { error: 'invalid_request' })).toBe(1);
    expect(delta('grantry_signin_failures_total', { side: 'storefront' })).toBe(1);
    expect(delta('grantry_signin_failures_total', { side: 'backoffice' })).toBe(0);
    expect(delta('grantry_bruteforce_blocks_total', { kind: 'signin' })).toBe(1);
    expect(delta('grantry_bruteforce_blocks_total', { kind: 'client_authentication' })).toBe(1);
    expect(delta('grantry_token_reuse_detected_total', { kind: 'authorization_code' })).toBe(1);
    expect(delta('grantry_token_reuse_detected_total', { kind: 'refresh_token' })).toBe(0);

    // Requests by route pattern and status; the duration histogram saw each of them.
    const token = { method: 'POST', route: '/oauth2-token' };
    expect(delta('grantry_http_requests_total', { ...token, status: '200' })).toBe(2);
    expect(delta('grantry_http_requests_total', { ...token, status: '400' })).toBe(3);
    expect(delta('grantry_http_requests_total', { ...token, status: '401' })).toBe(2);
    expect(delta('grantry_http_requests_total', { ...token, status: '429' })).toBe(1);
    expect(delta('grantry_http_request_duration_seconds_count', token)).toBe(8);
    expect(delta('grantry_http_request_duration_seconds_bucket', { ...token, le: '+Inf' })).toBe(8);
    expect(delta('grantry_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(delta('grantry_http_requests_total', { method: 'GET', route: '/admin/api/users/:id', status: '401' })).toBe(1);
    expect(delta('grantry_http_requests_total', { method: 'POST', route: '/oauth2-token/login', status: '429' })).toBe(1);

    // No identifier anywhere: not the client ids, logins or user ids of this test, not the
    // address, not a raw path.
    for (const secretive of [ccClient.clientId, codeClient.clientId, user.login, '127.0.0.1', '/no/such/path', '/admin/api/users/12345']) expect(text).not.toContain(secretive);
    // Grantry's labels: statuses and bucket bounds are the only numbers; no user id.
    const labels = after.filter((s) => s.name.startsWith('grantry_')).flatMap((s) => Object.entries(s.labels));
    for (const [name, value] of labels) {
      if (name === 'status') expect(value).toMatch(/^[1-5]\d\d$/);
      else if (name !== 'le') expect([String(user.id), String(owner.id)], `${name}="${value}"`).not.toContain(value);
    }
    const routes = new Set(after.filter((s) => s.name === 'grantry_http_requests_total').map((s) => s.labels.route));
    for (const route of routes) expect(route === 'unmatched' || route?.startsWith('/')).toBe(true);
  });

  it('measures database queries, signing key age, readiness and, on PostgreSQL, the pool', async () => {
    const { samples } = await scrape(metricsUrl);
    expect(valueOf(samples, 'grantry_ready')).toBe(1);
    expect(valueOf(samples, 'grantry_db_query_duration_seconds_count', { outcome: 'ok' })).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'grantry_db_query_duration_seconds_bucket' && s.labels.outcome === 'ok' && s.labels.le === '0.001')).toBe(true);
    const keyAge = samples.find((s) => s.name === 'grantry_signing_key_age_seconds');
    expect(keyAge).toBeDefined();
    const signing = server.grantry.keys.published().find((k) => k.signing);
    // The key was created when this server started: its age is the time since.
    expect(keyAge?.value).toBeGreaterThanOrEqual(0);
    expect(keyAge?.value).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) - (signing?.createdAt ?? 0) + 1);
    if (backend === 'postgres') {
      expect(valueOf(samples, 'grantry_db_pool_size')).toBe(POOL_SIZE);
      const total = valueOf(samples, 'grantry_db_pool_connections', { state: 'total' });
      expect(total).toBeGreaterThanOrEqual(1);
      expect(total).toBeLessThanOrEqual(POOL_SIZE);
      expect(valueOf(samples, 'grantry_db_pool_connections', { state: 'idle' })).toBeLessThanOrEqual(total);
      expect(samples.some((s) => s.name === 'grantry_db_pool_connections' && s.labels.state === 'waiting')).toBe(true);
    } else {
      expect(samples.some((s) => s.name.startsWith('grantry_db_pool'))).toBe(false);
    }
  });

  it('counts the rows a cleanup run deletes', async () => {
    // The access tokens issued above, made to have expired.
    await server.grantry.database.db.updateTable('access_tokens').set({ expires_at: 1 }).execute();
    const before = (await scrape(metricsUrl)).samples;
    const deleted = await runCleanup(server.grantry);
    const rows = Object.values(deleted).reduce((a, b) => a + b, 0);
    expect(rows).toBeGreaterThanOrEqual(1);
    const after = (await scrape(metricsUrl)).samples;
    expect(valueOf(after, 'grantry_cleanup_deleted_rows_total') - valueOf(before, 'grantry_cleanup_deleted_rows_total')).toBe(rows);
  });

  it('the listener cuts off a client that sends no request, as the main server does', async () => {
    const silent = await openConnection(metricsUrl);
    const closed = await silent.closed;
    // headers_timeout is 1 s here: a 408 (or nothing) and the socket is gone.
    expect(closed.data).toMatch(/^(HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*)?$/);
  });
});

describe('grantry_ready', () => {
  it('reports what the readiness check answers at each scrape', async () => {
    const metrics = new Metrics({ metricsPort: 0 });
    let ready = false;
    metrics.readinessFrom(async () => ready);
    const listener = await metrics.listen(testConfig('/nonexistent', 'sqlite::memory:', { metricsPort: 0 }));
    try {
      const url = listener?.url as string;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect(valueOf((await scrape(url)).samples, 'grantry_ready')).toBe(0);
      ready = true;
      expect(valueOf((await scrape(url)).samples, 'grantry_ready')).toBe(1);
      const samples = (await scrape(url)).samples;
      expect(samples.filter((s) => s.name === 'grantry_ready')).toHaveLength(1);
    } finally {
      await listener?.close();
    }
  });
});
