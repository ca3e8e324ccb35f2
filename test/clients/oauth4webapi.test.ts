/**
 * oauth4webapi 3, the low-level OAuth 2.0 / OpenID Connect library under openid-client, against a
 * real server on every backend and both sides: its OIDC helpers run discovery, the code
 * exchange with a nonce and a required ID token (claims validated, signature checked against the
 * JWKS), UserInfo with the expected subject, and a refresh. The browser part is the test's.
 * Requests to the public URL (http://grantry.test) reach the listening server through the
 * library's customFetch option (helpers/oidc.ts).
 */
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { BACKENDS } from '../helpers/backends.js';
import { decodeJwt } from '../helpers/tokens.js';
import { expectedIdentityClaims, expectIdTokenClaims, followAuthorization, nowSeconds, OIDC_SCOPE, oidcPaths, publicUrlFetch } from '../helpers/oidc.js';
import { PUBLIC_URL, startTestServer, type TestServer } from '../helpers/server.js';
import { createSideUser, ISSUER, SIDES, type TestClient } from '../helpers/tokens.js';

describe.each(BACKENDS)('oauth4webapi as the relying party (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  /** What every request of the library carries: plain http to the test server. */
  const requestOptions = () => ({ [oauth.customFetch]: publicUrlFetch(server), [oauth.allowInsecureRequests]: true });

  async function discover(side: SideName): Promise<oauth.AuthorizationServer> {
    const issuer = new URL(ISSUER[side]);
    const response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...requestOptions() });
    expect(new URL(response.url).pathname).toBe(oidcPaths(side).openidConfiguration);
    return oauth.processDiscoveryResponse(issuer, response);
  }

  const clientAuthOf = (registered: TestClient) => (registered.clientSecret === undefined ? oauth.None() : oauth.ClientSecretBasic(registered.clientSecret));

  describe.each(SIDES)('%s', (side) => {
    it.each(['confidential', 'public'] as const)('%s client: discovery, code + PKCE + nonce with a required ID token, UserInfo, refresh', async (type) => {
      const user = await createSideUser(server, side);
      const registered = await server.createClient({ side, type, grants: ['authorization_code', 'refresh_token'] });
      const as = await discover(side);
      expect(as.issuer).toBe(ISSUER[side]);
      expect(as.userinfo_endpoint).toBe(PUBLIC_URL + oidcPaths(side).userinfo);
      const rp: oauth.Client = { client_id: registered.clientId };
      const clientAuth = clientAuthOf(registered);

      const verifier = oauth.generateRandomCodeVerifier();
      const nonce = oauth.generateRandomNonce();
      const state = oauth.generateRandomState();
      const authorizationUrl = new URL(as.authorization_endpoint as string);
      authorizationUrl.search = new URLSearchParams({
        response_type: 'code',
        client_id: rp.client_id,
        redirect_uri: registered.redirectUri,
        scope: OIDC_SCOPE,
        state,
        nonce,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }).toString();
      let signedInFrom = Number.POSITIVE_INFINITY;
      const callback = await followAuthorization(user.browser, side, authorizationUrl, { login: user.login, password: user.password, beforeSignIn: () => (signedInFrom = nowSeconds()) });
      const signedInUntil = nowSeconds();

      const params = oauth.validateAuthResponse(as, rp, callback, state);
      const response = await oauth.authorizationCodeGrantRequest(as, rp, clientAuth, params, registered.redirectUri, verifier, requestOptions());
      const result = await oauth.processAuthorizationCodeResponse(as, rp, response, { expectedNonce: nonce, requireIdToken: true });
      await oauth.validateApplicationLevelSignature(as, response, requestOptions());
      const claims = oauth.getValidatedIdTokenClaims(result);
      if (!claims || !result.id_token) throw new Error('no ID token');
      expect(claims.nonce).toBe(nonce);
      expectIdTokenClaims(result.id_token, { issuer: ISSUER[side], clientId: registered.clientId, userId: user.id, accessToken: result.access_token, signedInFrom, signedInUntil });

      const info = await oauth.processUserInfoResponse(as, rp, claims.sub, await oauth.userInfoRequest(as, rp, result.access_token, requestOptions()));
      expect(info.sub).toBe(claims.sub);
      expect(info).toMatchObject(expectedIdentityClaims(user));
      // The library refuses a UserInfo answer about someone else.
      await expect(oauth.processUserInfoResponse(as, rp, `${claims.sub}x`, await oauth.userInfoRequest(as, rp, result.access_token, requestOptions()))).rejects.toMatchObject({ code: oauth.JSON_ATTRIBUTE_COMPARISON });

      const refreshResponse = await oauth.refreshTokenGrantRequest(as, rp, clientAuth, result.refresh_token as string, requestOptions());
      const refreshed = await oauth.processRefreshTokenResponse(as, rp, refreshResponse);
      await oauth.validateApplicationLevelSignature(as, refreshResponse, requestOptions());
      const again = oauth.getValidatedIdTokenClaims(refreshed);
      if (!again || !refreshed.id_token) throw new Error('no ID token on refresh');
      expect(again).toMatchObject({ iss: claims.iss, sub: claims.sub, aud: claims.aud, azp: claims.azp, auth_time: claims.auth_time, sid: claims.sid });
      expect(again).not.toHaveProperty('nonce');
      expect(decodeJwt(refreshed.id_token).payload.at_hash).not.toBe(decodeJwt(result.id_token).payload.at_hash);
      expectIdTokenClaims(refreshed.id_token, { issuer: ISSUER[side], clientId: registered.clientId, userId: user.id, accessToken: refreshed.access_token, signedInFrom, signedInUntil });
    });
  });
});
