/**
 * openid-client 6, a certified OpenID Connect relying-party library, against a real server on
 * every backend and both sides: discovery from the issuer, the authorization code flow with
 * PKCE, state and nonce (the library builds the request and checks the answer; the test's browser
 * signs in and consents), the ID token's claims with its signature checked against the JWKS,
 * UserInfo, a refresh that brings a new ID token, and RP-initiated logout that ends the session
 * of that side only. A confidential client authenticates with client_secret_basic, a public one
 * with none. After a rotation to ES256, ID tokens come in ES256 (the library verifies them) and a
 * client pinned to RS256 is refused. The server's public URL is http://grantry.test; the library's requests reach the
 * listening server through its customFetch option (helpers/oidc.ts).
 */
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { BACKENDS } from '../helpers/backends.js';
import { signIn, TestBrowser } from '../helpers/browser.js';
import {
  atHash,
  expectedIdentityClaims,
  expectIdTokenClaims,
  expectSignedIn,
  expectSignedOut,
  followAuthorization,
  isLoginRedirect,
  localPath,
  LOGOUT_URI,
  nowSeconds,
  OIDC_SCOPE,
  oidcPaths,
  publicUrlFetch,
} from '../helpers/oidc.js';
import { PUBLIC_URL, startTestServer, type TestServer } from '../helpers/server.js';
import { createSideUser, decodeJwt, ISSUER, otherSide, SIDES, type SideUser, type TestClient } from '../helpers/tokens.js';

type ClientType = 'confidential' | 'public';

/** The library's configuration from discovery, as an app would make it. */
async function discover(server: TestServer, side: SideName, registered: TestClient, type: ClientType, metadata?: Partial<client.ClientMetadata>): Promise<client.Configuration> {
  const auth = type === 'confidential' ? client.ClientSecretBasic(registered.clientSecret) : client.None();
  const config = await client.discovery(new URL(ISSUER[side]), registered.clientId, metadata, auth, {
    execute: [client.allowInsecureRequests],
    [client.customFetch]: publicUrlFetch(server),
  });
  // ID tokens from the token endpoint are verified against the JWKS too, not only their claims.
  client.enableNonRepudiationChecks(config);
  return config;
}

/** Runs authorize with PKCE, state and nonce in the user's browser; returns the callback and the checks. */
async function authorize(config: client.Configuration, user: SideUser, registered: TestClient, onSignIn?: () => void) {
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: registered.redirectUri,
    scope: OIDC_SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const callback = await followAuthorization(user.browser, user.side, authorizationUrl, { login: user.login, password: user.password, beforeSignIn: onSignIn });
  return { callback, checks: { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true } };
}

