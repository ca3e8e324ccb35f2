/**
 * A refusal names the value it refuses, so the caller sees which one, but never repeats a huge
 * input whole: each refused scope, grant type or redirect URI is cut to 60 characters with an
 * ellipsis, and at most ten refused scopes are named. Through the JSON:API on every backend, and
 * ClientManager for the CLI and the console.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../../src/management/principal.js';
import { BACKENDS } from '../helpers/backends.js';
import { TestBrowser } from '../helpers/browser.js';
import { apiCall, expectApiError } from '../helpers/json-api-calls.js';
import { refusal } from '../helpers/management.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { exchangeCode, expectTokenSuccess, type SideUser } from '../helpers/tokens.js';

const PATH = '/admin/api/oauthapplications';
const KNOWN = 'known: openid, profile, email, api, users:read, users:write, applications:read, applications:write, read, write, orders:read';

let counter = 0;
const application = (attributes: Record<string, unknown>) => ({
  data: {
    type: 'oauthapplications',
    attributes: { name: `Refused ${process.pid}-${++counter}`, clientType: 'confidential', grants: ['authorization_code'], redirectUris: ['https://app.example/cb'], scopes: ['api'], ...attributes },
  },
});

describe.each(BACKENDS)('refusals repeat at most 60 characters of a refused value (%s)', (backend) => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer(backend);
    const boss = await server.createBackofficeUser(`boss-${backend}`, 'correct-horse-1', { isAdmin: true });
    const admin: SideUser = { side: 'backoffice', id: boss.id, login: boss.username, password: boss.password, browser: new TestBrowser(server.url) };
    const client = await server.createClient({ side: 'backoffice', scopes: ['applications:read', 'applications:write'] });
    token = expectTokenSuccess(await exchangeCode(admin, client, server, { scope: 'applications:read applications:write' }));
  });
  afterAll(() => server?.close());

  const refused = async (attributes: Record<string, unknown>, pointer: string) => {
    const answer = await apiCall(server.url, 'POST', PATH, token, application(attributes));
    return expectApiError(answer, 422, { pointer }).detail;
  };

  it('a 5000-character scope name comes back as its first 60 characters and an ellipsis', async () => {
    const huge = `x${'y'.repeat(4999)}`;
    expect(await refused({ scopes: ['api', huge] }, '/data/attributes/scopes')).toBe(`unknown scope x${'y'.repeat(59)}…; ${KNOWN}`);
  });

  it('cuts in characters, never inside one, and leaves a short name whole', async () => {
    expect(await refused({ scopes: ['\u{1F600}'.repeat(100)] }, '/data/attributes/scopes')).toBe(`unknown scope ${'\u{1F600}'.repeat(60)}…; ${KNOWN}`);
    const sixty = 'z'.repeat(60);
    expect(await refused({ scopes: [sixty] }, '/data/attributes/scopes')).toBe(`unknown scope ${sixty}; ${KNOWN}`);
  });

  it('names at most ten refused scopes, and how many more there are', async () => {
    const many = Array.from({ length: 50 }, (_, i) => `nope-${i}`);
    expect(await refused({ scopes: many }, '/data/attributes/scopes')).toBe(`unknown scope ${many.slice(0, 10).join(', ')} and 40 more; ${KNOWN}`);
  });

  it('a huge grant type or redirect URI is cut the same way', async () => {
    const grant = `implicit${'-'.repeat(3000)}`;
    expect(await refused({ grants: [grant] }, '/data/attributes/grants')).toBe(`unknown grant type "${grant.slice(0, 60)}…"; known: authorization_code, refresh_token, client_credentials, password`);
    const uri = `https://app.example/${'a'.repeat(3000)}`;
    expect(await refused({ redirectUris: [uri] }, '/data/attributes/redirectUris')).toBe(`redirect URI ${uri.slice(0, 60)}… is longer than 2000 characters`);
  });

  it('ClientManager refuses the same way, for the CLI and the console', async () => {
    const error = await refusal(server.grantry.clients.create(CLI, { side: 'backoffice', name: 'Huge scope', type: 'confidential', grants: ['authorization_code'], redirectUris: ['https://app.example/cb'], scopes: ['q'.repeat(5000)] }));
    expect(error).toMatchObject({ code: 'invalid_input', field: 'scopes' });
    expect(error.message).toBe(`unknown scope ${'q'.repeat(60)}…; ${KNOWN}`);
  });
});
