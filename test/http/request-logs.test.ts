/**
 * The log stream of a real server, captured: every line JSON (log_format json) or one readable
 * line each (pretty); every line of a request, audit events included, carries the request's id,
 * which the response returns in X-Request-Id; the id a trusted proxy sends is kept when sane,
 * and anyone else's is not; health checks write no line even at debug.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/index.js';
import { prettyLine } from '../../src/http/logging.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { type DataDir, freshDataDir, testConfig } from '../helpers/server.js';
import { tokenRequest } from '../helpers/oauth.js';
import { CLI } from '../../src/management/principal.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A server whose log lines are kept in `lines`. */
async function loggedServer(data: DataDir, overrides: Partial<Config>): Promise<{ server: RunningServer; lines: string[] }> {
  const lines: string[] = [];
  let partial = '';
  const logTo = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
      done();
    },
  });
  const config = testConfig(data.dir, data.databaseUrl, { logLevel: 'debug', ...overrides });
  const server = await startServer(config, () => {}, { logTo });
  return { server, lines };
}

const parsed = (lines: string[]) => lines.map((line) => JSON.parse(line) as Record<string, any>);

describe('request logs (log_format json, behind a trusted proxy)', () => {
  let data: DataDir;
  let server: RunningServer;
  let lines: string[];
  beforeAll(async () => {
    data = await freshDataDir('sqlite', 'grantry-request-logs-');
    ({ server, lines } = await loggedServer(data, { logFormat: 'json', trustProxy: ['127.0.0.1'] }));
  });
  afterAll(async () => {
    await server?.close();
    await data?.remove();
  });

  it('every stdout line is JSON; a sane X-Request-Id from the trusted proxy is the id of every line of its request and comes back', async () => {
    const id = `proxy-${randomUUID()}`;
    const response = await fetch(`${server.url}/.well-known/oauth-authorization-server`, { headers: { 'x-request-id': id } });
    expect(response.status).toBe(200);
    await response.text();
    expect(response.headers.get('x-request-id')).toBe(id);
    const records = parsed(lines);
    const mine = records.filter((r) => r.reqId === id);
    // Fastify's request lines at debug: received and completed.
    expect(mine.map((r) => r.msg)).toEqual(['incoming request', 'request completed']);
    expect(records.find((r) => r.msg === 'listening')).toMatchObject({ url: server.url, level: 30 });
  });

  it('an id that is too long or not visible ASCII is replaced by a fresh one', async () => {
    for (const sent of ['x'.repeat(129), 'two words', 'tab\there']) {
      const response = await fetch(`${server.url}/nowhere`, { headers: { 'x-request-id': sent } });
      expect(response.status).toBe(404);
      await response.text();
      const id = response.headers.get('x-request-id') as string;
      expect(id).toMatch(UUID);
      expect(parsed(lines).filter((r) => r.reqId === id).map((r) => r.msg)).toEqual(['incoming request', 'request completed']);
    }
  });

  it('an audit event caused by a request carries its id', async () => {
    const { client, clientSecret } = await server.grantry.clients.create(CLI, {
      name: 'Logged machine',
      side: 'backoffice',
      type: 'confidential',
      grants: ['client_credentials'],
      redirectUris: [],
      scopes: ['api'],
      owner: 'admin',
    });
    const token = await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: client.clientId, client_secret: clientSecret });
    expect(token.status, JSON.stringify(token.json)).toBe(200);
    const id = token.headers.get('x-request-id') as string;
    expect(id).toMatch(UUID);
    const audit = parsed(lines).filter((r) => r.reqId === id && r.audit);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ msg: 'audit token.issued', audit: { kind: 'token.issued', clientId: client.clientId } });
  });

  it('health checks write no line, even at debug, and still return their id', async () => {
    const before = lines.length;
    for (const path of ['/healthz', '/readyz']) {
      const response = await fetch(`${server.url}${path}`, { headers: { 'x-request-id': `health-${path}` } });
      expect(response.status).toBe(200);
      await response.text();
      expect(response.headers.get('x-request-id')).toBe(`health-${path}`);
    }
    // A request after them is logged: the log stream is live, and has nothing of theirs.
    const after = await fetch(`${server.url}/nowhere`, { headers: { 'x-request-id': 'after-health' } });
    await after.text();
    const since = parsed(lines.slice(before));
    expect(since.filter((r) => String(r.reqId).startsWith('health-'))).toEqual([]);
    expect(since.filter((r) => r.reqId === 'after-health')).toHaveLength(2);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
  });
});

describe('request logs without a trusted proxy, in the pretty format', () => {
  let data: DataDir;
  let server: RunningServer;
  let lines: string[];
  beforeAll(async () => {
    data = await freshDataDir('sqlite', 'grantry-request-logs-');
    ({ server, lines } = await loggedServer(data, { logFormat: 'pretty', trustProxy: false }));
  });
  afterAll(async () => {
    await server?.close();
    await data?.remove();
  });

  it("ignores a client's own X-Request-Id, and writes one readable line per record with time, level, id and message", async () => {
    const response = await fetch(`${server.url}/nowhere`, { headers: { 'x-request-id': 'chosen-by-client' } });
    expect(response.status).toBe(404);
    await response.text();
    const id = response.headers.get('x-request-id') as string;
    expect(id).toMatch(UUID);
    expect(lines.join('\n')).not.toContain('chosen-by-client');
    const mine = lines.filter((line) => line.includes(`[${id}]`));
    expect(mine).toHaveLength(2);
    expect(mine[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO {2}\\[${id}\\] incoming request req\\.method=GET req\\.url=/nowhere `));
    expect(mine[1]).toMatch(new RegExp(`^\\S+ \\S+ INFO {2}\\[${id}\\] request completed res\\.statusCode=404 responseTime=[\\d.]+$`));
    expect(lines.find((line) => / INFO {2}listening /.test(line))).toContain(`url=${server.url}`);
    for (const line of lines) expect(() => JSON.parse(line)).toThrow();
  });
});

describe('prettyLine', () => {
  it('quotes values with spaces, shows an error with its stack indented, and passes a line that is not JSON through', () => {
    const time = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
    const line = JSON.stringify({ level: 50, time, pid: 1, hostname: 'h', reqId: 'r1', msg: 'request failed', err: { type: 'Error', message: 'went wrong', stack: 'Error: went wrong\n    at here' }, note: 'two words' });
    expect(prettyLine(line)).toBe('2026-01-02 03:04:05.006 ERROR [r1] request failed err.type=Error err.message="went wrong" note="two words"\n    Error: went wrong\n        at here\n');
    expect(prettyLine('not json')).toBe('not json\n');
  });
});