describe.each(BACKENDS)('openid-client as the relying party (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  describe.each(SIDES)('%s', (side) => {
    it.each(['confidential', 'public'] as const)('%s client: discovery, code + PKCE + nonce, ID token, UserInfo, refresh, end session', async (type) => {
      const user = await createSideUser(server, side);
      const { browser } = user;
      // The same browser is signed in on the other side too: logging out here must not end it.
      const other = await createSideUser(server, otherSide(side));
      expect((await signIn(browser, otherSide(side), other.login, other.password)).status).toBe(303);
      const registered = await server.createClient({ side, type, grants: ['authorization_code', 'refresh_token'], postLogoutRedirectUris: [LOGOUT_URI] });

      const config = await discover(server, side, registered, type);
      const metadata = config.serverMetadata();
      expect(metadata.issuer).toBe(ISSUER[side]);
      expect(metadata.userinfo_endpoint).toBe(PUBLIC_URL + oidcPaths(side).userinfo);
      expect(metadata.end_session_endpoint).toBe(PUBLIC_URL + oidcPaths(side).endSession);

      let signedInFrom = Number.POSITIVE_INFINITY;
      const { callback, checks } = await authorize(config, user, registered, () => (signedInFrom = nowSeconds()));
      const signedInUntil = nowSeconds();
      expect(`${callback.origin}${callback.pathname}`).toBe(registered.redirectUri);
      const { expectedNonce: nonce, expectedState: state, pkceCodeVerifier: verifier } = checks;

      // The library checks state, iss (RFC 9207), the ID token's signature, iss, aud, exp, iat and nonce.
      const tokens = await client.authorizationCodeGrant(config, callback, checks);
      expect(tokens.token_type).toBe('bearer');
      expect(tokens.scope?.split(' ').sort()).toEqual(['email', 'openid', 'profile']);
      expect(typeof tokens.refresh_token).toBe('string');
      const claims = tokens.claims();
      if (!claims || !tokens.id_token) throw new Error('no ID token');
      expect(claims.nonce).toBe(nonce);
      expectIdTokenClaims(tokens.id_token, { issuer: ISSUER[side], clientId: registered.clientId, userId: user.id, accessToken: tokens.access_token, signedInFrom, signedInUntil });

      // UserInfo: the library insists that its sub is the ID token's.
      const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      expect(info.sub).toBe(claims.sub);
      expect(info).toMatchObject(expectedIdentityClaims(user));
      expect(typeof info.updated_at).toBe('number');

      // A refresh brings a new ID token of the same sign-in, without the nonce (OIDC Core §12.2).
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
      const again = refreshed.claims();
      if (!again || !refreshed.id_token) throw new Error('no ID token on refresh');
      expect(again).toMatchObject({ iss: claims.iss, sub: claims.sub, aud: claims.aud, azp: claims.azp, auth_time: claims.auth_time, sid: claims.sid });
      expect(again).not.toHaveProperty('nonce');
      expect(again.iat).toBeGreaterThanOrEqual(claims.iat);
      expect(again.at_hash).toBe(atHash(refreshed.access_token, JSON.parse(Buffer.from(refreshed.id_token.split('.')[0] as string, 'base64url').toString()).alg as string));
      expect(refreshed.access_token).not.toBe(tokens.access_token);

      // RP-initiated logout with the hint of this session: straight back to the app with its state.
      const sessionCookies = new Map(browser.cookies);
      const endSession = client.buildEndSessionUrl(config, { id_token_hint: refreshed.id_token, post_logout_redirect_uri: LOGOUT_URI, state: 'signed-out-1' });
      expect(endSession.searchParams.get('client_id')).toBe(registered.clientId);
      const response = await browser.get(localPath(endSession));
      expect([302, 303], `${response.status} ${response.body.slice(0, 300)}`).toContain(response.status);
      const back = new URL(response.location as string);
      expect(`${back.origin}${back.pathname}`).toBe(LOGOUT_URI);
      expect(back.searchParams.getAll('state')).toEqual(['signed-out-1']);

      // This side's session has ended, on the server too (the old cookie no longer signs in)...
      expect(isLoginRedirect(await browser.get(localPath(client.buildAuthorizationUrl(config, { redirect_uri: registered.redirectUri, scope: OIDC_SCOPE, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state }))), side)).toBe(true);
      await expectSignedOut(browser, side);
      const replay = new TestBrowser(server.url);
      for (const [name, value] of sessionCookies) replay.cookies.set(name, value);
      await expectSignedOut(replay, side);
      // ...and the other side's has not.
      await expectSignedIn(browser, otherSide(side));
    });
  });
});

describe.each(BACKENDS)('openid-client with ES256 ID tokens after a key rotation (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    // A server of its own: the rotation retires the RSA seed key that other tests' servers share.
    server = await startTestServer(backend);
    await server.grantry.keys.rotate('ES256', 0);
  });
  afterAll(() => server?.close());

  describe.each(SIDES)('%s', (side) => {
    it('discovery offers ES256 only; a client asking ES256, or nothing, gets ES256 ID tokens the library verifies; one pinned to RS256 is unauthorized_client at the authorize endpoint', async () => {
      const response = await fetch(server.url + oidcPaths(side).openidConfiguration);
      expect(((await response.json()) as Record<string, unknown>).id_token_signing_alg_values_supported).toEqual(['ES256']);
      const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string; alg?: string; kty: string }> };
      const es256Kids = jwks.keys.filter((k) => k.kty === 'EC').map((k) => k.kid);
      expect(es256Kids).toHaveLength(1);

      for (const [alg, metadata] of [
        ['ES256', { id_token_signed_response_alg: 'ES256' }],
        [null, undefined],
      ] as const) {
        const user = await createSideUser(server, side);
        const registered = await server.createClient({ side, type: 'public', idTokenSignedResponseAlg: alg });
        const config = await discover(server, side, registered, 'public', metadata);
        const { callback, checks } = await authorize(config, user, registered);
        const tokens = await client.authorizationCodeGrant(config, callback, checks);
        if (!tokens.id_token) throw new Error('no ID token');
        const { header } = decodeJwt(tokens.id_token);
        expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT', kid: es256Kids[0] });
        expectIdTokenClaims(tokens.id_token, { issuer: ISSUER[side], clientId: registered.clientId, userId: user.id, accessToken: tokens.access_token });
        expect(tokens.claims()?.nonce).toBe(checks.expectedNonce);
      }

      // No active RS256 key is left: a client that insists on RS256 is told so at the authorize
      // endpoint, before its user signs in, and the library hands on the error.
      const user = await createSideUser(server, side);
      const pinned = await server.createClient({ side, type: 'public', idTokenSignedResponseAlg: 'RS256' });
      const config = await discover(server, side, pinned, 'public', { id_token_signed_response_alg: 'RS256' });
      const { callback, checks } = await authorize(config, user, pinned);
      expect(callback.searchParams.get('error')).toBe('unauthorized_client');
      await expect(client.authorizationCodeGrant(config, callback, checks)).rejects.toMatchObject({ error: 'unauthorized_client' });
    });
  });
});
