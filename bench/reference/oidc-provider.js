#!/usr/bin/env node
/**
 * node-oidc-provider as the benchmark's reference, in its own process (started with
 * child_process.fork by bench/run.js). Configured to do what Grantry does on the measured paths:
 * JWT access tokens for one API (resource indicator urn:grantry-bench:api, scope api) signed
 * with ALG (ES256 or RS256) by a key generated at start, client credentials, introspection and
 * revocation enabled, refresh tokens rotated on every use (Grantry rotates them too; the
 * provider's default would keep a confidential client's token), and one confidential
 * client_secret_post client.
 *
 * Storage: MapAdapter below, a plain Map per process without eviction. The provider's own
 * memory adapter is an LRU of 1,000 entries, which would evict the codes and refresh tokens
 * prepared for a run.
 *
 * Environment: PORT (0 = any free port), ALG (ES256 | RS256). The issuer is http://127.0.0.1:PORT.
 *
 * IPC with the parent:
 *   → {ready: true, port, issuer, clientId, clientSecret, resource} once listening;
 *   ← {mint: 'codes', count}   → {codes: [...]}   authorization codes made with the provider's own
 *      models: a saved Grant (scope api + offline_access for the resource) and an
 *      AuthorizationCode bound to it, as the authorization endpoint would leave them;
 *   ← {mint: 'refresh', count} → {refreshTokens: [...]}  RefreshTokens of such grants, made with
 *      the models as the code exchange makes them (rotations 0, gty authorization_code);
 *   ← {stop: true}             closes and exits.
 * Errors answer {error: message}.
 *
 * Started alone (`node bench/reference/oidc-provider.js`), it runs a smoke check instead: its
 * access tokens are JWTs of ALG, and code exchange, client_credentials, refresh and
 * introspection answer 200 over HTTP.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const ALGORITHMS = {
  ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
};

const alg = process.env.ALG ?? 'ES256';
if (!ALGORITHMS[alg]) {
  console.error(`ALG must be one of ${Object.keys(ALGORITHMS).join(', ')}, got ${JSON.stringify(alg)}`);
  process.exit(2);
}

export const RESOURCE = 'urn:grantry-bench:api';
export const REDIRECT_URI = 'https://bench.example/cb';
const ACCOUNT_ID = '1';
const clientId = 'bench-client';
const clientSecret = randomBytes(32).toString('base64url');

/** A Map per model name, nothing evicted; the grant index serves revokeByGrantId. */
const store = new Map();
const grantMembers = new Map();

class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload) {
    const key = this.key(id);
    store.set(key, payload);
    if (payload.grantId) {
      let members = grantMembers.get(payload.grantId);
      if (!members) grantMembers.set(payload.grantId, (members = new Set()));
      members.add(key);
    }
    if (payload.uid) store.set(`sessionUid:${payload.uid}`, id);
    if (payload.userCode) store.set(`userCode:${payload.userCode}`, id);
  }

  async find(id) {
    return store.get(this.key(id));
  }

  async findByUid(uid) {
    const id = store.get(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = store.get(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = store.get(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    const key = this.key(id);
    const payload = store.get(key);
    store.delete(key);
    if (payload?.grantId) grantMembers.get(payload.grantId)?.delete(key);
  }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
    grantMembers.delete(grantId);
  }
}

const { privateKey } = ALGORITHMS[alg]();
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: `bench-${alg.toLowerCase()}`, alg, use: 'sig' };

const port = Number(process.env.PORT ?? 0);

/** The provider for `issuer`; the port must be known first, since the issuer names it. */
function createProvider(issuer) {
  return new Provider(issuer, {
    adapter: MapAdapter,
    jwks: { keys: [jwk] },
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
        id_token_signed_response_alg: alg,
      },
    ],
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    scopes: ['offline_access'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // As Grantry: any confidential client may ask (a public one has no secret to prove itself).
      introspection: { enabled: true, allowedPolicy: async (_ctx, client) => client.clientAuthMethod !== 'none' },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => ({
          scope: 'api',
          audience: RESOURCE,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg } },
        }),
      },
    },
    // Grantry's lifetimes; the code lives long enough for codes prepared before a long run.
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 600,
      ClientCredentials: 3600,
      Grant: 30 * 86400,
      IdToken: 3600,
      Interaction: 3600,
      RefreshToken: 30 * 86400,
      Session: 86400,
    },
    rotateRefreshToken: true,
    cookies: { keys: [randomBytes(32).toString('base64url')] },
  });
}

/** A saved Grant for the bench account: the resource's api scope, and offline_access for a refresh token. */
async function newGrant(provider) {
  const grant = new provider.Grant({ accountId: ACCOUNT_ID, clientId });
  grant.addOIDCScope('offline_access');
  grant.addResourceScope(RESOURCE, 'api');
  return grant.save();
}

