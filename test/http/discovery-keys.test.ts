/**
 * Discovery and signing keys over HTTP against real servers, on every backend: RFC 8414
 * authorization server metadata per side, RFC 9728 protected resource metadata per API, the
 * JWKS, and key rotation without downtime across two server processes on one database.
 */
import { IDENTITY_SCOPES } from '../../src/oauth/oidc/claims.js';
import { createPublicKey, verify as cryptoVerify, constants, type JsonWebKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_SCOPES } from '../../src/oauth/api-scopes.js';
import type { SideName } from '../../src/oauth/sides.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { BACKENDS } from '../helpers/backends.js';
import { TestBrowser } from '../helpers/browser.js';
import { call, introspect, type HttpCall } from '../helpers/endpoints.js';
import { apiGet, runAuthorize } from '../helpers/oauth.js';
import { PUBLIC_URL, startTestServer, TEST_SCOPES, type TestServer } from '../helpers/server.js';
import { API_PATH, createSideUser, decodeJwt, ISSUER, issueToken, SIDES, type SideUser, startServerWithSideUsers, type TestClient } from '../helpers/tokens.js';

/** RFC 8414 §2 (with §2.1 signed_metadata), RFC 9207 §3 and OpenID Connect: every registered metadata name. */
const RFC8414_NAMES = new Set([
  'issuer',
  'authorization_endpoint',
  'token_endpoint',
  'jwks_uri',
  'registration_endpoint',
  'scopes_supported',
  'response_types_supported',
  'response_modes_supported',
  'grant_types_supported',
  'token_endpoint_auth_methods_supported',
  'token_endpoint_auth_signing_alg_values_supported',
  'service_documentation',
  'ui_locales_supported',
  'op_policy_uri',
  'op_tos_uri',
  'revocation_endpoint',
  'revocation_endpoint_auth_methods_supported',
  'revocation_endpoint_auth_signing_alg_values_supported',
  'introspection_endpoint',
  'introspection_endpoint_auth_methods_supported',
  'introspection_endpoint_auth_signing_alg_values_supported',
  'code_challenge_methods_supported',
  'signed_metadata',
  'authorization_response_iss_parameter_supported',
  // OpenID Connect Discovery 1.0 §3 and RP-Initiated Logout 1.0 §3.3, registered in the same
  // IANA registry: one document serves both addresses.
  'userinfo_endpoint',
  'end_session_endpoint',
  'subject_types_supported',
  'id_token_signing_alg_values_supported',
  'claims_supported',
  'claim_types_supported',
  'claims_parameter_supported',
  'prompt_values_supported',
  'request_parameter_supported',
  'request_uri_parameter_supported',
  'require_request_uri_registration',
]);

/** RFC 9728 §2: every registered protected resource metadata name. */
const RFC9728_NAMES = new Set([
  'resource',
  'authorization_servers',
  'jwks_uri',
  'scopes_supported',
  'bearer_methods_supported',
  'resource_signing_alg_values_supported',
  'resource_name',
  'resource_documentation',
  'resource_policy_uri',
  'resource_tos_uri',
  'tls_client_certificate_bound_access_tokens',
  'authorization_details_types_supported',
  'dpop_signing_alg_values_supported',
  'dpop_bound_access_tokens_required',
  'signed_metadata',
]);

const AS_WELL_KNOWN = '/.well-known/oauth-authorization-server';
const PR_WELL_KNOWN = '/.well-known/oauth-protected-resource';
const AS_METADATA_PATH: Record<SideName, string> = { storefront: AS_WELL_KNOWN, backoffice: `${AS_WELL_KNOWN}/admin` };
const PR_METADATA_PATH: Record<SideName, string> = { storefront: `${PR_WELL_KNOWN}/api`, backoffice: `${PR_WELL_KNOWN}/admin/api` };
const AUTHORIZE_PATH: Record<SideName, string> = { storefront: '/oauth2-token/authorize', backoffice: '/admin/oauth2-token/authorize' };

