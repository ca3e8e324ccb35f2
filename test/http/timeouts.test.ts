/**
 * Slow and idle connections on every backend: a request that announces a body and never sends
 * it, a body or headers sent a byte at a time, a connection that says nothing and an idle
 * keep-alive connection are all cut off within their timeouts, while normal requests keep being
 * served; connections beyond max_connections are refused while the existing ones keep working.
 * The timeouts are the feature here, so the assertions are about time (with small limits).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { openConnection, rawRequest } from '../helpers/raw-http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const LIMITS = { requestTimeout: 2, headersTimeout: 1, keepAliveTimeout: 1 };
/**
 * The server checks deadlines at least every half of its shortest timeout (here 0.5 s), so a
 * slow connection is gone within its limit plus that, plus scheduling on a busy machine.
 */
const MARGIN_MS = 1500;
/** A 408 written before closing, or nothing (the socket simply closed). */
const TIMED_OUT = /^(HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*)?$/;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const get = (path: string, connection = 'close') => `GET ${path} HTTP/1.1\r\nHost: grantry.test\r\nConnection: ${connection}\r\n\r\n`;
/** A token request whose headers announce `length` bytes of body; only `body` follows them. */
const tokenPost = (body: string, length = Buffer.byteLength(body)) =>
  `POST /oauth2-token HTTP/1.1\r\nHost: grantry.test\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n${body}`;

function expectCutOffWithin(closed: { data: string; afterMs: number }, limitSeconds: number): void {
  expect(closed.data).toMatch(TIMED_OUT);
  // Not dropped at once for another reason, and not held past the limit.
  expect(closed.afterMs).toBeGreaterThanOrEqual(limitSeconds * 1000 - 100);
  expect(closed.afterMs).toBeLessThan(limitSeconds * 1000 + MARGIN_MS);
}

describe.each(BACKENDS)('slow and idle connections (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, LIMITS);
  });
  afterAll(() => server?.close());

  it('slow bodies, slow headers and silent connections are cut off within their timeouts while normal requests are served', async () => {
    // Announces 60000 bytes of body and sends one.
    const oneByte = await openConnection(server.url);
    oneByte.socket.write(tokenPost('{', 60000));
    // Sends its body a byte every 250 ms: never idle, so only the whole-request timeout stops it.
    const tricklingBody = await openConnection(server.url);
    void tricklingBody.trickle([tokenPost('', 60000), ...Array<string>(200).fill(' ')], 250);
    // Sends a header line every 250 ms and never ends the headers.
    const tricklingHeaders = await openConnection(server.url);
    void tricklingHeaders.trickle(['GET /.well-known/jwks.json HTTP/1.1\r\n', ...Array.from({ length: 200 }, (_, i) => `X-Slow-${i}: 1\r\n`)], 250);
    // Connects and says nothing.
    const silent = await openConnection(server.url);

    const statuses: number[] = [];
    let slowOnesOpen = true;
    const probing = (async () => {
      while (slowOnesOpen) {
        statuses.push((await rawRequest(server.url, get('/.well-known/jwks.json'))).status);
        statuses.push((await rawRequest(server.url, tokenPost('{}'))).status);
        await sleep(100);
      }
    })();
    const closed = await Promise.all([oneByte.closed, tricklingBody.closed, tricklingHeaders.closed, silent.closed]);
    slowOnesOpen = false;
    await probing;

    expectCutOffWithin(closed[0], LIMITS.requestTimeout);
    expectCutOffWithin(closed[1], LIMITS.requestTimeout);
    expectCutOffWithin(closed[2], LIMITS.headersTimeout);
    expectCutOffWithin(closed[3], LIMITS.headersTimeout);
    // The one-byte body is answered, not just dropped.
    expect(closed[0].data).toMatch(/^HTTP\/1\.1 408 /);
    // Every normal request meanwhile got its normal answer (JWKS 200, a token request without a client 401).
    expect(statuses.length).toBeGreaterThanOrEqual(6);
    expect(statuses).toEqual(statuses.map((_, i) => (i % 2 === 0 ? 200 : 401)));
  });

  it('an idle keep-alive connection is closed after keep_alive_timeout, and the server says so', async () => {
    const connection = await openConnection(server.url);
    connection.socket.write(get('/.well-known/jwks.json', 'keep-alive'));
    const response = await connection.waitFor('"keys"');
    const answeredAfter = Date.now();
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response).toMatch(/\r\nconnection: keep-alive\r\n/i);
    expect(response).toMatch(/\r\nkeep-alive: timeout=1\r\n/i);
    const { data } = await connection.closed;
    const idleMs = Date.now() - answeredAfter;
    expect(data).toBe(response);
    expect(idleMs).toBeGreaterThanOrEqual(LIMITS.keepAliveTimeout * 1000 - 100);
    // Node waits one second more than it announces, so that a client honouring the header closes first.
    expect(idleMs).toBeLessThan(LIMITS.keepAliveTimeout * 1000 + 1000 + MARGIN_MS);
  });
});

describe.each(BACKENDS)('connection limit (%s)', (backend) => {
  const MAX = 4;
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { maxConnections: MAX });
  });
  afterAll(() => server?.close());

  const connections = () => new Promise<number>((resolve, reject) => server.app.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));

  /** A connection the server closes without reading or answering it. */
  async function expectRefused(): Promise<void> {
    const connection = await openConnection(server.url).catch((e: NodeJS.ErrnoException) => {
      // Or reset before the connection was even reported open.
      expect(e.code).toBe('ECONNRESET');
      return undefined;
    });
    if (!connection) return;
    connection.socket.write(get('/.well-known/jwks.json'));
    expect((await connection.closed).data).toBe('');
  }

  it(`beyond ${MAX} connections new ones are refused, the open ones keep working, and a closed one frees its place`, async () => {
    const held = await Promise.all(Array.from({ length: MAX }, () => openConnection(server.url)));
    try {
      // Each has been served once, so the server counts it.
      for (const c of held) {
        c.socket.write(get('/.well-known/jwks.json', 'keep-alive'));
        expect(await c.waitFor('"keys"')).toMatch(/^HTTP\/1\.1 200 /);
      }
      expect(await connections()).toBe(MAX);
      await expectRefused();
      await expectRefused();

      // The connections already open are still served.
      const first = held[0]!;
      first.socket.write(get('/.well-known/jwks.json', 'keep-alive'));
      await first.waitFor('"keys"', 2);
      expect(first.received().match(/HTTP\/1\.1 200 /g)).toHaveLength(2);

      // Once one closes, a new connection is served again.
      const last = held.pop()!;
      last.socket.end();
      await last.closed;
      while ((await connections()) >= MAX) await sleep(10);
      expect((await rawRequest(server.url, get('/.well-known/jwks.json'))).status).toBe(200);
    } finally {
      for (const c of held) c.socket.destroy();
    }
  });
});
