/**
 * The OpenID Connect settings of an application (post-logout redirect URIs, ID token signature
 * algorithm, subject type) through the JSON:API and the console, over HTTP on every backend:
 * set on create and update, shown, kept when not sent, cleared, and refused in plain words at the
 * setting, by the one ClientManager check (test/management/client-rules.test.ts has the rules,
 * test/cli/lifecycle.test.ts the CLI).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../../src/management/principal.js';
import { BACKENDS } from '../helpers/backends.js';
import { formField, signIn, TestBrowser } from '../helpers/browser.js';
import { type ApiCall, apiCall, type ApiResource, expectApiDocument, expectApiError } from '../helpers/json-api-calls.js';
import { tokenRequest } from '../helpers/oauth.js';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';
import { expectTokenSuccess } from '../helpers/tokens.js';

const API = '/admin/api/oauthapplications';
const CONSOLE = '/admin/console';
const OIDC_ATTRIBUTES = ['postLogoutRedirectUris', 'idTokenSignedResponseAlg', 'subjectType'] as const;

let counter = 0;
const uniqueName = (what: string) => `${what} ${process.pid}-${++counter}`;

/** The OIDC attributes of an API answer's application. */
const oidcOf = (call: ApiCall) => {
  const { attributes } = call.json.data as ApiResource;
  return Object.fromEntries(OIDC_ATTRIBUTES.map((name) => [name, attributes[name]]));
};

