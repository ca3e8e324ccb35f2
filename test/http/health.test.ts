/**
 * GET /healthz and GET /readyz against real servers on every backend: the answers, their
 * headers, that each call checks afresh (a failing check shows at once and recovers at once),
 * that a database that does not answer makes readiness fail within its timeout rather than
 * hang, and the answer to other methods.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_CHECK_TIMEOUT_MS } from '../../src/http/health.js';
import { KeyError } from '../../src/oauth/keys.js';
import { openDatabase } from '../../src/storage/database.js';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

async function get(url: string, method = 'GET') {
  const response = await fetch(url, { method });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

const ALL_OK = { database: 'ok', signing_keys: 'ok', shutdown: 'ok' };

describe.each(BACKENDS)('health checks (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  it('GET /healthz: 200 {"status":"ok"}, not cached, with a request id', async () => {
    const health = await get(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.json).toEqual({ status: 'ok' });
    expect(health.headers.get('cache-control')).toBe('no-store');
    expect(health.headers.get('content-type')).toMatch(/^application\/json/);
    expect(health.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('GET /readyz: 200 with every check ok; a failing check shows at the next call and its recovery too', async () => {
    const ready = await get(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ status: 'ready', checks: ALL_OK });
    expect(ready.headers.get('cache-control')).toBe('no-store');
    expect(ready.headers.get('retry-after')).toBeNull();

    const { database, keys } = server.grantry;
    const writeProblem = database.writeProblem;
    database.writeProblem = () => 'the disk is full';
    try {
      const failing = await get(`${server.url}/readyz`);
      expect(failing.status).toBe(503);
      expect(failing.headers.get('cache-control')).toBe('no-store');
      expect(failing.headers.get('retry-after')).toBe('5');
      expect(failing.json).toEqual({ status: 'unavailable', checks: { ...ALL_OK, database: 'writes fail: the disk is full' } });
    } finally {
      database.writeProblem = writeProblem;
    }
    expect((await get(`${server.url}/readyz`)).status).toBe(200);

    const signingKey = keys.signingKey;
    keys.signingKey = () => {
      throw new KeyError('no signing key is active; run grantry keys rotate with --delay 0');
    };
    try {
      const failing = await get(`${server.url}/readyz`);
      expect(failing.status).toBe(503);
      expect(failing.json).toEqual({ status: 'unavailable', checks: { ...ALL_OK, signing_keys: 'no signing key is active; run grantry keys rotate with --delay 0' } });
    } finally {
      keys.signingKey = signingKey;
    }
    expect((await get(`${server.url}/readyz`)).json).toEqual({ status: 'ready', checks: ALL_OK });
  });

  it('other methods: 405 with Allow: GET in the JSON error format', async () => {
    for (const path of ['/healthz', '/readyz']) {
      for (const method of ['POST', 'DELETE', 'HEAD']) {
        const response = await fetch(`${server.url}${path}`, { method });
        expect(response.status, `${method} ${path}`).toBe(405);
        expect(response.headers.get('allow')).toBe('GET');
        expect(response.headers.get('x-request-id')).toBeTruthy();
        const text = await response.text();
        if (method !== 'HEAD') expect(JSON.parse(text)).toEqual({ error: 'invalid_request', error_description: 'this address does not take that kind of request' });
        else expect(text).toBe('');
      }
    }
  });

  it('served at the root only: not under a side prefix', async () => {
    expect((await fetch(`${server.url}/admin/healthz`)).status).toBe(404);
  });

  it('draining: /readyz answers 503 "draining" while /healthz and other requests are still served', async () => {
    server.readiness.startDraining();
    const draining = await get(`${server.url}/readyz`);
    expect(draining.status).toBe(503);
    expect(draining.json).toEqual({ status: 'unavailable', checks: { ...ALL_OK, shutdown: 'draining' } });
    expect((await get(`${server.url}/healthz`)).json).toEqual({ status: 'ok' });
    expect((await fetch(`${server.url}/.well-known/oauth-authorization-server`)).status).toBe(200);
  });
});

describe('readiness when the database does not answer', () => {
  let server: TestServer;
  let silent: net.Server;
  const held: net.Socket[] = [];
  beforeAll(async () => {
    server = await startTestServer('sqlite');
    // A "PostgreSQL" that accepts connections and never says a word.
    silent = net.createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silent?.close(resolve));
    await server?.close();
  });

  it('answers 503 within its timeout, naming the database, then ready again once it answers', async () => {
    const { port } = silent.address() as net.AddressInfo;
    const real = server.grantry.database;
    const unreachable = openDatabase(`postgres://postgres@127.0.0.1:${port}/nothing`, { poolSize: 1 });
    server.grantry.database = unreachable;
    try {
      const failing = await get(`${server.url}/readyz`);
      expect(failing.status).toBe(503);
      expect(failing.json).toEqual({ status: 'unavailable', checks: { ...ALL_OK, database: `no answer within ${DATABASE_CHECK_TIMEOUT_MS / 1000} s` } });
      // The check's own timeout answered: the driver's connection attempt (3 s) had not given up yet.
    } finally {
      server.grantry.database = real;
      for (const socket of held) socket.destroy();
      await unreachable.close().catch(() => {});
    }
    expect((await get(`${server.url}/readyz`)).json).toEqual({ status: 'ready', checks: ALL_OK });
  });
});
