/**
 * Hostile input on every endpoint: random and malformed parameters, bodies, headers and
 * tokens. Whatever arrives, the answer is a 4xx (or a redirect), never a 5xx, and never a
 * stack trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** A small seeded generator so a failure can be replayed. */
function generator(seed: number) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const nasty = ['', ' ', '%00', '\u0000', '<script>alert(1)</script>', '"\'', '../../etc/passwd', '\uD800', '𝕏', 'a'.repeat(5000), '{}', '[]', 'null', '__proto__', 'constructor', 'S256', 'plain', 'code', 'https://evil.example/', '%', '%zz', '\r\nX: y'];
  const text = () => (next() < 0.5 ? pick(nasty) : Math.random().toString(36).repeat(1 + Math.floor(next() * 4)));
  return { next, pick, text };
}

/** Header values must be visible ASCII; hostile text is squeezed into that. */
const headerSafe = (value: string) => value.replace(/[^\x20-\x7e]/g, '');

const AUTHORIZE_NAMES = ['response_type', 'client_id', 'redirect_uri', 'state', 'scope', 'code_challenge', 'code_challenge_method', 'decision', 'csrf_token', '__proto__'];
const TOKEN_NAMES = ['grant_type', 'client_id', 'client_secret', 'code', 'redirect_uri', 'code_verifier', 'refresh_token', 'scope', '__proto__', 'constructor'];

describe.each(BACKENDS)('hostile input never causes a 5xx (%s)', (backend) => {
  let server: TestServer;
  let clientId: string;
  beforeAll(async () => {
    server = await startTestServer(backend);
    clientId = (await server.createClient({ side: 'backoffice' })).clientId;
  });
  afterAll(() => server?.close());

  const expectHandled = async (response: Response, what: string) => {
    const body = await response.text();
    expect(response.status, `${what} → ${response.status} ${body.slice(0, 200)}`).toBeLessThan(500);
    expect(body).not.toMatch(/at [\w.<>]+ \(.*:\d+:\d+\)/);
  };

  it('authorize and login endpoints, GET and POST, with random parameters', async () => {
    const g = generator(20261128);
    for (let i = 0; i < 150; i++) {
      const params = new URLSearchParams();
      for (const name of AUTHORIZE_NAMES) if (g.next() < 0.6) params.append(name, name === 'client_id' && g.next() < 0.5 ? clientId : g.text());
      if (g.next() < 0.3) params.append(g.pick(AUTHORIZE_NAMES), g.text());
      const path = g.pick(['/admin/oauth2-token/authorize', '/oauth2-token/authorize', '/admin/oauth2-token/login', '/oauth2-token/login', '/oauth2-token/logout']);
      const post = g.next() < 0.5 || path.endsWith('logout');
      const response = post
        ? await fetch(server.url + path, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `grantry_csrf=${headerSafe(g.text().slice(0, 50))}` }, body: params.toString() })
        : await fetch(`${server.url}${path}?${params}`, { redirect: 'manual' });
      await expectHandled(response, `${post ? 'POST' : 'GET'} ${path} ${params.toString().slice(0, 200)}`);
    }
  });

  it('token endpoint with random bodies, content types and Basic headers', async () => {
    const g = generator(7);
    for (let i = 0; i < 150; i++) {
      const fields: Record<string, unknown> = {};
      for (const name of TOKEN_NAMES) if (g.next() < 0.6) fields[name] = g.pick([g.text(), 123, true, null, [g.text()], { a: 1 }]);
      const kind = g.pick(['json', 'form', 'raw', 'garbage-json']);
      const headers: Record<string, string> = {};
      let body: string;
      if (kind === 'json') {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(fields);
      } else if (kind === 'form') {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        body = new URLSearchParams(Object.entries(fields).map(([k, v]): [string, string] => [k, String(v)])).toString();
      } else if (kind === 'garbage-json') {
        headers['content-type'] = 'application/json';
        body = `{"grant_type": ${g.text()}`;
      } else {
        headers['content-type'] = g.pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', '']);
        body = g.text();
      }
      if (g.next() < 0.3) headers.authorization = headerSafe(g.pick([`Basic ${Buffer.from(`${g.text()}:${g.text()}`).toString('base64')}`, 'Basic %%%', 'Basic', `Bearer ${g.text()}`]));
      if (headers['content-type'] === '') delete headers['content-type'];
      const response = await fetch(`${server.url}/oauth2-token`, { method: 'POST', headers, body });
      await expectHandled(response, `token ${kind} ${body.slice(0, 200)}`);
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('APIs with random Authorization headers, paths and query strings', async () => {
    const g = generator(99);
    for (let i = 0; i < 150; i++) {
      const path = g.pick(['/admin/api/users', '/admin/api/users/1', `/admin/api/users/${encodeURIComponent(g.text().slice(0, 100).replace(/[\uD800-\uDFFF]/g, ''))}`, `/admin/api/users/${g.pick(['%zz', '%00', '..%2f..', '%E0%A4%A'])}`, '/api/customerusers/mine', '/api/nothing', '/admin/api/']);
      const query = g.next() < 0.4 ? `?${new URLSearchParams({ [g.pick(['page[number]', 'page[size]', 'access_token', 'x'])]: g.text().slice(0, 100).replace(/[\uD800-\uDFFF]/g, '') })}` : '';
      const authorization = g.pick([`Bearer ${g.text().slice(0, 300)}`, `Bearer ${['a', 'b', 'c'].map(() => Buffer.from(g.text()).toString('base64url')).join('.')}`, 'Bearer', 'bearer  x', g.text().slice(0, 100)]);
      const response = await fetch(server.url + path + query, { headers: { authorization: headerSafe(authorization) } });
      await expectHandled(response, `GET ${path}${query}`);
    }
  });
});

describe.each(BACKENDS)('oversized forms (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  it.each(['/oauth2-token', '/oauth2-token/revoke', '/admin/oauth2-token/login', '/oauth2-token/authorize'])(
    // Such a body used to be parsed in quadratic time (seconds of CPU) before any check.
    'POST %s with thousands of repeated fields is refused by the parser (400)',
    async (path) => {
      const body = 'a&'.repeat(32_000);
      const response = await fetch(server.url + path, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      expect(response.status).toBe(400);
      if (path.startsWith('/oauth2-token') && !path.endsWith('authorize')) expect(await response.json()).toMatchObject({ error: 'invalid_request' });
    },
  );
});
