/**
 * The measured workloads, each one autocannon run against a target: Grantry (bench/grantry.js),
 * node-oidc-provider or the bare token POST (bench/references.js), which offer the same shape
 * (tokenUrl, introspectionUrl, clientId, clientSecret, redirectUri, mintCodes(n),
 * refreshTokens(n); the bare token POST only what client_credentials needs). Every token request
 * is a form POST with client_secret_post, as RFC 6749 writes them, so every server parses the
 * same bodies.
 */
import { FORM, measure } from './load.js';

const form = (target, params) => new URLSearchParams({ ...params, client_id: target.clientId, client_secret: target.clientSecret }).toString();

/** Codes to prepare for a code-exchange run: twice what the client-credentials rate would use, and some. */
export const codesFor = (clientCredentialsRate, { seconds, connections }) => Math.min(500_000, Math.ceil(clientCredentialsRate * seconds * 2) + 4 * connections);

/**
 * One second of client_credentials, not recorded: a server's first second runs code the JIT has
 * not compiled yet (the same for every server measured).
 */
export async function warmUp(target, { connections }) {
  await measure({ url: target.tokenUrl, connections, seconds: 1, requests: [{ method: 'POST', headers: FORM, body: form(target, { grant_type: 'client_credentials', scope: 'api' }) }] });
}

/** POST grant_type=client_credentials, scope api, the same body every time. */
export function clientCredentials(target, load) {
  return measure({ url: target.tokenUrl, ...load, requests: [{ method: 'POST', headers: FORM, body: form(target, { grant_type: 'client_credentials', scope: 'api' }) }] });
}

/**
 * POST grant_type=authorization_code with a fresh code per request (codes are single-use). The
 * run stops early, and says so, if the prepared codes run out before the time is up.
 */
export async function codeExchange(target, load, count) {
  const codes = await target.mintCodes(count);
  let next = 0;
  return measure({
    url: target.tokenUrl,
    ...load,
    maxOverallRequests: codes.length,
    requests: [{ method: 'POST', headers: FORM, setupRequest: (req) => ({ ...req, body: form(target, { grant_type: 'authorization_code', code: codes[next++], redirect_uri: target.redirectUri }) }) }],
  });
}

/**
 * POST grant_type=refresh_token with a fresh refresh token per request. Each answer's rotated
 * refresh token goes back into the pool, so a pool larger than the connections never runs dry:
 * every token is presented exactly once.
 */
export async function refresh(target, load) {
  const pool = await target.refreshTokens(2 * load.connections + 16);
  return measure({
    url: target.tokenUrl,
    ...load,
    requests: [
      {
        method: 'POST',
        headers: FORM,
        setupRequest: (req) => ({ ...req, body: form(target, { grant_type: 'refresh_token', refresh_token: pool.shift() ?? 'pool-ran-dry' }) }),
        onResponse: (status, body) => {
          if (status === 200) pool.push(JSON.parse(body).refresh_token);
        },
      },
    ],
  });
}

/** POST to the RFC 7662 introspection endpoint about `token`, the same body every time. */
export function introspection(target, load, token) {
  return measure({ url: target.introspectionUrl, ...load, requests: [{ method: 'POST', headers: FORM, body: form(target, { token }) }] });
}

/** GET `url` with `headers` (the bearer GET, or the bare Fastify GET without them). */
export function get(url, load, headers = {}) {
  return measure({ url, ...load, requests: [{ method: 'GET', headers }] });
}

/**
 * The browser-less flow: GET authorize with the signed-in session cookie of the bench user for
 * the skip-consent client (302 to the redirect URI with a code), then POST the code to the token
 * endpoint. Counted in flows: ok when both steps answered as they should (302 with a code, then
 * 200); latency from sending the authorize request to the token response.
 */
export function fullFlow(target, load) {
  const own = { ok: 0, failed: 0 };
  const latencies = [];
  const query = new URLSearchParams({ response_type: 'code', client_id: target.clientId, redirect_uri: target.redirectUri, scope: 'api', state: 'bench' });
  const authorize = `${new URL(target.authorizeUrl).pathname}?${query}`;
  return measure({
    url: target.authorizeUrl,
    ...load,
    own,
    latencies,
    requests: [
      {
        method: 'GET',
        path: authorize,
        headers: { cookie: target.sessionCookie },
        setupRequest: (req, context) => {
          context.started = performance.now();
          context.code = undefined;
          return req;
        },
        onResponse: (status, _body, context, headers) => {
          const location = status === 302 ? headers.location : undefined;
          context.code = location ? (new URL(location).searchParams.get('code') ?? undefined) : undefined;
          if (!context.code) own.failed++;
        },
      },
      {
        method: 'POST',
        path: new URL(target.tokenUrl).pathname,
        headers: FORM,
        // A failed authorize leaves no code: the token request goes without one and its 400 is not counted twice.
        setupRequest: (req, context) => ({ ...req, body: form(target, { grant_type: 'authorization_code', code: context.code ?? '', redirect_uri: target.redirectUri }) }),
        onResponse: (status, _body, context) => {
          if (!context.code) return;
          if (status === 200) {
            own.ok++;
            latencies.push(Math.round(performance.now() - context.started));
          } else own.failed++;
        },
      },
    ],
  });
}
