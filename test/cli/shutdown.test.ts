/**
 * Graceful shutdown of `grantry start` as a real process on SIGTERM: /readyz turns 503 at once
 * while requests are still served for shutdown_delay, then new connections are refused; a
 * request in flight completes with its normal answer, an idle keep-alive connection does not
 * hold the stop, a request stalled past shutdown_timeout is cut, the process exits 0 and the
 * SQLite file is intact. With --workers 2, both workers drain and the primary exits 0.
 * Also the separation of streams: with JSON logs on stdout, stdout holds nothing else.
 */
import net from 'node:net';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { type Backend, BACKENDS } from '../helpers/backends.js';
import { LISTENING_LINE, WORKERS_LINE } from '../helpers/cluster.js';
import { openConnection, rawRequest } from '../helpers/raw-http.js';
import { type DataDir, freshDataDir } from '../helpers/server.js';
import { CliProcess, cliEnv, okJson, runCli } from './run.js';
import { Writable } from 'node:stream';
import { CLI } from '../../src/management/principal.js';
import { startServer } from '../../src/server.js';
import { testConfig } from '../helpers/server.js';

const ADMIN_PASSWORD = 'shutdown-admin-1';

/** Whether a new TCP connection to `url` is refused (the listener is closed). */
function refused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

/** Polls `condition` every 25 ms until it holds; fails after `timeoutMs`. */
async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function readyz(url: string) {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

describe('graceful shutdown', () => {
  let data: DataDir;
  let env: Record<string, string>;
  beforeAll(async () => {
    data = await freshDataDir('sqlite', 'grantry-shutdown-');
    env = cliEnv(data.dir, data.databaseUrl, {
      PORT: '0',
      GRANTRY_ADMIN_PASSWORD: ADMIN_PASSWORD,
      GRANTRY_LOG_LEVEL: 'info',
      GRANTRY_LOG_FORMAT: 'json',
      GRANTRY_SHUTDOWN_DELAY: '1',
      GRANTRY_SHUTDOWN_TIMEOUT: '2',
    });
  });
  afterAll(() => data?.remove());

  it('drains, finishes the request in flight, cuts the stalled one, exits 0, leaves SQLite intact; stdout holds only JSON log lines', async () => {
    const server = new CliProcess(['start'], env);
    try {
      // With JSON logs on stdout, the banner goes to stderr.
      const [, url] = (await server.waitFor(LISTENING_LINE, 'stderr')) as [string, string];
      const client = okJson(await runCli(['client', 'create', '--side', 'backoffice', '--name', 'Machine', '--type', 'confidential', '--grant', 'client_credentials', '--owner', 'admin', '--json'], env));
      const body = JSON.stringify({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret });
      const head = `POST /oauth2-token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
      const half = Math.floor(body.length / 2);

      // A request in flight: half of its body sent. A stalled one, never finished. An idle keep-alive connection.
      const inFlight = await openConnection(url);
      inFlight.socket.write(head + body.slice(0, half));
      const stalled = await openConnection(url);
      stalled.socket.write(head + body.slice(0, half));
      const idle = await openConnection(url);
      idle.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      // And a connection opened but never used (a preconnect).
      const unused = await openConnection(url);
      await idle.waitFor('{"status":"ok"}');
      expect((await readyz(url)).status).toBe(200);

      server.child.kill('SIGTERM');
      // Readiness fails at once, while requests are still served during shutdown_delay.
      await until('/readyz answers 503', async () => (await readyz(url)).status === 503);
      expect(await readyz(url)).toEqual({ status: 503, json: { status: 'unavailable', checks: { database: 'ok', signing_keys: 'ok', shutdown: 'draining' } } });
      const served = await fetch(`${url}/.well-known/oauth-authorization-server`);
      expect(served.status).toBe(200);
      await served.text();

      // After the delay the listener is closed: new connections are refused...
      await until('new connections are refused', () => refused(url));
      // ...and the request in flight still gets its normal answer.
      inFlight.socket.write(body.slice(half));
      const answer = await inFlight.waitFor('"token_type"');
      expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(answer).toMatch(/\r\nx-request-id: [0-9a-f-]{36}\r\n/);
      expect(answer).toContain('"access_token":"');

      // The idle and unused connections do not wait for shutdown_timeout; the stalled one is cut at it.
      const idleClosed = await idle.closed;
      const unusedClosed = await unused.closed;
      const stalledClosed = await stalled.closed;
      expect(stalledClosed.data).toBe('');
      expect(unusedClosed.data).toBe('');
      expect(idleClosed.afterMs).toBeLessThan(stalledClosed.afterMs);
      expect(unusedClosed.afterMs).toBeLessThan(stalledClosed.afterMs);

      expect(await server.exited).toEqual({ code: 0, signal: null });
      const records = server.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, any>);
      const steps = records.map((r) => r.msg as string).filter((m) => /^(draining|stopped|closed)/.test(m));
      expect(steps).toEqual(['draining: /readyz answers 503', 'stopped accepting connections', 'closed 1 connections still open after 2 s', 'stopped']);
      expect(records.find((r) => r.msg === 'listening')).toMatchObject({ url });
      expect(server.stderr).toMatch(/\nReceived SIGTERM, shutting down\.\.\.\nStopped\.\n$/);
      expect(server.stdout).not.toContain(ADMIN_PASSWORD);

      const sqlite = new SQLite(data.databaseUrl.replace(/^sqlite:/, ''), { readonly: true });
      try {
        expect(sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
      } finally {
        sqlite.close();
      }
    } finally {
      server.kill();
    }
  });

  it('--workers 2: SIGTERM drains both workers (each answers /readyz 503) and the primary exits 0', async () => {
    const cluster = new CliProcess(['start', '--workers', '2'], { ...env, GRANTRY_LOG_LEVEL: 'silent' });
    try {
      const [, url] = (await cluster.waitFor(LISTENING_LINE)) as [string, string];
      await cluster.waitFor(WORKERS_LINE);
      cluster.child.kill('SIGTERM');
      await until('/readyz answers 503', async () => (await readyz(url)).status === 503);
      // Each new connection goes to the next worker: several in a row, all draining.
      for (let i = 0; i < 4; i += 1) {
        const { status, response } = await rawRequest(url, 'GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        expect(status).toBe(503);
        expect(response).toContain('"shutdown":"draining"');
      }
      await until('new connections are refused', () => refused(url));
      expect(await cluster.exited).toEqual({ code: 0, signal: null });
      expect(cluster.stdout).toMatch(/\nReceived SIGTERM, shutting down\.\.\.\nStopped\.\n$/);
    } finally {
      cluster.kill();
    }
  });
});

/** Holds a lock of another connection that the token request's handler must wait for, until released. */
async function holdLock(backend: Backend, databaseUrl: string): Promise<() => Promise<void>> {
  if (backend === 'sqlite') {
    // SQLite's write lock: the handler waits to record its token.
    const sqlite = new SQLite(databaseUrl.replace(/^sqlite:/, ''));
    sqlite.prepare('BEGIN IMMEDIATE').run();
    return async () => {
      sqlite.prepare('COMMIT').run();
      sqlite.close();
    };
  }
  // The clients table, reads included: the handler waits at its first query, and has more to make.
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE clients IN ACCESS EXCLUSIVE MODE');
  return async () => {
    await client.query('COMMIT');
    await client.end();
  };
}

describe.each(BACKENDS)('graceful stop of a server whose client has gone (%s)', (backend) => {
  it('closes the database only after the handler of a request whose client disconnected has finished', async () => {
    const data = await freshDataDir(backend, 'grantry-shutdown-');
    const lines: string[] = [];
    const logTo = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const server = await startServer(testConfig(data.dir, data.databaseUrl, { logLevel: 'info', logFormat: 'json', shutdownDelay: 1, shutdownTimeout: 5 }), () => {}, { logTo });
    let release = async () => {};
    try {
      const { client, clientSecret } = await server.grantry.clients.create(CLI, {
        name: 'Gone',
        side: 'backoffice',
        type: 'confidential',
        grants: ['client_credentials'],
        redirectUris: [],
        scopes: ['api'],
        owner: 'admin',
      });
      await server.grantry.audit.flush();
      release = await holdLock(backend, data.databaseUrl);
      const abort = new AbortController();
      const request = fetch(`${server.url}/oauth2-token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: clientSecret }),
        signal: abort.signal,
      }).catch((e: Error) => e.name);
      await until('the handler runs', async () => server.handlers.count === 1);
      abort.abort();
      expect(await request).toBe('AbortError');
      const closing = server.close();
      // The listener closes after shutdown_delay with no connection left; the handler still waits.
      await until('the listener is closed', async () => lines.some((l) => l.includes('stopped accepting connections')));
      expect(server.handlers.count).toBe(1);
      const releasing = release();
      release = async () => {};
      await releasing;
      await closing;
      const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
      // The handler finished (its token issued and audited) before the database closed, and nothing failed.
      expect(messages.indexOf('audit token.issued')).toBeGreaterThan(messages.indexOf('stopped accepting connections'));
      expect(messages.indexOf('audit token.issued')).toBeLessThan(messages.indexOf('stopped'));
      expect(lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 40)).toEqual([]);
    } finally {
      await release();
      await server.close();
      await data.remove();
    }
  });
});