async function mintCodes(provider, count) {
  const client = await provider.Client.find(clientId);
  const codes = [];
  for (let i = 0; i < count; i++) {
    const grantId = await newGrant(provider);
    const code = new provider.AuthorizationCode({
      accountId: ACCOUNT_ID,
      client,
      grantId,
      redirectUri: REDIRECT_URI,
      scope: 'api offline_access',
      resource: RESOURCE,
      authTime: Math.floor(Date.now() / 1000),
    });
    codes.push(await code.save());
  }
  return codes;
}

async function mintRefreshTokens(provider, count) {
  const client = await provider.Client.find(clientId);
  const tokens = [];
  for (let i = 0; i < count; i++) {
    const grantId = await newGrant(provider);
    const token = new provider.RefreshToken({
      accountId: ACCOUNT_ID,
      client,
      grantId,
      gty: 'authorization_code',
      resource: RESOURCE,
      rotations: 0,
      scope: 'api offline_access',
      authTime: Math.floor(Date.now() / 1000),
    });
    tokens.push(await token.save());
  }
  return tokens;
}

async function start() {
  // Listen first on the port asked for (or any), then build the provider for the port we got.
  const { createServer } = await import('node:http');
  let handler = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handler(req, res));
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  const actualPort = server.address().port;
  const issuer = `http://127.0.0.1:${actualPort}`;
  const provider = createProvider(issuer);
  handler = provider.callback();
  // A client's bad request is its answer, not a log line per request.
  provider.on('server_error', (_ctx, error) => console.error(`oidc-provider server_error: ${error.stack}`));
  return { server, provider, port: actualPort, issuer };
}

const { server, provider, port: actualPort, issuer } = await start();

/** Discovery and form POSTs against the running provider: the smoke check. */
async function smokeCheck() {
  const metadata = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const post = async (url, params) => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: clientId, client_secret: clientSecret, ...params }) });
    const body = await response.json();
    if (response.status !== 200) throw new Error(`${url} ${JSON.stringify(params.grant_type ?? 'introspection')}: ${response.status} ${JSON.stringify(body)}`);
    return body;
  };
  const header = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());
  const checkJwt = (what, token) => {
    const h = header(token);
    if (h.alg !== alg || h.typ !== 'at+jwt') throw new Error(`${what}: the access token is ${JSON.stringify(h)}, not an at+jwt of ${alg}`);
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    if (claims.aud !== RESOURCE || claims.scope !== 'api') throw new Error(`${what}: unexpected claims ${JSON.stringify(claims)}`);
  };
  const cc = await post(metadata.token_endpoint, { grant_type: 'client_credentials', scope: 'api' });
  checkJwt('client_credentials', cc.access_token);
  const [code] = await mintCodes(provider, 1);
  const exchanged = await post(metadata.token_endpoint, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI });
  checkJwt('code exchange', exchanged.access_token);
  if (!exchanged.refresh_token) throw new Error('code exchange: no refresh token');
  const refreshed = await post(metadata.token_endpoint, { grant_type: 'refresh_token', refresh_token: exchanged.refresh_token });
  checkJwt('refresh', refreshed.access_token);
  if (!refreshed.refresh_token || refreshed.refresh_token === exchanged.refresh_token) throw new Error('refresh: the refresh token was not rotated');
  const [minted] = await mintRefreshTokens(provider, 1);
  const fromMinted = await post(metadata.token_endpoint, { grant_type: 'refresh_token', refresh_token: minted });
  checkJwt('refresh of a minted token', fromMinted.access_token);
  const introspected = await post(metadata.introspection_endpoint, { token: refreshed.refresh_token });
  if (introspected.active !== true) throw new Error(`introspection: ${JSON.stringify(introspected)}`);
  return `oidc-provider ${alg} smoke check passed: client_credentials, code exchange, refresh (rotated, also of a minted token) and introspection answer 200 with ${alg} at+jwt access tokens`;
}

if (process.send) {
  process.on('message', async (message) => {
    try {
      if (message?.mint === 'codes') process.send({ codes: await mintCodes(provider, message.count) });
      else if (message?.mint === 'refresh') process.send({ refreshTokens: await mintRefreshTokens(provider, message.count) });
      else if (message?.smoke) process.send({ smoke: await smokeCheck() });
      else if (message?.stop) server.close(() => process.exit(0));
      else process.send({ error: `unknown message ${JSON.stringify(message)}` });
    } catch (e) {
      process.send({ error: e.stack ?? String(e) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true, port: actualPort, issuer, clientId, clientSecret, resource: RESOURCE });
} else {
  try {
    console.log(await smokeCheck());
  } catch (e) {
    console.error(`oidc-provider smoke check FAILED: ${e.message}`);
    process.exitCode = 1;
  }
  server.close();
}
