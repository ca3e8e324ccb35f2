/**
 * Which client address the server believes, on every backend, observed through the brute-force
 * limit: failed password-grant attempts counted on one address block a right password from the
 * same address (429) and not from another one. The test client connects from 127.0.0.1, the
 * "proxy", and sends X-Forwarded-For as a proxy that appends the address it saw would pass it on.
 * The servers take trust_proxy as an operator writes it (parsed by loadConfig).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createSideUser, rawTokenPost } from '../helpers/tokens.js';

const MAX = 3;
const trustProxy = (raw: string) => loadConfig({ env: { GRANTRY_TRUST_PROXY: raw } }).trustProxy;

/**
 * MAX failed password-grant attempts for a new user, the i-th through a proxy chain
 * `failVia(i)`, then the right password through `probeVia`; returns the last status: 429 when
 * the server counted the probe on the same address as the failures, 200 otherwise.
 */
async function probeStatus(server: TestServer, failVia: (i: number) => string | undefined, probeVia: string | undefined): Promise<number> {
  const user = await createSideUser(server, 'backoffice');
  const client = await server.createClient({ side: 'backoffice', grants: ['password'] });
  const attempt = async (password: string, forwardedFor: string | undefined) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
    const body = { grant_type: 'password', client_id: client.clientId, client_secret: client.clientSecret, username: user.login, password };
    return (await rawTokenPost(server.url, JSON.stringify(body), headers)).status;
  };
  for (let i = 0; i < MAX; i++) expect(await attempt(`wrong-${i}`, failVia(i))).toBe(400);
  return attempt(user.password, probeVia);
}

describe.each(BACKENDS)('trust_proxy (%s)', (backend) => {
  const servers: Record<'listed' | 'off' | 'hops', TestServer> = {} as never;
  beforeAll(async () => {
    const start = (raw: string) => startTestServer(backend, { bruteForceMaxFailures: MAX, passwordGrantEnabled: true, trustProxy: trustProxy(raw) });
    [servers.listed, servers.off, servers.hops] = await Promise.all([start('127.0.0.1'), start(''), start('1')]);
  });
  afterAll(() => Promise.all(Object.values(servers).map((s) => s?.close())));

  describe('with the proxy listed (127.0.0.1)', () => {
    it('the client is the right-most untrusted hop: a spoofed left-most address does not escape the count', async () => {
      expect(await probeStatus(servers.listed, (i) => `203.0.113.${i + 1}, 5.6.7.8`, '1.2.3.4, 5.6.7.8')).toBe(429);
      expect(await probeStatus(servers.listed, (i) => `203.0.113.${i + 1}, 5.6.8.8`, '5.6.8.8')).toBe(429);
    });

    it('the right-most address is believed: another one is another client', async () => {
      expect(await probeStatus(servers.listed, () => '1.2.3.4, 5.6.7.8', '1.2.3.4, 5.6.7.9')).toBe(200);
    });

    it('trusted hops are skipped from the right', async () => {
      expect(await probeStatus(servers.listed, (i) => `203.0.113.${i + 1}, 5.6.9.8, 127.0.0.1`, '5.6.9.8')).toBe(429);
    });

    it('a request without X-Forwarded-For is the proxy itself', async () => {
      expect(await probeStatus(servers.listed, () => undefined, '127.0.0.1')).toBe(429);
    });
  });

  describe('off (empty setting)', () => {
    it('X-Forwarded-For is ignored: every request counts as the peer address', async () => {
      expect(await probeStatus(servers.off, (i) => `5.6.7.${i + 1}`, '9.9.9.9')).toBe(429);
      expect(await probeStatus(servers.off, (i) => `203.0.113.${i + 1}, 5.6.7.${i + 1}`, undefined)).toBe(429);
    });
  });

  describe('with a hop count of 1', () => {
    it('the last entry of X-Forwarded-For is the client', async () => {
      expect(await probeStatus(servers.hops, (i) => `203.0.113.${i + 1}, 5.6.7.8`, '1.2.3.4, 5.6.7.8')).toBe(429);
      expect(await probeStatus(servers.hops, () => '1.2.3.4, 5.6.7.8', '1.2.3.4, 5.6.7.9')).toBe(200);
    });
  });
});