/** RFC 8414 §3.1: the issuer is the metadata URL with the well-known segment taken out. */
function issuerFromMetadataUrl(url: string, wellKnown: string): string {
  const u = new URL(url);
  expect(u.pathname.startsWith(wellKnown)).toBe(true);
  return `${u.origin}${u.pathname.slice(wellKnown.length)}`;
}

function expectJsonDocument(result: HttpCall): void {
  expect(result.status).toBe(200);
  expect(result.headers.get('content-type')).toMatch(/^application\/json(;|$)/);
}

interface Jwk extends JsonWebKey {
  kid: string;
  alg: string;
  use: string;
  kty: string;
}

async function fetchJwks(baseUrl: string): Promise<Jwk[]> {
  const result = await call(baseUrl, 'GET', '/.well-known/jwks.json');
  expectJsonDocument(result);
  expect(Object.keys(result.json)).toEqual(['keys']);
  const keys = result.json.keys as Jwk[];
  expect(Array.isArray(keys)).toBe(true);
  return keys;
}

/** Verifies a JWT's signature with a JWK from the JWKS, as an external resource server would. */
function verifyWithJwk(token: string, jwk: Jwk): boolean {
  const [h, p, s] = token.split('.') as [string, string, string];
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(s, 'base64url');
  switch (jwk.alg) {
    case 'RS256':
      return cryptoVerify('sha256', data, key, signature);
    case 'PS256':
      return cryptoVerify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature);
    case 'ES256':
      return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    case 'EdDSA':
      return cryptoVerify(null, data, key, signature);
    default:
      throw new Error(`unexpected alg ${jwk.alg}`);
  }
}

/** Public members only (RFC 7517/7518): never a private or CRT parameter. */
function expectPublicJwk(jwk: Jwk): void {
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) expect(jwk).not.toHaveProperty(member);
  expect(jwk.use).toBe('sig');
  expect(typeof jwk.kid).toBe('string');
  expect(jwk.kid.length).toBeGreaterThan(0);
  expect(['RS256', 'PS256', 'ES256', 'EdDSA']).toContain(jwk.alg);
  expect(() => createPublicKey({ key: jwk, format: 'jwk' })).not.toThrow();
}

const expectApiAccepts = (result: Awaited<ReturnType<typeof apiGet>>) => {
  expect(result.status).toBe(200);
  expect(result.headers.get('www-authenticate')).toBeNull();
};
const expectApiRefuses = (result: Awaited<ReturnType<typeof apiGet>>) => {
  expect(result.status).toBe(401);
  expect(result.headers.get('www-authenticate') ?? '').toContain('error="invalid_token"');
};

