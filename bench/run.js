#!/usr/bin/env node
/**
 * Load runs for the hot paths, against a real server process:
 *   1. token issuance: POST /oauth2-token with the authorization code grant (one fresh code per request);
 *   2. refresh: POST /oauth2-token with grant_type=refresh_token (one fresh refresh token per request);
 *   3. bearer validation: GET /admin/api/users/{id} with an access token.
 * Each is compared with its floor, the cost of one RS256 signature (or verification) on one
 * core, measured here too. Uses the compiled build (npm run bench builds first).
 *
 * Environment: BENCH_DATABASE_URL (default: a fresh SQLite file), BENCH_SECONDS (each run, default
 * 5), BENCH_TOKENS (codes and refresh tokens prepared for each token run, default 12000: more than
 * a run can use), BENCH_CONNECTIONS (default 16).
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, sign, verify, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGrantry } from '../dist/app.js';
import { loadConfig } from '../dist/config/index.js';
import { CLI } from '../dist/management/principal.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const requests = Number(process.env.BENCH_TOKENS ?? 12000);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Operations per second of fn on this thread over about one second. */
function opsPerSecond(fn) {
  for (let i = 0; i < 50; i++) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  while (process.hrtime.bigint() - start < 1_000_000_000n) {
    fn();
    n++;
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

function run(options) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (err, result) => (err ? reject(err) : resolve(result)));
    autocannon.track(instance, { renderProgressBar: false, renderResultsTable: false, renderLatencyTable: false });
  });
}

const dir = mkdtempSync(path.join(tmpdir(), 'grantry-bench-'));
const port = await freePort();
const env = {
  ...process.env,
  PORT: String(port),
  GRANTRY_DATA_DIR: dir,
  GRANTRY_LOG_LEVEL: 'warn',
  GRANTRY_ADMIN_PASSWORD: 'bench-admin-password',
  ...(process.env.BENCH_DATABASE_URL ? { DATABASE_URL: process.env.BENCH_DATABASE_URL } : {}),
};
const config = loadConfig({ env });
const grantry = await createGrantry(config);
const { client, clientSecret } = await grantry.clients.create(CLI, {
  side: 'backoffice',
  name: `bench ${Date.now()}`,
  type: 'confidential',
  grants: ['authorization_code', 'refresh_token'],
  redirectUris: ['https://bench.example/cb'],
});
const user = await grantry.users.createBackofficeUser(CLI, { username: `bench${Date.now()}`, email: `bench${Date.now()}@example.com`, password: 'bench-password' });
const side = grantry.sides.require('backoffice');

const server = spawn(process.execPath, [path.join(root, 'dist/cli/main.js'), 'start'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise((resolve, reject) => {
  server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  server.stdout.on('data', (chunk) => String(chunk).includes('listening on') && resolve());
});
const base = `http://127.0.0.1:${port}`;

try {
  // One fresh code, and one fresh refresh token, per request: both are single-use.
  // The API serves only tokens with one of its scopes: api, the default, as a real client gets.
  const request = { side, client, redirectUri: 'https://bench.example/cb', state: undefined, scope: 'api', codeChallenge: undefined };
  const codes = [];
  for (let i = 0; i < requests; i++) codes.push(await grantry.codes.issue(request, user.id));
  const codeBody = (code) =>
    JSON.stringify({ grant_type: 'authorization_code', client_id: client.clientId, client_secret: clientSecret, redirect_uri: 'https://bench.example/cb', code });
  const refreshTokens = [];
  for (let i = 0; i < requests; i++) {
    const exchanged = await grantry.tokenEndpoint.handle(JSON.parse(codeBody(await grantry.codes.issue(request, user.id))), undefined);
    refreshTokens.push(exchanged.refresh_token);
  }
  const refreshBody = (token) => JSON.stringify({ grant_type: 'refresh_token', client_id: client.clientId, client_secret: clientSecret, refresh_token: token });

  const postEach = (bodies) => {
    let next = 0;
    // Past the prepared tokens the requests fail, and the run reports them as failed.
    return { method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: bodies[next++] ?? '{}' }) };
  };
  // Fixed durations: a fixed amount would end on autocannon's one-second tick and skew the rate.
  const issuance = await run({ url: `${base}/oauth2-token`, connections, duration: seconds, requests: [postEach(codes.map(codeBody))] });
  const refresh = await run({ url: `${base}/oauth2-token`, connections, duration: seconds, requests: [postEach(refreshTokens.map(refreshBody))] });

  const tokenResponse = await fetch(`${base}/oauth2-token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: codeBody(await grantry.codes.issue(request, user.id)) });
  const { access_token: accessToken } = await tokenResponse.json();
  const validation = await run({
    url: `${base}/admin/api/users/${user.id}`,
    connections,
    duration: seconds,
    headers: { authorization: `Bearer ${accessToken}`, accept: 'application/vnd.api+json' },
  });

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKey = createPublicKey(createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })));
  const data = Buffer.from('x'.repeat(400));
  const signature = sign('sha256', data, privateKey);
  const signsPerSecond = opsPerSecond(() => sign('sha256', data, privateKey));
  const verifiesPerSecond = opsPerSecond(() => verify('sha256', data, publicKey, signature));

  const row = (name, r, floor) => {
    const ok = r['2xx'];
    const bad = r.non2xx + r.errors;
    const rate = r.requests.average;
    return `${name.padEnd(34)} ${rate.toFixed(0).padStart(7)} req/s  p50 ${String(r.latency.p50).padStart(4)} ms  p99 ${String(r.latency.p99).padStart(4)} ms  ${ok} ok / ${bad} failed  = ${((rate / floor) * 100).toFixed(0)}% of one core's ${floor.toFixed(0)} ops/s floor`;
  };
  console.log(`\nGrantry benchmark (${grantry.database.dialect}, ${connections} connections, ${seconds} s per run, server in one process)`);
  console.log(row('token issuance (authorization_code)', issuance, signsPerSecond));
  console.log(row('token refresh (refresh_token)', refresh, signsPerSecond));
  console.log(row('bearer validation (GET users/{id})', validation, verifiesPerSecond));
  console.log(`RS256 on this machine, one thread: ${signsPerSecond.toFixed(0)} signatures/s, ${verifiesPerSecond.toFixed(0)} verifications/s`);
  if (issuance.non2xx || refresh.non2xx || validation.non2xx) process.exitCode = 1;
} finally {
  server.kill('SIGTERM');
  await grantry.close();
  rmSync(dir, { recursive: true, force: true });
}
