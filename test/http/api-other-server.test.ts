/**
 * The API's checks stay exact when the change is made elsewhere: two servers on one database
 * (each its own connection, as two processes have), every change made through the second and
 * the token used on the first, which has answered it just before. On SQLite the first keeps the
 * answers of its token and user reads while the database is unchanged (unchanged-reads.ts);
 * a commit of the other connection must end that on the very next request.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLI } from '../../src/management/principal.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { BACKENDS } from '../helpers/backends.js';
import { revoke } from '../helpers/endpoints.js';
import { apiGet } from '../helpers/oauth.js';
import type { TestServer } from '../helpers/server.js';
import { API_PATH, issueToken, type SideUser, SIDES, startServerWithSideUsers } from '../helpers/tokens.js';

describe.each(BACKENDS)('the API on one server, changes through another (%s)', (backend) => {
  let first: TestServer;
  let second: RunningServer;
  let users: Record<'backoffice' | 'storefront', SideUser>;

  beforeAll(async () => {
    ({ server: first, users } = await startServerWithSideUsers(backend, { defaultScope: 'api' }));
    second = await startServer({ ...first.config }, () => {});
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  /** The status of two GETs in a row on the first server: the second one may be answered from what the first read. */
  const statusTwice = async (path: string, token: string) => {
    const a = await apiGet(first.url, path, token);
    const b = await apiGet(first.url, path, token);
    return [a.status, b.status];
  };

  it('on SQLite, calls with nothing changed in between are answered from memory after the first; PostgreSQL asks every time', async () => {
    const { accessToken } = await issueToken(first, 'backoffice', { user: users.backoffice });
    const grants = first.grantry.repos.grants as unknown as { checkQueries: Record<string, { first: () => unknown }> };
    const checks = vi.spyOn(grants.checkQueries.backoffice as { first: () => unknown }, 'first');
    try {
      for (let i = 0; i < 6; i += 1) expect((await apiGet(first.url, API_PATH.backoffice, accessToken)).status).toBe(200);
      // The first call reads; so may one after a background write meanwhile (the issuance's audit
      // events, written within a second), which ends what was kept.
      if (backend === 'sqlite') expect(checks.mock.calls.length).toBeLessThanOrEqual(3);
      else expect(checks).toHaveBeenCalledTimes(6);
    } finally {
      checks.mockRestore();
    }
  });

  for (const side of SIDES) {
    const path = API_PATH[side];

    it(`${side}: a token revoked at the other server (RFC 7009) is refused on the next request`, async () => {
      const { accessToken, client } = await issueToken(first, side, { user: users[side] });
      expect(await statusTwice(path, accessToken)).toEqual([200, 200]);
      expect((await revoke(second.url, client, accessToken)).status).toBe(200);
      const refused = await apiGet(first.url, path, accessToken);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    });

    it(`${side}: a client deactivated through the other server: refused; re-activated: accepted`, async () => {
      const { accessToken, client } = await issueToken(first, side, { user: users[side] });
      expect(await statusTwice(path, accessToken)).toEqual([200, 200]);
      await second.grantry.clients.setActive(CLI, client.clientId, false);
      expect(await statusTwice(path, accessToken)).toEqual([401, 401]);
      await second.grantry.clients.setActive(CLI, client.clientId, true);
      expect(await statusTwice(path, accessToken)).toEqual([200, 200]);
    });

    it(`${side}: the user's grants revoked, or the client deleted, through the other server: refused`, async () => {
      const { accessToken, user } = await issueToken(first, side);
      expect(await statusTwice(path, accessToken)).toEqual([200, 200]);
      await second.grantry.users.revokeTokens(CLI, side, String(user.id));
      expect((await apiGet(first.url, path, accessToken)).status).toBe(401);

      const other = await issueToken(first, side, { user: users[side] });
      expect(await statusTwice(path, other.accessToken)).toEqual([200, 200]);
      await second.grantry.clients.delete(CLI, other.client.clientId);
      expect((await apiGet(first.url, path, other.accessToken)).status).toBe(401);
    });

    it(`${side}: a user disabled through the other server: refused; enabled again: accepted`, async () => {
      const { accessToken, user } = await issueToken(first, side);
      expect(await statusTwice(path, accessToken)).toEqual([200, 200]);
      await second.grantry.users.setFlag(CLI, side, String(user.id), 'enabled', false);
      expect(await statusTwice(path, accessToken)).toEqual([401, 401]);
      await second.grantry.users.setFlag(CLI, side, String(user.id), 'enabled', true);
      expect(await statusTwice(path, accessToken)).toEqual([200, 200]);
    });
  }

  it('back office: a user locked through the other server is refused', async () => {
    const { accessToken, user } = await issueToken(first, 'backoffice');
    expect(await statusTwice(API_PATH.backoffice, accessToken)).toEqual([200, 200]);
    await second.grantry.users.setFlag(CLI, 'backoffice', user.login, 'locked', true);
    expect((await apiGet(first.url, API_PATH.backoffice, accessToken)).status).toBe(401);
  });

  it("back office: the user's admin right and their resource as changed through the other server, on the next request", async () => {
    const { accessToken, user } = await issueToken(first, 'backoffice');
    const someoneElse = `/admin/api/users/${users.backoffice.id}`;
    const own = `/admin/api/users/${user.id}`;
    // Not an admin: another user is not found, their own resource is served.
    expect(await statusTwice(someoneElse, accessToken)).toEqual([404, 404]);
    expect((await apiGet(first.url, own, accessToken)).json.data).toMatchObject({ attributes: { admin: false, email: expect.any(String) } });

    await second.grantry.users.setAdmin(CLI, String(user.id), true);
    await second.grantry.users.update(CLI, 'backoffice', String(user.id), { email: `changed-${user.id}@example.com` });
    expect((await apiGet(first.url, someoneElse, accessToken)).status).toBe(200);
    expect((await apiGet(first.url, own, accessToken)).json.data).toMatchObject({ attributes: { admin: true, email: `changed-${user.id}@example.com` } });
  });
});
