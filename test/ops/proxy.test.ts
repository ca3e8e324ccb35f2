/**
 * Three `grantry start` nodes on one PostgreSQL behind Debian's nginx, run with deploy/nginx.conf
 * and deploy/grantry.env.example (the files the deployment guide shows, placeholders and
 * per-test values filled in), TLS with a certificate from a CA made here. One browser-like
 * client goes through nginx only; nginx's round-robin spreads its requests over the nodes, and
 * the test's rendering adds an X-Grantry-Upstream header (never in the shipped file: it would
 * show internal addresses) to see which node served each one.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SETTINGS } from '../../src/config/index.js';
import { JWKS_PATH, REVOCATION_PATH, TOKEN_PATH } from '../../src/oauth/metadata.js';
import { consentFields } from '../helpers/authorize-pages.js';
import { formField } from '../helpers/browser.js';
import { pkcePair } from '../helpers/oauth.js';
import { createPostgresDatabase } from '../helpers/server.js';
import { okJson, runCli } from '../cli/run.js';
import { HttpsClient, type HttpsResponse, makeCertificates, nginxAvailable, renderNginxConf, type RunningNginx, startNginx } from './proxy-support.js';
import { freePort, type GrantryNode, startNode, waitUntil } from './support.js';

const ENV_EXAMPLE = fileURLToPath(new URL('../../deploy/grantry.env.example', import.meta.url));
const ALERT_RULES = fileURLToPath(new URL('../../deploy/prometheus-alerts.yml', import.meta.url));
const ADMIN_PASSWORD = 'proxy-admin-password-1';
const REDIRECT_URI = 'https://app.example/callback';
const NODES = 3;

/** KEY=VALUE lines of deploy/grantry.env.example (comments and blank lines skipped). */
function envExample(): Record<string, string> {
  const lines = readFileSync(ENV_EXAMPLE, 'utf8').split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
  return Object.fromEntries(
    lines.map((line) => {
      const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
      if (!match) throw new Error(`deploy/grantry.env.example: not a KEY=VALUE line: ${line}`);
      return [match[1] as string, match[2] as string];
    }),
  );
}

const decodeJwtHeader = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0] as string, 'base64url').toString()) as { kid: string };

/** The nodes share one PostgreSQL: without one (global setup found none), the test cannot run. */
const postgresAvailable = inject('postgresUrl') !== null;
if (nginxAvailable && !postgresAvailable) process.stderr.write('\nProxy test not run: no PostgreSQL for the nodes to share.\n');

