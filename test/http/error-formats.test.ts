/**
 * Errors raised before a route decides (an undecodable or unknown path, a body no parser takes)
 * come in the format the route group documents: JSON:API on the APIs, RFC 6749 JSON on the
 * token endpoints, an HTML page on the browser endpoints. Never the request's own text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorRedirect, expectPage, issuerOf, rawRequest } from '../helpers/authorize-pages.js';
import { BACKENDS } from '../helpers/backends.js';
import { call } from '../helpers/endpoints.js';
import { authorizePath } from '../helpers/oauth.js';
import { rawRequest as rawHttp } from '../helpers/raw-http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { expectTokenError, rawTokenPost } from '../helpers/tokens.js';

const MARKER = 'zq<b>Marker';

describe.each(BACKENDS)('error formats before a route decides (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  it.each(['/api/customerusers/%E0%A4%A', '/admin/api/users/%zz', `/admin/api/${encodeURIComponent(MARKER)}`])('GET %s answers in JSON:API without echoing the path', async (path) => {
    const result = await call(server.url, 'GET', path);
    expect(result.status).toBeGreaterThanOrEqual(400);
    expect(result.status).toBeLessThan(500);
    expect(result.headers.get('content-type')).toBe('application/vnd.api+json');
    const errors = result.json.errors as Array<Record<string, string>>;
    expect(errors[0]?.status).toBe(String(result.status));
    expect(result.text).not.toMatch(/Marker|%E0|%zz/);
  });

  it.each(['/admin/oauth2-token/login', '/oauth2-token/authorize', '/admin/oauth2-token/authorize'])('POST %s with an XML body answers an HTML page (415)', async (path) => {
    const response = await rawRequest(server, 'POST', path, { 'content-type': 'application/xml' });
    expectPage(response, 415);
    expect(response.body).toContain('<h1>Unsupported content type</h1>');
  });

  it('an unknown or undecodable page path answers an HTML 404/400 page that does not repeat it', async () => {
    const unknown = await rawRequest(server, 'GET', `/${encodeURIComponent(MARKER)}`);
    expectPage(unknown, 404);
    expect(unknown.body).not.toContain('Marker');
    const broken = await rawRequest(server, 'GET', '/oauth2-token/authorize%zz');
    expectPage(broken, 400);
  });

  it('the token endpoint answers a body it cannot parse in RFC 6749 JSON', async () => {
    const result = await rawTokenPost(server.url, '{"grant_type": ', { 'content-type': 'application/json' });
    expectTokenError(result, 400, 'invalid_request');
  });

  it('error_description never holds a quote or a backslash (RFC 6749 §5.2)', async () => {
    const { clientId, clientSecret } = await server.createClient({ side: 'backoffice' });
    const result = await rawTokenPost(server.url, new URLSearchParams({ grant_type: 'authorization_code', code: 'x', code_verifier: 'x', client_id: clientId, client_secret: clientSecret as string }).toString(), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expectTokenError(result, 400, 'invalid_request');
    expect(result.json.error_description).toMatch(/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/);
  });

  it('an authorization request too long to carry through sign-in goes back to the client as invalid_request', async () => {
    const { clientId, redirectUri } = await server.createClient({ side: 'backoffice' });
    const state = '/'.repeat(4500);
    const response = await rawRequest(server, 'GET', `${authorizePath('backoffice')}?${new URLSearchParams({ response_type: 'code', client_id: clientId, state })}`);
    expectErrorRedirect(response, { target: redirectUri, error: 'invalid_request', state, iss: issuerOf('backoffice') });
  });

  // Before any route, there is no group to answer for: the status alone, and no body, which a
  // HEAD must never get (RFC 9110 §9.3.2; its client would read it as the next response).
  it.each([
    ['HEAD request over 16 KiB', `HEAD /oauth2-token/authorize?state=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: grantry.test\r\n\r\n`, '431 Request Header Fields Too Large'],
    ['GET request with headers over 16 KiB', `GET /api/customerusers/mine HTTP/1.1\r\nHost: grantry.test\r\nX-Long: ${'a'.repeat(20_000)}\r\n\r\n`, '431 Request Header Fields Too Large'],
    ['HEAD request that is not HTTP', 'HEAD /oauth2-token HTTP/1.1\r\nHost grantry.test\r\n\r\n', '400 Bad Request'],
  ])('a %s, refused before any route, gets its status with no body, and the connection closed', async (_what, request, status) => {
    const { response } = await rawHttp(server.url, request);
    expect(response).toBe(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
});