describe.each(BACKENDS)('discovery metadata (%s)', (backend) => {
  let server: TestServer;
  let users: Record<SideName, SideUser>;

  beforeAll(async () => {
    // A server that generates its seed key, which one test below looks at.
    ({ server, users } = await startServerWithSideUsers(backend, { signingKey: undefined }));
  });
  afterAll(() => server?.close());

  describe.each(SIDES)('%s', (side) => {
    it('RFC 8414 metadata: only registered names, the expected values, issuer derived from the URL it was fetched under', async () => {
      const result = await call(server.url, 'GET', AS_METADATA_PATH[side]);
      expectJsonDocument(result);
      const metadata = result.json;
      for (const name of Object.keys(metadata)) expect(RFC8414_NAMES.has(name), `unregistered metadata name ${name}`).toBe(true);
      expect(metadata.issuer).toBe(ISSUER[side]);
      expect(metadata.issuer).toBe(issuerFromMetadataUrl(PUBLIC_URL + AS_METADATA_PATH[side], AS_WELL_KNOWN));
      expect(metadata).toMatchObject({
        authorization_endpoint: PUBLIC_URL + AUTHORIZE_PATH[side],
        token_endpoint: `${PUBLIC_URL}/oauth2-token`,
        jwks_uri: `${PUBLIC_URL}/.well-known/jwks.json`,
        revocation_endpoint: `${PUBLIC_URL}/oauth2-token/revoke`,
        introspection_endpoint: `${PUBLIC_URL}/oauth2-token/introspect`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
      });
      expect([...(metadata.grant_types_supported as string[])].sort()).toEqual(['authorization_code', 'client_credentials', 'refresh_token']);
      expect(metadata.grant_types_supported).not.toContain('password');
      expect(metadata.grant_types_supported).not.toContain('implicit');
      expect([...(metadata.token_endpoint_auth_methods_supported as string[])].sort()).toEqual(['client_secret_basic', 'client_secret_post', 'none']);
      // The API's scopes a user of this side may hold (no customer manages applications), and the server's own.
      const apiScopes = Object.keys(API_SCOPES).filter((s) => side === 'backoffice' || !s.startsWith('applications:'));
      expect([...(metadata.scopes_supported as string[])].sort()).toEqual([...new Set([...Object.keys(TEST_SCOPES), ...apiScopes, ...Object.keys(IDENTITY_SCOPES)])].sort());
      if ('introspection_endpoint_auth_methods_supported' in metadata) {
        // Public clients cannot introspect, so "none" must not be advertised there.
        expect(metadata.introspection_endpoint_auth_methods_supported).not.toContain('none');
      }
      // Every advertised endpoint is absolute (RFC 8414 §2).
      for (const name of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'revocation_endpoint', 'introspection_endpoint']) {
        expect(() => new URL(metadata[name] as string)).not.toThrow();
      }
    });

    it('the metadata issuer is the iss of the side tokens and of the authorization response (RFC 9207)', async () => {
      const metadata = (await call(server.url, 'GET', AS_METADATA_PATH[side])).json;
      const { accessToken } = await issueToken(server, side, { user: users[side] });
      expect(decodeJwt(accessToken).payload.iss).toBe(metadata.issuer);
      const client = await server.createClient({ side });
      const location = await runAuthorize(users[side].browser, side, { response_type: 'code', client_id: client.clientId, state: 'st' }, { login: users[side].login, password: users[side].password });
      expect(location.searchParams.get('iss')).toBe(metadata.issuer);
      expect(location.searchParams.get('code')).toBeTruthy();
    });

    it('the advertised endpoints exist on this server', async () => {
      const metadata = (await call(server.url, 'GET', AS_METADATA_PATH[side])).json;
      const path = (name: string) => new URL(metadata[name] as string).pathname;
      expect((await call(server.url, 'GET', path('jwks_uri'))).status).toBe(200);
      // The token, revocation and introspection endpoints answer an unauthenticated POST with invalid_client.
      for (const name of ['token_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
        const result = await call(server.url, 'POST', path(name), { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=x&grant_type=authorization_code' });
        expect(result.status).toBe(401);
        expect(result.json.error).toBe('invalid_client');
      }
      const authorize = await call(server.url, 'GET', path('authorization_endpoint'));
      expect(authorize.status).toBe(400);
    });

    it('RFC 9728 protected resource metadata: resource is the API audience and authorization_servers the issuer', async () => {
      const result = await call(server.url, 'GET', PR_METADATA_PATH[side]);
      expectJsonDocument(result);
      for (const name of Object.keys(result.json)) expect(RFC9728_NAMES.has(name), `unregistered metadata name ${name}`).toBe(true);
      expect(result.json.resource).toBe(`${ISSUER[side]}/api`);
      expect(result.json.authorization_servers).toEqual([ISSUER[side]]);
      // RFC 9728 §3.1: the resource is the metadata URL with the well-known segment taken out.
      expect(issuerFromMetadataUrl(PUBLIC_URL + PR_METADATA_PATH[side], PR_WELL_KNOWN)).toBe(result.json.resource);
      if ('bearer_methods_supported' in result.json) expect(result.json.bearer_methods_supported).toEqual(['header']);
      // Only the API's own scopes, and of those only what a user of this side may hold.
      expect(result.json.scopes_supported).toEqual(side === 'backoffice' ? ['api', 'users:read', 'users:write', 'applications:read', 'applications:write'] : ['api', 'users:read', 'users:write']);
      const { accessToken } = await issueToken(server, side, { user: users[side] });
      expect(decodeJwt(accessToken).payload.aud).toBe(result.json.resource);
    });

    it('the API 401 challenge carries resource_metadata pointing at that document', async () => {
      for (const token of [undefined, 'not-a-token']) {
        const result = await apiGet(server.url, API_PATH[side], token);
        expect(result.status).toBe(401);
        const challenge = result.headers.get('www-authenticate') ?? '';
        expect(challenge).toMatch(/^Bearer /);
        const match = /resource_metadata="([^"]+)"/.exec(challenge);
        expect(match?.[1]).toBe(PUBLIC_URL + PR_METADATA_PATH[side]);
        const document = await call(server.url, 'GET', new URL(match?.[1] as string).pathname);
        expect(document.json.resource).toBe(`${ISSUER[side]}/api`);
      }
    });
  });

  it('no metadata for paths that are not an issuer or a resource', async () => {
    for (const path of [`${AS_WELL_KNOWN}/api`, `${AS_WELL_KNOWN}/other`, `${PR_WELL_KNOWN}`, `${PR_WELL_KNOWN}/admin`, '/admin/.well-known/oauth-authorization-server']) {
      expect((await call(server.url, 'GET', path)).status, path).toBe(404);
    }
  });

  it('JWKS: public keys only, with kid, alg and use "sig"; it verifies the tokens of both sides', async () => {
    const keys = await fetchJwks(server.url);
    expect(keys).toHaveLength(1);
    const [jwk] = keys as [Jwk];
    expectPublicJwk(jwk);
    expect(jwk).toMatchObject({ kty: 'RSA', alg: 'RS256' });
    for (const side of SIDES) {
      const { accessToken } = await issueToken(server, side, { user: users[side] });
      const { header } = decodeJwt(accessToken);
      expect(header.kid).toBe(jwk.kid);
      expect(verifyWithJwk(accessToken, jwk)).toBe(true);
    }
  });

  it('the seed key file is mode 0600 and the private key in the database is sealed', async () => {
    expect(server.grantry.signingKeyCreated).toBe(true);
    expect(statSync(server.config.signingKeyFile).mode & 0o777).toBe(0o600);
    const rows = await server.grantry.database.db.selectFrom('signing_keys').selectAll().execute();
    expect(rows.length).toBeGreaterThanOrEqual(1);
    // A line of the PEM body: the key material must not appear in clear, in any encoding of it.
    const pemLines = readFileSync(server.config.signingKeyFile, 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'));
    expect(pemLines.length).toBeGreaterThan(3);
    const der = Buffer.from(pemLines.join(''), 'base64');
    for (const row of rows) {
      expect(row.private_key).not.toContain('PRIVATE KEY');
      for (const line of pemLines.slice(1, 4)) expect(row.private_key).not.toContain(line);
      expect(row.private_key).not.toContain(der.subarray(40, 80).toString('base64url'));
      expect(row.private_key).not.toContain(der.subarray(40, 80).toString('hex'));
      expect(row.public_jwk).not.toMatch(/"d"\s*:/);
    }
  });
});

describe.each(BACKENDS)('discovery metadata with the password grant enabled (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { passwordGrantEnabled: true });
  });
  afterAll(() => server?.close());

  it.each(SIDES)('%s: grant_types_supported lists password', async (side) => {
    const metadata = (await call(server.url, 'GET', AS_METADATA_PATH[side])).json;
    expect([...(metadata.grant_types_supported as string[])].sort()).toEqual(['authorization_code', 'client_credentials', 'password', 'refresh_token']);
  });
});

