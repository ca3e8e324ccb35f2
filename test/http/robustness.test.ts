/**
 * Robustness of the HTTP server on every backend: ids out of the range of the database
 * columns are unknown ids (404), never a query that the database refuses (500).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { apiGet } from '../helpers/oauth.js';
import type { TestServer } from '../helpers/server.js';
import { issueToken, type SideUser, startServerWithSideUsers } from '../helpers/tokens.js';

const JSON_API = 'application/vnd.api+json';

describe.each(BACKENDS)('HTTP robustness (%s)', (backend) => {
  let server: TestServer;
  let user: SideUser;
  let token: string;

  beforeAll(async () => {
    const started = await startServerWithSideUsers(backend);
    server = started.server;
    user = started.users.backoffice;
    token = (await issueToken(server, 'backoffice', { user })).accessToken;
  });
  afterAll(() => server?.close());

  describe('GET /admin/api/users/{id} with ids outside the 32-bit id column', () => {
    it.each(['2147483648', '4294967296', '999999999999', '0', '000'])('id %s: 404 JSON:API error, without querying the database', async (id) => {
      const find = vi.spyOn(server.grantry.repos.users, 'findBackofficeUser');
      try {
        const call = await apiGet(server.url, `/admin/api/users/${id}`, token);
        expect(call.status, JSON.stringify(call.json)).toBe(404);
        expect(call.headers.get('content-type')).toBe(JSON_API);
        const errors = call.json.errors as Array<{ status: string; title: string; detail: string }>;
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatchObject({ status: '404', title: 'Not found' });
        // Management's not-found wording, naming the id as it was written.
        expect(errors[0]?.detail).toBe(`no backoffice user "${id}"`);
        expect(find).not.toHaveBeenCalled();
      } finally {
        find.mockRestore();
      }
    });

    it('the largest 32-bit id (2147483647) is looked up: 404 for a missing user, and the real user is still found', async () => {
      const find = vi.spyOn(server.grantry.repos.users, 'findBackofficeUser');
      try {
        const missing = await apiGet(server.url, '/admin/api/users/2147483647', token);
        expect(missing.status).toBe(404);
        expect(missing.headers.get('content-type')).toBe(JSON_API);
        expect(find).toHaveBeenCalledWith(2147483647);
        const found = await apiGet(server.url, `/admin/api/users/${user.id}`, token);
        expect(found.status).toBe(200);
        expect(found.json.data).toMatchObject({ type: 'users', id: String(user.id) });
      } finally {
        find.mockRestore();
      }
    });
  });
});