describe.runIf(nginxAvailable && postgresAvailable)('three nodes on one PostgreSQL behind nginx with TLS (deploy/nginx.conf)', () => {
  let root = '';
  const nodes: GrantryNode[] = [];
  /** 127.0.0.1:<port> of each node, as nginx's $upstream_addr names it. */
  const nodeAddresses: string[] = [];
  let nginx: RunningNginx | undefined;
  let dropDatabase = async () => {};
  let origin = '';
  let httpPort = 0;
  let ca = '';
  /** The environment of every node and of the CLI commands run beside them. */
  let env: Record<string, string> = {};

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'grantry-proxy-'));
    const database = await createPostgresDatabase();
    dropDatabase = database.drop;
    const certificates = makeCertificates(root);
    ca = certificates.ca;
    const nginxPort = await freePort();
    httpPort = await freePort();
    origin = `https://localhost:${nginxPort}`;
    env = {
      ...envExample(),
      PATH: process.env.PATH ?? '',
      PUBLIC_URL: origin,
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: database.url,
      GRANTRY_SECRET: randomBytes(32).toString('base64url'),
      GRANTRY_TRUST_PROXY: '127.0.0.1',
      GRANTRY_WORKERS: '1', // three nodes on a 2-core machine are enough processes
      GRANTRY_KEY_REFRESH_INTERVAL: '1', // a rotation is seen within a second
      GRANTRY_METRICS_PORT: '0',
      GRANTRY_METRICS_HOST: '127.0.0.1',
      GRANTRY_SHUTDOWN_DELAY: '0',
      GRANTRY_LOG_LEVEL: 'silent', // no log lines to read: the start-up lines stay on stdout
      GRANTRY_ADMIN_PASSWORD: ADMIN_PASSWORD,
    };
    // Each node has its own data folder, as on its own machine. The first one alone sets up the
    // empty database (migrations, the signing key, the admin), as the guide says to; then the others.
    const start = async (index: number) => {
      const dataDir = path.join(root, `node${index}`);
      mkdirSync(dataDir, { mode: 0o700 });
      const node = await startNode(dataDir, database.url, env);
      nodes[index] = node;
      nodeAddresses[index] = new URL(node.url).host;
    };
    await start(0);
    await Promise.all(Array.from({ length: NODES - 1 }, (_, i) => start(i + 1)));

    const prefix = path.join(root, 'nginx');
    mkdirSync(prefix);
    const conf = renderNginxConf({
      SERVER_NAME: 'localhost',
      HTTPS_PORT: String(nginxPort),
      HTTP_PORT: String(httpPort),
      CERTIFICATE: certificates.certificate,
      CERTIFICATE_KEY: certificates.key,
      NODE_1: nodeAddresses[0] as string,
      NODE_2: nodeAddresses[1] as string,
      NODE_3: nodeAddresses[2] as string,
      LOG_DIR: prefix,
    });
    // The test's addition, beside the shipped add_header so that both apply (nginx inherits
    // add_header into a block only when the block has none of its own).
    const hsts = 'add_header Strict-Transport-Security "max-age=63072000" always;';
    expect(conf).toContain(hsts);
    // The request id nginx made is shown too, to compare with the one the node answers with.
    const seen = ['add_header X-Grantry-Upstream $upstream_addr always;', 'add_header X-Nginx-Request-Id $request_id always;'];
    nginx = await startNginx(prefix, conf.replace(hsts, [hsts, ...seen].join('\n    ')), nginxPort);
  });

  afterAll(async () => {
    await nginx?.stop();
    for (const node of nodes) node?.process.child.kill('SIGTERM');
    const exits = await Promise.all(nodes.map((node) => node?.process.exited));
    for (const node of nodes) node?.process.kill();
    await dropDatabase();
    if (root) rmSync(root, { recursive: true, force: true });
    expect(exits.map((e) => e?.code)).toEqual(nodes.map(() => 0));
  });

  const cli = async (args: string[]) => okJson(await runCli([...args, '--json'], { ...env, GRANTRY_DATA_DIR: path.join(root, 'node0') }));

  it('deploy/grantry.env.example sets only settings Grantry has', () => {
    const known = new Set(SETTINGS.map((s) => s.env));
    expect(Object.keys(envExample()).filter((name) => !known.has(name))).toEqual([]);
  });

  /** What the flow test leaves for the tests after it. */
  const flow = { clientId: '', accessToken: '', refreshToken: '' };

  it('the authorization code flow with PKCE crosses the nodes; cookies are Secure and __Host-; the sign-in records the address nginx saw', async () => {
    const client = await cli(['client', 'create', '--side', 'backoffice', '--name', 'Proxy app', '--type', 'public', '--grant', 'authorization_code', '--grant', 'refresh_token', '--redirect-uri', REDIRECT_URI, '--scope', 'users:read']);
    flow.clientId = client.client_id as string;
    const browser = new HttpsClient(origin, ca);
    const served: HttpsResponse[] = [];
    const step = async (response: Promise<HttpsResponse>) => {
      const r = await response;
      served.push(r);
      expect(r.upstream, `${r.status} ${r.body.slice(0, 200)}`).toMatch(/^127\.0\.0\.1:\d+$/);
      // The node's request id is the one nginx made (it trusts nginx), never one the client sent.
      expect(r.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
      expect(r.headers['x-request-id']).toBe(r.headers['x-nginx-request-id']);
      return r;
    };

    const { verifier, challenge } = pkcePair();
    const state = randomBytes(8).toString('hex');
    const authorize = `/admin/oauth2-token/authorize?${new URLSearchParams({ response_type: 'code', client_id: flow.clientId, redirect_uri: REDIRECT_URI, scope: 'users:read', state, code_challenge: challenge, code_challenge_method: 'S256' })}`;
    const toLogin = await step(browser.get(authorize, { 'x-request-id': 'chosen-by-the-client' }));
    expect(toLogin.status).toBe(303);
    const loginPage = await step(browser.get(toLogin.headers.location as string));
    expect(loginPage.status).toBe(200);
    const returnTo = new URL(toLogin.headers.location as string, origin).searchParams.get('return_to') as string;
    // A forged X-Forwarded-For: nginx must replace it, not pass it on.
    const login = await step(browser.post('/admin/oauth2-token/login', { csrf_token: formField(loginPage.body, 'csrf_token') ?? '', login: 'admin', password: ADMIN_PASSWORD, return_to: returnTo }, { 'x-forwarded-for': '203.0.113.7' }));
    expect(login.status, login.body.slice(0, 300)).toBe(303);

    // The session cookie through the proxy: Secure, host-only, on the whole site.
    const setCookies = [...(loginPage.headers['set-cookie'] ?? []), ...(login.headers['set-cookie'] ?? [])];
    const session = setCookies.find((c) => c.startsWith('__Host-grantry_bo_session='));
    expect(session, setCookies.join('\n')).toBeDefined();
    for (const cookie of setCookies) {
      expect(cookie).toMatch(/^__Host-/);
      expect(cookie).toMatch(/;\s*Secure/i);
      expect(cookie).toMatch(/;\s*Path=\/(;|$)/i);
      expect(cookie).not.toMatch(/;\s*Domain=/i);
    }

    const consent = await step(browser.get(login.headers.location as string));
    expect(consent.status).toBe(200);
    expect(consent.body).toContain('name="decision"');
    const allowed = await step(browser.post('/admin/oauth2-token/authorize', { ...consentFields(consent.body), decision: 'allow' }));
    expect(allowed.status).toBe(303);
    const redirect = new URL(allowed.headers.location as string);
    expect(redirect.origin + redirect.pathname).toBe(REDIRECT_URI);
    expect(redirect.searchParams.get('state')).toBe(state);
    expect(redirect.searchParams.get('iss')).toBe(`${origin}/admin`);
    const code = redirect.searchParams.get('code') as string;

    const exchange = await step(browser.request('POST', TOKEN_PATH, { form: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_id: flow.clientId, code_verifier: verifier }, cookies: false }));
    expect(exchange.status, exchange.body).toBe(200);
    // The code made on one node is redeemed on another: codes live in the database, keyed by the shared secret.
    expect(exchange.upstream).not.toBe(allowed.upstream);
    const tokens = JSON.parse(exchange.body) as { access_token: string; refresh_token: string };

    const api = await step(browser.request('GET', '/admin/api/users', { headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/vnd.api+json' }, cookies: false }));
    expect(api.status, api.body).toBe(200);
    expect((JSON.parse(api.body) as { data: Array<{ attributes: { username: string } }> }).data.map((u) => u.attributes.username)).toContain('admin');
    expect(api.upstream).not.toBe(exchange.upstream);

    const refresh = await step(browser.request('POST', TOKEN_PATH, { form: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: flow.clientId }, cookies: false }));
    expect(refresh.status, refresh.body).toBe(200);
    expect(refresh.upstream).not.toBe(api.upstream);
    const refreshed = JSON.parse(refresh.body) as { access_token: string; refresh_token: string };
    flow.accessToken = refreshed.access_token;
    flow.refreshToken = refreshed.refresh_token;

    // Every node served a part of the flow.
    expect(new Set(served.map((r) => r.upstream))).toEqual(new Set(nodeAddresses));

    // The sign-in's address is the client's as nginx saw it, not the forged one.
    const signins = await cli(['audit', 'list', '--kind', 'signin.succeeded']);
    expect((signins.events as Array<{ address: string | null }>).map((e) => e.address)).toEqual(['127.0.0.1']);
  });

  /** A refresh through nginx with the latest refresh token of the flow, which it replaces. */
  const refreshThroughNginx = async () => {
    const r = await new HttpsClient(origin, ca).post(TOKEN_PATH, { grant_type: 'refresh_token', refresh_token: flow.refreshToken, client_id: flow.clientId });
    expect(r.status, r.body).toBe(200);
    const tokens = JSON.parse(r.body) as { access_token: string; refresh_token: string };
    flow.accessToken = tokens.access_token;
    flow.refreshToken = tokens.refresh_token;
    return { upstream: r.upstream, kid: decodeJwtHeader(tokens.access_token).kid };
  };

  it('a key rotation (grantry keys rotate --delay 0) is served and used by every node within key_refresh_interval', async () => {
    const before = decodeJwtHeader(flow.accessToken).kid;
    const rotated = await cli(['keys', 'rotate', '--delay', '0']);
    const kid = rotated.kid as string;
    expect(kid).not.toBe(before);

    // Each node's own JWKS lists the new key beside the old one (tokens signed before stay valid).
    for (const address of nodeAddresses) {
      const kids = await waitUntil(`the new key in the JWKS of ${address}`, async () => {
        const response = await fetch(`http://${address}${JWKS_PATH}`);
        expect(response.status).toBe(200);
        const listed = ((await response.json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
        return listed.includes(kid) ? listed : undefined;
      });
      expect(kids).toContain(before);
    }
    // Tokens issued by each node through nginx carry the new kid.
    const signedWithNewKey = new Set<string>();
    await waitUntil('a token with the new key from every node', async () => {
      const issued = await refreshThroughNginx();
      if (issued.kid === kid) signedWithNewKey.add(issued.upstream);
      return signedWithNewKey.size === NODES ? true : undefined;
    });
    expect([...signedWithNewKey].sort()).toEqual([...nodeAddresses].sort());
  });

  it('a revocation at one node is refused at the next request, served by another node', async () => {
    const client = new HttpsClient(origin, ca);
    const bearer = { authorization: `Bearer ${flow.accessToken}`, accept: 'application/vnd.api+json' };
    expect((await client.get('/admin/api/users', bearer)).status).toBe(200);

    const revokeAccess = await client.post(REVOCATION_PATH, { token: flow.accessToken, client_id: flow.clientId });
    expect(revokeAccess.status, revokeAccess.body).toBe(200);
    const refused = await client.get('/admin/api/users', bearer);
    expect(refused.upstream).not.toBe(revokeAccess.upstream);
    expect(refused.status, refused.body).toBe(401);
    expect(refused.headers['www-authenticate']).toMatch(/error="invalid_token"/);

    const revokeRefresh = await client.post(REVOCATION_PATH, { token: flow.refreshToken, client_id: flow.clientId });
    expect(revokeRefresh.status, revokeRefresh.body).toBe(200);
    const refresh = await client.post(TOKEN_PATH, { grant_type: 'refresh_token', refresh_token: flow.refreshToken, client_id: flow.clientId });
    expect(refresh.upstream).not.toBe(revokeRefresh.upstream);
    expect(refresh.status, refresh.body).toBe(400);
    expect(JSON.parse(refresh.body)).toMatchObject({ error: 'invalid_grant' });
  });

  it('every node answers /readyz through nginx as ready, with HSTS added by nginx', async () => {
    const client = new HttpsClient(origin, ca);
    const answers = await Promise.all(nodeAddresses.map(() => client.get('/readyz')));
    expect(new Set(answers.map((r) => r.upstream))).toEqual(new Set(nodeAddresses));
    for (const r of answers) {
      expect(r.status, r.body).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ status: 'ready', checks: { database: 'ok', signing_keys: 'ok' } });
      expect(r.headers['strict-transport-security']).toBe('max-age=63072000');
    }
  });

  it('plain http on nginx only redirects to https', async () => {
    const response = await fetch(`http://127.0.0.1:${httpPort}/admin/oauth2-token/login?x=1`, { redirect: 'manual' });
    expect(response.status).toBe(301);
    expect(response.headers.get('location')).toBe(`${origin}/admin/oauth2-token/login?x=1`);
  });

  it('every metric deploy/prometheus-alerts.yml uses is one a node serves (scraped from its metrics listener)', async () => {
    const output = nodes[0]?.process.stdout ?? '';
    const listener = /^\s*metrics\s+(http:\/\/\S+)$/m.exec(output)?.[1];
    expect(listener, `no metrics listener line in the node's output:\n${output}`).toBeDefined();
    const response = await fetch(listener as string);
    expect(response.status).toBe(200);
    const served = new Map([...(await response.text()).matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]));
    // A histogram's series are its name with _bucket, _sum and _count.
    const series = new Set([...served].flatMap(([name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name])));
    const rules = readFileSync(ALERT_RULES, 'utf8');
    const used = [...new Set(rules.match(/\b(grantry|nodejs|process)_[a-z0-9_]+/g))];
    expect(used.filter((name) => name.startsWith('grantry_')).length).toBeGreaterThanOrEqual(10);
    expect(used.filter((name) => !series.has(name))).toEqual([]);
  });

  it('grantry doctor finds the database the three nodes shared sound', async () => {
    const report = await cli(['doctor']);
    expect(report.ok, JSON.stringify(report.checks)).toBe(true);
  });

  it('nginx logged no error: no node refused, reset or timed out a connection during the run', () => {
    expect((nginx as RunningNginx).errorLog().split('\n').filter((line) => /\[(error|crit|alert|emerg)\]/.test(line))).toEqual([]);
  });
});