describe.each(BACKENDS)('discovery metadata with the storefront disabled (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, { storefrontEnabled: false });
  });
  afterAll(() => server?.close());

  it('the back office is the only issuer, at the public URL, and its API at /api', async () => {
    const metadata = await call(server.url, 'GET', AS_WELL_KNOWN);
    expectJsonDocument(metadata);
    expect(metadata.json.issuer).toBe(PUBLIC_URL);
    expect(metadata.json.authorization_endpoint).toBe(`${PUBLIC_URL}/oauth2-token/authorize`);
    expect((await call(server.url, 'GET', `${AS_WELL_KNOWN}/admin`)).status).toBe(404);
    const resource = await call(server.url, 'GET', `${PR_WELL_KNOWN}/api`);
    expectJsonDocument(resource);
    expect(resource.json).toMatchObject({ resource: `${PUBLIC_URL}/api`, authorization_servers: [PUBLIC_URL] });
    expect((await call(server.url, 'GET', `${PR_WELL_KNOWN}/admin/api`)).status).toBe(404);
    const challenge = (await apiGet(server.url, '/api/users')).headers.get('www-authenticate') ?? '';
    expect(challenge).toContain(`resource_metadata="${PUBLIC_URL}${PR_WELL_KNOWN}/api"`);
  });
});