describe.each(BACKENDS)('OpenID Connect settings of an application (%s)', (backend) => {
  let server: TestServer;
  let token: string;
  let admin: TestBrowser;
  let csrf: string;

  const api = (method: string, path: string, document?: unknown) => apiCall(server.url, method, path, token, document);
  const create = (attributes: Record<string, unknown>) =>
    api('POST', API, {
      data: { type: 'oauthapplications', attributes: { name: uniqueName('OIDC'), clientType: 'public', grants: ['authorization_code'], redirectUris: ['https://rp.example/cb'], ...attributes } },
    });
  const patch = (id: string, attributes: Record<string, unknown>) => api('PATCH', `${API}/${id}`, { data: { type: 'oauthapplications', id, attributes } });
  const stored = async (clientId: string) => {
    const c = await server.grantry.clients.get(CLI, clientId);
    return { postLogoutRedirectUris: c.postLogoutRedirectUris, idTokenSignedResponseAlg: c.idTokenSignedResponseAlg, subjectType: c.subjectType };
  };

  /** The console's application form as the browser sends it: every field, these values over the defaults. */
  const form = (values: Record<string, string | string[]>) => ({
    csrf_token: csrf,
    side: 'storefront',
    name: uniqueName('Console OIDC'),
    type: 'public',
    grants: ['authorization_code'],
    redirect_uris: 'https://rp.example/cb',
    post_logout_redirect_uris: '',
    id_token_signed_response_alg: '',
    subject_type: 'public',
    scopes: ['api'],
    owner: '',
    ...values,
  });
  /** The client_id a successful console create redirects to. */
  const createdId = (location: string | null) => /\/applications\/([^/?]+)\?done=created$/.exec(location ?? '')?.[1] as string;

  beforeAll(async () => {
    server = await startTestServer(backend);
    const boss = await server.createBackofficeUser('oidc-boss', undefined, { isAdmin: true });
    const machine = await server.createClient({ side: 'backoffice', grants: ['client_credentials'], redirectUris: [], owner: String(boss.id), scopes: ['applications:read', 'applications:write'] });
    token = expectTokenSuccess(
      await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: machine.clientId, client_secret: machine.clientSecret as string, scope: 'applications:read applications:write' }),
    );
    admin = new TestBrowser(server.url);
    expect((await signIn(admin, 'backoffice', 'admin', ADMIN_PASSWORD)).status).toBe(303);
    csrf = formField((await admin.get(`${CONSOLE}/profile`)).body, 'csrf_token') as string;
    expect(csrf).toBeTruthy();
  });
  afterAll(() => server?.close());

  describe('JSON:API', () => {
    it('sets the three settings on create, shows them on every read, and defaults them when left out', async () => {
      const created = await create({ postLogoutRedirectUris: ['https://rp.example/bye', 'com.example.rp:/bye'], idTokenSignedResponseAlg: 'ES256', subjectType: 'pairwise' });
      expectApiDocument(created, 201);
      const expected = { postLogoutRedirectUris: ['https://rp.example/bye', 'com.example.rp:/bye'], idTokenSignedResponseAlg: 'ES256', subjectType: 'pairwise' };
      expect(oidcOf(created)).toEqual(expected);
      const { id } = created.json.data as ApiResource;
      expect(await stored(id)).toEqual(expected);
      const shown = await api('GET', `${API}/${id}`);
      expectApiDocument(shown, 200);
      expect(oidcOf(shown)).toEqual(expected);
      // Sparse fieldsets know them.
      const sparse = await api('GET', `${API}/${id}?fields[oauthapplications]=subjectType,idTokenSignedResponseAlg`);
      expectApiDocument(sparse, 200);
      expect((sparse.json.data as ApiResource).attributes).toEqual({ idTokenSignedResponseAlg: 'ES256', subjectType: 'pairwise' });

      const plain = await create({});
      expectApiDocument(plain, 201);
      expect(oidcOf(plain)).toEqual({ postLogoutRedirectUris: [], idTokenSignedResponseAlg: null, subjectType: 'public' });
    });

    it('PATCH keeps what it does not send, replaces what it sends, and clears with [] and null', async () => {
      const created = await create({ postLogoutRedirectUris: ['https://rp.example/bye'], idTokenSignedResponseAlg: 'PS256', subjectType: 'pairwise' });
      expectApiDocument(created, 201);
      const { id } = created.json.data as ApiResource;

      const renamed = await patch(id, { name: uniqueName('Renamed') });
      expectApiDocument(renamed, 200);
      expect(oidcOf(renamed)).toEqual({ postLogoutRedirectUris: ['https://rp.example/bye'], idTokenSignedResponseAlg: 'PS256', subjectType: 'pairwise' });

      const changed = await patch(id, { postLogoutRedirectUris: ['https://rp.example/signed-out'], idTokenSignedResponseAlg: 'EdDSA' });
      expectApiDocument(changed, 200);
      expect(oidcOf(changed)).toEqual({ postLogoutRedirectUris: ['https://rp.example/signed-out'], idTokenSignedResponseAlg: 'EdDSA', subjectType: 'pairwise' });

      const cleared = await patch(id, { postLogoutRedirectUris: [], idTokenSignedResponseAlg: null, subjectType: 'public' });
      expectApiDocument(cleared, 200);
      expect(oidcOf(cleared)).toEqual({ postLogoutRedirectUris: [], idTokenSignedResponseAlg: null, subjectType: 'public' });
      expect(await stored(id)).toEqual({ postLogoutRedirectUris: [], idTokenSignedResponseAlg: null, subjectType: 'public' });
    });

    it.each([
      ['a post-logout URI over plain http', { postLogoutRedirectUris: ['http://rp.example/bye'] }, 'postLogoutRedirectUris', 'post-logout redirect URI http://rp.example/bye must use https (http is allowed only for loopback addresses)'],
      ['a post-logout URI with a fragment', { postLogoutRedirectUris: ['https://rp.example/bye#x'] }, 'postLogoutRedirectUris', 'post-logout redirect URI https://rp.example/bye#x must not contain a fragment'],
      [
        'post-logout URIs without the code grant',
        { clientType: 'confidential', grants: ['password'], redirectUris: [], postLogoutRedirectUris: ['https://rp.example/bye'] },
        'postLogoutRedirectUris',
        'post-logout redirect URIs are for clients with the authorization_code grant, through which users sign in',
      ],
      ['post-logout URIs that are not a list', { postLogoutRedirectUris: 'https://rp.example/bye' }, 'postLogoutRedirectUris', 'postLogoutRedirectUris must be a list of at most 100 strings'],
      ['an unknown algorithm', { idTokenSignedResponseAlg: 'none' }, 'idTokenSignedResponseAlg', 'unknown ID token signing algorithm "none"; known: RS256, PS256, ES256, EdDSA'],
      ['an algorithm that is not a string', { idTokenSignedResponseAlg: 256 }, 'idTokenSignedResponseAlg', "idTokenSignedResponseAlg must be a string, or null for the server's signing key"],
      ['an unknown subject type', { subjectType: 'secret' }, 'subjectType', 'unknown subject type "secret"; known: public, pairwise'],
      ['a subject type that is not a string', { subjectType: ['public'] }, 'subjectType', 'subjectType must be a string'],
    ])('422 at the attribute: %s, on create and on PATCH, changing nothing', async (_what, attributes, name, detail) => {
      const before = (await server.grantry.clients.list(CLI, { page: 1, size: 1 })).total;
      const refused = expectApiError(await create(attributes), 422, { pointer: `/data/attributes/${name}` });
      expect(refused.detail).toBe(detail);
      expect((await server.grantry.clients.list(CLI, { page: 1, size: 1 })).total).toBe(before);

      const created = await create({ clientType: 'confidential', grants: ['authorization_code', 'password'], postLogoutRedirectUris: ['https://rp.example/ok'] });
      expectApiDocument(created, 201);
      const { id } = created.json.data as ApiResource;
      const { clientType: _type, ...changes } = attributes as Record<string, unknown>;
      expect(expectApiError(await patch(id, changes), 422, { pointer: `/data/attributes/${name}` }).detail).toBe(detail);
      expect(await stored(id)).toEqual({ postLogoutRedirectUris: ['https://rp.example/ok'], idTokenSignedResponseAlg: null, subjectType: 'public' });
    });
  });

  describe('console', () => {
    it('the new-application form offers the three settings, labelled and explained, with the defaults chosen', async () => {
      const page = await admin.get(`${CONSOLE}/applications/new`);
      expect(page.status).toBe(200);
      expect(page.body).toContain('<label for="post_logout_redirect_uris">Post-logout redirect URIs</label>');
      expect(page.body).toContain('<textarea id="post_logout_redirect_uris" name="post_logout_redirect_uris" rows="2" aria-describedby="post-logout-hint"></textarea>');
      expect(page.body).toContain('<label for="id_token_signed_response_alg">ID token signature</label>');
      expect(page.body).toMatch(/<select id="id_token_signed_response_alg" name="id_token_signed_response_alg" aria-describedby="alg-hint"><option value="" selected>Server default \(the current signing key\)<\/option><option value="RS256">RS256<\/option><option value="PS256">PS256<\/option><option value="ES256">ES256<\/option><option value="EdDSA">EdDSA<\/option><\/select>/);
      expect(page.body).toContain('<label for="subject_type">Subject identifiers</label>');
      expect(page.body).toMatch(/<select id="subject_type" name="subject_type" aria-describedby="subject-hint"><option value="public" selected>Public: [^<]+<\/option><option value="pairwise">Pairwise: [^<]+<\/option><\/select>/);
      for (const hint of ['post-logout-hint', 'alg-hint', 'subject-hint']) expect(page.body).toMatch(new RegExp(`<p class="hint" id="${hint}">[^<]+</p>`));
      // The same form in "My applications".
      expect((await admin.get(`${CONSOLE}/my/applications/new`)).body).toContain('name="subject_type"');
    });

    it('creates an application with them, shows them on its page and in its edit form, and saves changes and clearing', async () => {
      const created = await admin.post(`${CONSOLE}/applications/new`, form({ post_logout_redirect_uris: 'https://rp.example/bye\r\n\r\ncom.example.rp:/bye\r\n', id_token_signed_response_alg: 'ES256', subject_type: 'pairwise' }));
      expect(created.status).toBe(303);
      const id = createdId(created.location);
      expect(await stored(id)).toEqual({ postLogoutRedirectUris: ['https://rp.example/bye', 'com.example.rp:/bye'], idTokenSignedResponseAlg: 'ES256', subjectType: 'pairwise' });

      const details = await admin.get(`${CONSOLE}/applications/${id}`);
      expect(details.status).toBe(200);
      expect(details.body).toContain('<dt>Post-logout redirect URIs</dt><dd><code>https://rp.example/bye</code><br><code>com.example.rp:/bye</code><br></dd>');
      expect(details.body).toContain('<dt>ID token signature</dt><dd>ES256</dd>');
      expect(details.body).toContain('<dt>Subject identifiers</dt><dd>Pairwise: one for this application only</dd>');

      const edit = await admin.get(`${CONSOLE}/applications/${id}/edit`);
      expect(edit.status).toBe(200);
      expect(edit.body).toContain('>https://rp.example/bye\ncom.example.rp:/bye</textarea>');
      expect(edit.body).toContain('<option value="ES256" selected>ES256</option>');
      expect(edit.body).toMatch(/<option value="pairwise" selected>/);

      const name = (await server.grantry.clients.get(CLI, id)).name;
      const saved = await admin.post(`${CONSOLE}/applications/${id}/edit`, form({ name, post_logout_redirect_uris: 'https://rp.example/signed-out', id_token_signed_response_alg: 'RS256', subject_type: 'pairwise' }));
      expect(saved.status).toBe(303);
      expect(saved.location).toBe(`${CONSOLE}/applications/${id}?done=saved`);
      expect(await stored(id)).toEqual({ postLogoutRedirectUris: ['https://rp.example/signed-out'], idTokenSignedResponseAlg: 'RS256', subjectType: 'pairwise' });

      // An empty textarea and the server default clear them.
      const cleared = await admin.post(`${CONSOLE}/applications/${id}/edit`, form({ name, subject_type: 'public' }));
      expect(cleared.status).toBe(303);
      expect(await stored(id)).toEqual({ postLogoutRedirectUris: [], idTokenSignedResponseAlg: null, subjectType: 'public' });
      const after = await admin.get(`${CONSOLE}/applications/${id}`);
      expect(after.body).toContain('<dt>Post-logout redirect URIs</dt><dd>none</dd>');
      expect(after.body).toContain('<dt>ID token signature</dt><dd>Server default (the current signing key)</dd>');
      expect(after.body).toContain('<dt>Subject identifiers</dt><dd>Public: the same for every application of the side</dd>');
    });

    it.each([
      ['a post-logout URI over plain http', { post_logout_redirect_uris: 'http://rp.example/bye' }, 'postLogoutRedirectUris', 'post-logout-hint', 'Post-logout redirect URI http://rp.example/bye must use https (http is allowed only for loopback addresses).'],
      [
        'post-logout URIs without the code grant',
        { type: 'confidential', grants: ['password'], redirect_uris: '', post_logout_redirect_uris: 'https://rp.example/bye' },
        'postLogoutRedirectUris',
        'post-logout-hint',
        'Post-logout redirect URIs are for clients with the authorization_code grant, through which users sign in.',
      ],
      ['an unknown algorithm', { id_token_signed_response_alg: 'HS256' }, 'idTokenSignedResponseAlg', 'alg-hint', 'Unknown ID token signing algorithm &quot;HS256&quot;; known: RS256, PS256, ES256, EdDSA.'],
      ['an algorithm sent twice', { id_token_signed_response_alg: ['RS256', 'ES256'] }, 'idTokenSignedResponseAlg', 'alg-hint', 'The ID token signature was sent more than once.'],
      ['an unknown subject type', { subject_type: 'secret' }, 'subjectType', 'subject-hint', 'Unknown subject type &quot;secret&quot;; known: public, pairwise.'],
    ] as [string, Record<string, string | string[]>, string, string, string][])('400 with the message at the field, keeping what was typed: %s', async (_what, values, field, hint, message) => {
      const before = (await server.grantry.clients.list(CLI, { page: 1, size: 1 })).total;
      const sent = form(values);
      const response = await admin.post(`${CONSOLE}/applications/new`, sent);
      expect(response.status).toBe(400);
      expect(response.body).toContain(`<p class="field-error" id="${field}-error">${message}</p>`);
      expect(response.body).toContain(`aria-invalid="true" aria-describedby="${hint} ${field}-error"`);
      expect(response.body).toContain('<div class="error-summary" role="alert">');
      expect(response.body).toContain(`value="${sent.name}"`);
      expect(response.body).toContain(`>${sent.post_logout_redirect_uris}</textarea>`);
      expect((await server.grantry.clients.list(CLI, { page: 1, size: 1 })).total).toBe(before);
    });
  });
});
