/**
 * The `sub` of access tokens (RFC 9068) and of introspection (RFC 7662) is the user's subject at
 * the client, the same as its ID tokens' (public: the side's; pairwise: the client's own), never
 * the database id, so a pairwise client learns no more from its access token than from its ID
 * token. The JSON:API still knows the user (from the token's grant), and a sign-in keeps its
 * subject when the client's subject type changes. Both sides, every backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { BACKENDS } from '../helpers/backends.js';
import { introspect } from '../helpers/endpoints.js';
import { expectApiAccepts } from '../helpers/lifecycle.js';
import { authorizeUrl, pkcePair, tokenRequest } from '../helpers/oauth.js';
import { followAuthorization, idTokenClaims } from '../helpers/oidc.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { subjectAt } from '../helpers/subjects.js';
import { clientAuth, createSideUser, decodeJwt, expectTokenSuccess, SIDES, type SideUser, type TestClient } from '../helpers/tokens.js';

interface Tokens {
  accessToken: string;
  refreshToken: string;
  idToken: string | undefined;
}

describe.each(BACKENDS)('access token subjects (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  const codeClient = (side: SideName, subjectType?: 'public' | 'pairwise') =>
    server.createClient({ side, grants: ['authorization_code', 'refresh_token'], skipConsent: true, ...(subjectType ? { subjectType } : {}) });

  /** Signs `user` in at `registered` with `scope` (PKCE), exchanges the code. */
  async function signIn(user: SideUser, registered: TestClient, scope: string): Promise<Tokens> {
    const pkce = pkcePair();
    const request = authorizeUrl(user.side, {
      response_type: 'code',
      client_id: registered.clientId,
      redirect_uri: registered.redirectUri,
      scope,
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
    });
    const callback = await followAuthorization(user.browser, user.side, request, { login: user.login, password: user.password, decision: 'expect-none' });
    const code = callback.searchParams.get('code');
    expect(code, callback.href).toBeTruthy();
    const call = await tokenRequest(server.url, { grant_type: 'authorization_code', ...clientAuth(registered), redirect_uri: registered.redirectUri, code: code as string, code_verifier: pkce.verifier });
    return tokensOf(call);
  }

  const tokensOf = (call: Awaited<ReturnType<typeof tokenRequest>>): Tokens => {
    const accessToken = expectTokenSuccess(call);
    expect(typeof call.json.refresh_token).toBe('string');
    return { accessToken, refreshToken: call.json.refresh_token as string, idToken: call.json.id_token as string | undefined };
  };

  const refresh = async (registered: TestClient, refreshToken: string) =>
    tokensOf(await tokenRequest(server.url, { grant_type: 'refresh_token', ...clientAuth(registered), refresh_token: refreshToken }));

  const accessSub = (token: string) => decodeJwt(token).payload.sub;

  /** Introspection's answer about `token`, asked by the client it was issued to. */
  async function introspected(registered: TestClient, token: string): Promise<Record<string, unknown>> {
    const answer = await introspect(server.url, registered, token);
    expect(answer.status).toBe(200);
    expect(answer.json.active).toBe(true);
    return answer.json;
  }

  describe.each(SIDES)('%s', (side) => {
    it.each(['public', 'pairwise'] as const)(
      '%s client: the access token, its refresh and introspection of both tokens carry the ID token\'s sub, not the database id; the API still knows the user',
      async (subjectType) => {
        const user = await createSideUser(server, side);
        const registered = await codeClient(side, subjectType);
        const expected = await subjectAt(server, registered.clientId, user.id);
        const first = await signIn(user, registered, 'openid profile api');
        expect(first.idToken).toBeDefined();
        expect(idTokenClaims(first.idToken as string).sub).toBe(expected);
        expect(accessSub(first.accessToken)).toBe(expected);
        expect(accessSub(first.accessToken)).not.toBe(String(user.id));
        expect(await introspected(registered, first.accessToken)).toMatchObject({ sub: expected, client_id: registered.clientId, token_type: 'Bearer' });
        expect(await introspected(registered, first.refreshToken)).toMatchObject({ sub: expected, client_id: registered.clientId });
        // The JSON:API identifies the user by the token's grant, not by its sub.
        await expectApiAccepts(server, side, first.accessToken, user.id);

        const next = await refresh(registered, first.refreshToken);
        expect(accessSub(next.accessToken)).toBe(expected);
        expect(idTokenClaims(next.idToken as string).sub).toBe(expected);
        expect(await introspected(registered, next.refreshToken)).toMatchObject({ sub: expected });
      },
    );

    it('a pairwise client\'s access tokens carry a sub of its own; public clients share the side\'s; without openid the same', async () => {
      const user = await createSideUser(server, side);
      const [pairA, pairB, publicA, publicB] = await Promise.all([codeClient(side, 'pairwise'), codeClient(side, 'pairwise'), codeClient(side), codeClient(side, 'public')]);
      // One after another, as one browser would: concurrent flows in a browser with no cookies yet
      // each get their own CSRF cookie, and only the last one set survives in the jar (a 403).
      const subs: string[] = [];
      for (const registered of [pairA, pairB, publicA, publicB]) subs.push(accessSub((await signIn(user, registered, 'api')).accessToken) as string);
      const [a, b, p, q] = subs;
      expect(new Set([a, b, p])).toHaveProperty('size', 3);
      expect(q).toBe(p);
      expect(a).toBe(await subjectAt(server, pairA.clientId, user.id));
      expect(p).toBe(await subjectAt(server, publicA.clientId, user.id));
      for (const sub of subs) expect(sub).not.toBe(String(user.id));
      // No ID token without openid, and the access token's sub is the one an ID token would carry.
      const plain = await signIn(user, pairA, 'api');
      expect(plain.idToken).toBeUndefined();
      expect(await introspected(pairA, plain.accessToken)).toMatchObject({ sub: a });
    });

    it('a sign-in\'s access tokens keep its subject when the client turns pairwise afterwards, as its ID tokens do; a new sign-in gets the pairwise one', async () => {
      const user = await createSideUser(server, side);
      const registered = await codeClient(side, 'public');
      const first = await signIn(user, registered, 'openid api');
      const publicSub = await subjectAt(server, registered.clientId, user.id);
      expect(accessSub(first.accessToken)).toBe(publicSub);
      await server.grantry.repos.clients.update(registered.clientId, { subjectType: 'pairwise' });
      const pairwiseSub = await subjectAt(server, registered.clientId, user.id);
      expect(pairwiseSub).not.toBe(publicSub);
      const next = await refresh(registered, first.refreshToken);
      expect(accessSub(next.accessToken)).toBe(publicSub);
      expect(idTokenClaims(next.idToken as string).sub).toBe(publicSub);
      expect(await introspected(registered, next.refreshToken)).toMatchObject({ sub: publicSub });
      const again = await signIn(user, registered, 'openid api');
      expect(accessSub(again.accessToken)).toBe(pairwiseSub);
      expect(idTokenClaims(again.idToken as string).sub).toBe(pairwiseSub);
    });
  });
});
