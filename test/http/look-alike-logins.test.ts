/**
 * Signing in by any spelling of a login that normalises to the account's (NFKC, case folded,
 * no trailing dot on an email's domain), over HTTP against real servers on every backend: the
 * login form of both sides and the password grant.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { createUser, fullwidth, type TestUser } from '../helpers/authorize-pages.js';
import { BACKENDS } from '../helpers/backends.js';
import { signIn, TestBrowser } from '../helpers/browser.js';
import { tokenRequest } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { expectTokenError, expectTokenSuccess, SIDES } from '../helpers/tokens.js';

/** Spellings of the user's logins that must find the account: the username (back office) and the email. */
function spellings(side: SideName, user: TestUser): string[] {
  const email = side === 'backoffice' ? `${user.login}@example.com` : user.login;
  const names = [email.toUpperCase(), `${email}.`, fullwidth(email), `${fullwidth(email.toUpperCase())}.`];
  return side === 'backoffice' ? [user.login.toUpperCase(), fullwidth(user.login), ...names] : names;
}

describe.each(BACKENDS)('logins that differ only by case, width or a trailing dot (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { passwordGrantEnabled: true });
  });
  afterAll(() => server?.close());

  describe.each(SIDES)('%s', (side) => {
    it('the login form signs in with every spelling', async () => {
      const user = await createUser(server, side);
      for (const login of spellings(side, user)) expect((await signIn(new TestBrowser(server.url), side, login, user.password)).status, login).toBe(303);
      // A name that only looks alike after another rule (an extra character) is another login.
      expect((await signIn(new TestBrowser(server.url), side, `${user.login}x`, user.password)).status).toBe(401);
    });

    it('the password grant issues a token for every spelling', async () => {
      const user = await createUser(server, side);
      const client = await server.createClient({ side, grants: ['password'] });
      const grant = (username: string) => tokenRequest(server.url, { grant_type: 'password', client_id: client.clientId, client_secret: client.clientSecret, username, password: user.password });
      for (const username of spellings(side, user)) expectTokenSuccess(await grant(username));
      expectTokenError(await grant(`${user.login}x`), 400, 'invalid_grant');
    });
  });
});