describe.each(BACKENDS)('signing key rotation (%s)', (backend) => {
  let server: TestServer;
  let twin: RunningServer | undefined;
  let users: Record<SideName, SideUser>;
  const clients = {} as Record<SideName, TestClient>;
  /** Introspecting client of the storefront. */
  let resourceServer: TestClient;

  beforeAll(async () => {
    ({ server, users } = await startServerWithSideUsers(backend));
    for (const side of SIDES) clients[side] = await server.createClient({ side });
    resourceServer = await server.createClient({ side: 'storefront' });
  });
  afterAll(async () => {
    await twin?.close();
    await server?.close();
  });

  const tokenFor = async (side: SideName) => (await issueToken(server, side, { user: users[side], client: clients[side] })).accessToken;
  const kidOf = (token: string) => decodeJwt(token).header.kid as string;
  const db = () => server.grantry.database.db;

  // The stages share state and run in order.
  let kidA: string;
  let kidB: string;
  let tokensA: Record<SideName, string>;

  it('before rotation: one published key A, and tokens are signed with A', async () => {
    const keys = await fetchJwks(server.url);
    expect(keys).toHaveLength(1);
    kidA = (keys[0] as Jwk).kid;
    tokensA = { backoffice: await tokenFor('backoffice'), storefront: await tokenFor('storefront') };
    for (const side of SIDES) {
      expect(kidOf(tokensA[side])).toBe(kidA);
      expectApiAccepts(await apiGet(server.url, API_PATH[side], tokensA[side]));
    }
  });

  it('rotate with a delay of 3600 s: B is published at once, tokens are still signed with A, and A is scheduled to retire', async () => {
    const before = Math.floor(Date.now() / 1000);
    const stored = await server.grantry.keys.rotate('ES256', 3600);
    kidB = stored.kid;
    expect(kidB).not.toBe(kidA);
    expect(stored.activatesAt).toBeGreaterThanOrEqual(before + 3600);
    const keys = await fetchJwks(server.url);
    expect(keys.map((k) => k.kid).sort()).toEqual([kidA, kidB].sort());
    for (const jwk of keys) expectPublicJwk(jwk);
    expect(keys.find((k) => k.kid === kidB)).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    for (const side of SIDES) {
      const token = await tokenFor(side);
      expect(kidOf(token)).toBe(kidA);
      expect(decodeJwt(token).header.alg).toBe('RS256');
      expectApiAccepts(await apiGet(server.url, API_PATH[side], token));
    }
    const rowA = await db().selectFrom('signing_keys').selectAll().where('kid', '=', kidA).executeTakeFirstOrThrow();
    const rowB = await db().selectFrom('signing_keys').selectAll().where('kid', '=', kidB).executeTakeFirstOrThrow();
    // published_until = activation of the successor + access token TTL + 60 s.
    expect(Number(rowA.published_until)).toBe(Number(rowB.activates_at) + server.config.accessTokenTtl + 60);
    expect(rowB.published_until).toBeNull();
    expect(rowB.private_key).not.toContain('PRIVATE KEY');
  });

  it('after activation of B: new tokens are signed with B, and tokens signed with A still verify', async () => {
    // Time passes: A has signed for a while, and B's activation time has come.
    const now = Math.floor(Date.now() / 1000);
    await db().updateTable('signing_keys').set({ activates_at: now - 600, created_at: now - 600 }).where('kid', '=', kidA).execute();
    await db().updateTable('signing_keys').set({ activates_at: now - 1 }).where('kid', '=', kidB).execute();
    await server.grantry.keys.load();
    const keys = await fetchJwks(server.url);
    expect(keys.map((k) => k.kid).sort()).toEqual([kidA, kidB].sort());
    const jwkB = keys.find((k) => k.kid === kidB) as Jwk;
    const jwkA = keys.find((k) => k.kid === kidA) as Jwk;
    for (const side of SIDES) {
      const token = await tokenFor(side);
      expect(decodeJwt(token).header).toMatchObject({ kid: kidB, alg: 'ES256', typ: 'at+jwt' });
      expect(verifyWithJwk(token, jwkB)).toBe(true);
      expectApiAccepts(await apiGet(server.url, API_PATH[side], token));
      // Issued before the switch, signed with A: still good.
      expect(verifyWithJwk(tokensA[side], jwkA)).toBe(true);
      expectApiAccepts(await apiGet(server.url, API_PATH[side], tokensA[side]));
    }
    expect((await introspect(server.url, resourceServer, tokensA.storefront)).json).toMatchObject({ active: true });
  });

  it('a second server process on the same database picks up a rotation made by the first', async () => {
    twin = await startServer(server.config, () => {});
    expect(twin.url).not.toBe(server.url);
    // The twin already knows A and B from the database.
    expect((await fetchJwks(twin.url)).map((k) => k.kid).sort()).toEqual([kidA, kidB].sort());
    for (const side of SIDES) expectApiAccepts(await apiGet(twin.url, API_PATH[side], tokensA[side]));

    // The first process rotates again, with no delay: C signs at once.
    const c = await server.grantry.keys.rotate('RS256', 0);
    const tokenC = await tokenFor('storefront');
    expect(kidOf(tokenC)).toBe(c.kid);
    expectApiAccepts(await apiGet(server.url, API_PATH.storefront, tokenC));

    // The twin learns C when it reloads, and accepts C's tokens; its JWKS shows C.
    await twin.grantry.keys.refreshIfOlderThan(0);
    expect((await fetchJwks(twin.url)).map((k) => k.kid)).toContain(c.kid);
    expectApiAccepts(await apiGet(twin.url, API_PATH.storefront, tokenC));
    // And the twin signs with C too: the first process accepts its tokens.
    const twinServer = { ...server, url: twin.url } as TestServer;
    const twinUser: SideUser = { ...users.backoffice, browser: new TestBrowser(twin.url) };
    const twinToken = (await issueToken(twinServer, 'backoffice', { user: twinUser, client: clients.backoffice })).accessToken;
    expect(kidOf(twinToken)).toBe(c.kid);
    expectApiAccepts(await apiGet(server.url, API_PATH.backoffice, twinToken));

    // Another rotation by the first process: a token with the kid D, unknown to the twin, makes it reload once.
    await server.grantry.keys.rotate('RS256', 0);
    const tokenD = await tokenFor('storefront');
    const kidD = kidOf(tokenD);
    // Wait out the reload throttle, then let the unknown kid trigger the reload.
    await new Promise((resolve) => setTimeout(resolve, 5100));
    expectApiAccepts(await apiGet(twin.url, API_PATH.storefront, tokenD));
    expect((await fetchJwks(twin.url)).map((k) => k.kid)).toContain(kidD);
  }, 30_000);

  it("after A's published_until passes: A is gone from the JWKS and its tokens are refused", async () => {
    const now = Math.floor(Date.now() / 1000);
    await db().updateTable('signing_keys').set({ published_until: now - 1 }).where('kid', '=', kidA).execute();
    await server.grantry.keys.load();
    const kids = (await fetchJwks(server.url)).map((k) => k.kid);
    expect(kids).not.toContain(kidA);
    expect(kids).toContain(kidB);
    for (const side of SIDES) expectApiRefuses(await apiGet(server.url, API_PATH[side], tokensA[side]));
    const inactive = await introspect(server.url, resourceServer, tokensA.storefront);
    expect(JSON.parse(inactive.text)).toEqual({ active: false });
    // Tokens of the keys still published keep working.
    expectApiAccepts(await apiGet(server.url, API_PATH.storefront, await tokenFor('storefront')));
  });
});

