/**
 * The owner of a non-admin's OAuth application, through the JSON:API on every backend: it is
 * always the non-admin themselves. A document naming anyone else is refused (403, nothing
 * created or changed) instead of being answered "done" with the owner quietly left as it was;
 * naming oneself, or no one, is fine. Whether the named user exists makes no difference to the
 * answer, so it confirms no one. Admins still give any owner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../../src/management/principal.js';
import { BACKENDS } from '../helpers/backends.js';
import { TestBrowser } from '../helpers/browser.js';
import { type ApiCall, apiCall, expectApiDocument, expectApiError } from '../helpers/json-api-calls.js';
import { tokenRequest } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createSideUser, exchangeCode, expectTokenSuccess, type SideUser } from '../helpers/tokens.js';

const PATH = '/admin/api/oauthapplications';
type Owner = { data: { type: string; id: string } | null };

let counter = 0;
const uniqueName = () => `Owned app ${process.pid}-${++counter}`;
const ownerIs = (id: number | string) => ({ owner: { data: { type: 'users', id: String(id) } } });
/** A create document for a client-credentials application (the kind an owner matters to). */
const newApplication = (relationships?: Record<string, unknown>) => ({
  data: {
    type: 'oauthapplications',
    attributes: { name: uniqueName(), clientType: 'confidential', grants: ['client_credentials'], redirectUris: [], scopes: ['applications:read'] },
    ...(relationships ? { relationships } : {}),
  },
});
const ownerOf = (call: ApiCall) => (call.json.data as { relationships: { owner: Owner } }).relationships.owner.data;

describe.each(BACKENDS)('the owner of a non-admin\'s application (%s)', (backend) => {
  let server: TestServer;
  let staff: SideUser;
  let bob: { id: number; username: string };
  let adminToken: string;
  /** A staff user's tokens: by the authorization code flow, and a client-credentials client they own. */
  const staffTokens = {} as Record<'staff' | 'ccStaff', string>;

  beforeAll(async () => {
    server = await startTestServer(backend);
    staff = await createSideUser(server, 'backoffice');
    bob = await server.createBackofficeUser(`bob-${backend}`);
    const boss = await server.createBackofficeUser(`boss-${backend}`, undefined, { isAdmin: true });
    const client = await server.createClient({ side: 'backoffice', scopes: ['applications:read', 'applications:write'] });
    const scope = 'applications:read applications:write';
    staffTokens.staff = expectTokenSuccess(await exchangeCode(staff, client, server, { scope }));
    const admin: SideUser = { side: 'backoffice', id: boss.id, login: boss.username, password: boss.password, browser: new TestBrowser(server.url) };
    adminToken = expectTokenSuccess(await exchangeCode(admin, client, server, { scope }));
    const ci = await server.createClient({ side: 'backoffice', grants: ['client_credentials'], redirectUris: [], owner: String(staff.id), scopes: ['applications:read', 'applications:write'] });
    staffTokens.ccStaff = expectTokenSuccess(await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: ci.clientId, client_secret: ci.clientSecret, scope }));
  });
  afterAll(() => server?.close());

  const count = async () => (await server.grantry.clients.list(CLI, { page: 1, size: 1, search: 'Owned app' })).total;

  describe.each(['staff', 'ccStaff'] as const)('as %s', (principal) => {
    const call = (method: string, path: string, document?: unknown) => apiCall(server.url, method, path, staffTokens[principal], document);

    it('POST naming another owner, or one who does not exist, is 403 and registers nothing', async () => {
      const before = await count();
      for (const owner of [bob.id, '999999']) {
        const refused = await call('POST', PATH, newApplication(ownerIs(owner)));
        const error = expectApiError(refused, 403);
        expect(error.detail).toBe('only administrators may give an application another owner; yours are owned by you');
        expect(refused.headers.get('location')).toBeNull();
      }
      expect(await count()).toBe(before);
    });

    it('POST naming themselves, or no one, registers an application they own', async () => {
      for (const relationships of [ownerIs(staff.id), undefined]) {
        const created = await call('POST', PATH, newApplication(relationships));
        expectApiDocument(created, 201);
        expect(ownerOf(created)).toEqual({ type: 'users', id: String(staff.id) });
      }
    });

    it('PATCH naming another owner is 403 and changes nothing; naming themselves is fine', async () => {
      const created = await call('POST', PATH, newApplication());
      expectApiDocument(created, 201);
      const id = (created.json.data as { id: string }).id;
      const patch = (relationships: Record<string, unknown>, attributes: Record<string, unknown> = {}) => call('PATCH', `${PATH}/${id}`, { data: { type: 'oauthapplications', id, attributes, relationships } });
      for (const owner of [bob.id, '999999']) {
        expectApiError(await patch(ownerIs(owner), { name: `${uniqueName()} renamed` }), 403);
      }
      const after = await server.grantry.repos.clients.findByClientId(id);
      expect(after).toMatchObject({ ownerUserId: staff.id, name: (created.json.data as { attributes: { name: string } }).attributes.name });
      const same = await patch(ownerIs(staff.id), { name: `${uniqueName()} renamed` });
      expectApiDocument(same, 200);
      expect(ownerOf(same)).toEqual({ type: 'users', id: String(staff.id) });
    });
  });

  it('an admin gives any owner', async () => {
    const created = await apiCall(server.url, 'POST', PATH, adminToken, newApplication(ownerIs(bob.id)));
    expectApiDocument(created, 201);
    expect(ownerOf(created)).toEqual({ type: 'users', id: String(bob.id) });
  });
});