describe.each(BACKENDS)('immediate key rotation (%s)', (backend) => {
  let server: TestServer;
  let user: SideUser;
  let client: TestClient;
  beforeAll(async () => {
    server = await startTestServer(backend);
    user = await createSideUser(server, 'storefront');
    client = await server.createClient({ side: 'storefront' });
  });
  afterAll(() => server?.close());

  const token = async () => (await issueToken(server, 'storefront', { user, client })).accessToken;

  it('rotate with delay 0 signs with the new key at once, even right after start and twice in a row', async () => {
    const seed = decodeJwt(await token()).header.kid as string;
    for (const alg of ['EdDSA', 'ES256', 'PS256'] as const) {
      const stored = await server.grantry.keys.rotate(alg, 0);
      expect(server.grantry.keys.signingKey().kid).toBe(stored.kid);
      const t = await token();
      expect(decodeJwt(t).header).toMatchObject({ kid: stored.kid, alg, typ: 'at+jwt' });
      const jwk = (await fetchJwks(server.url)).find((k) => k.kid === stored.kid) as Jwk;
      expect(verifyWithJwk(t, jwk)).toBe(true);
      expectApiAccepts(await apiGet(server.url, API_PATH.storefront, t));
    }
    // Every key stays published until its tokens have expired.
    const kids = (await fetchJwks(server.url)).map((k) => k.kid);
    expect(kids).toHaveLength(4);
    expect(kids).toContain(seed);
  });

  it('a pending key that a later rotation replaced never signs, and keys stay published until their last token expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const pending = await server.grantry.keys.rotate('ES256', 60, now);
    const replacement = await server.grantry.keys.rotate('RS256', 0, now);
    const ttl = server.config.accessTokenTtl;
    for (const at of [now, now + 61, now + 600, now + ttl]) expect(server.grantry.keys.signingKey(at).kid, `at +${at - now}s`).toBe(replacement.kid);
    const t = await token();
    expect(decodeJwt(t).header.kid).toBe(replacement.kid);
    // The replaced pending key is still published for as long as a token could carry it.
    const row = await server.grantry.database.db.selectFrom('signing_keys').selectAll().where('kid', '=', pending.kid).executeTakeFirstOrThrow();
    expect(Number(row.published_until)).toBe(now + ttl + 60);
    expect((await fetchJwks(server.url)).map((k) => k.kid)).toContain(pending.kid);
  });
});

describe.each(BACKENDS)('periodic key refresh in a second process (%s)', (backend) => {
  let server: TestServer;
  let twin: RunningServer | undefined;
  beforeAll(async () => {
    server = await startTestServer(backend, { keyRefreshInterval: 1 });
  });
  afterAll(async () => {
    await twin?.close();
    await server?.close();
  });

  it('the second process learns a rotation by itself within the refresh interval, without any token asking for it', async () => {
    twin = await startServer(server.config, () => {});
    const rotated = await server.grantry.keys.rotate('EdDSA', 3600);
    // Published by the first process at once; the twin's JWKS follows within about a second.
    expect((await fetchJwks(server.url)).map((k) => k.kid)).toContain(rotated.kid);
    const deadline = Date.now() + 5000;
    let kids: string[] = [];
    while (Date.now() < deadline) {
      kids = (await fetchJwks(twin.url)).map((k) => k.kid);
      if (kids.includes(rotated.kid)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(kids).toContain(rotated.kid);
    expect(kids).toHaveLength(2);
  }, 15_000);
});
