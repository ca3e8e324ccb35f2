/**
 * Grantry as a target of the workloads: a fresh data folder and database (a SQLite file, or a
 * throwaway PostgreSQL database dropped afterwards), the server as one `node dist/cli/main.js
 * start` process (with --workers N for the scaling runs), and what the workloads need from it.
 *
 * The bench's user and client are made in this process through Grantry's own managers (the
 * same code the CLI runs), on the same database. The authorization codes of the code-exchange
 * run are stored here too, in bulk (bench/fill.js insertCodes): minting tens of thousands over
 * HTTP, or one by one through the issuer, took longer than the run that uses them. The browser
 * session of the full flow comes from the real login form (one sign-in, then the cookie on
 * every authorize request), so the flow is what a browser does, cookie for cookie, and needs
 * nothing of Grantry's internals.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createGrantry } from '../dist/app.js';
import { loadConfig } from '../dist/config/index.js';
import { CLI } from '../dist/management/principal.js';
import { insertCodes } from './fill.js';
import { FORM, fetchOnce, freePort, processTree, sleep } from './load.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const REDIRECT_URI = 'https://bench.example/cb';
const USERNAME = 'bench';

/** True when a PostgreSQL server answers at `url` within a few seconds. */
export async function postgresAnswers(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A new empty database on the server of `adminUrl`, as test/helpers/server.ts makes them; with its drop(). */
async function createPostgresDatabase(adminUrl) {
  const name = `grantry_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** The environment of the server: the caller's, without any Grantry setting of its own. */
function serverEnv(settings) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('GRANTRY_') && !['DATABASE_URL', 'PORT', 'HOST', 'PUBLIC_URL'].includes(key)) env[key] = value;
  }
  return { ...env, ...settings };
}

export class WorkersUnsupportedError extends Error {}

/** Starts the server process and waits until it answers (and, with workers, until they are all up). */
async function startServerProcess(env, base, workers) {
  // BENCH_SERVER_NODE_ARGS: flags for the server's node, e.g. `--cpu-prof --cpu-prof-dir=prof` to
  // profile it under load (node refuses --cpu-prof in NODE_OPTIONS).
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const args = [...nodeArgs, path.join(root, 'dist/cli/main.js'), 'start', ...(workers !== undefined ? ['--workers', String(workers)] : [])];
  const server = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // The start-up lines are kept for an error message; log lines (JSON, warn and above) and
  // anything on stderr are the server's warnings under load and belong in the bench's output.
  server.stdout.setEncoding('utf8').on('data', (chunk) => {
    output += chunk;
    for (const line of chunk.split('\n')) if (line.startsWith('{')) process.stderr.write(`[grantry] ${line}\n`);
  });
  server.stderr.setEncoding('utf8').on('data', (chunk) => {
    output += chunk;
    process.stderr.write(`[grantry] ${chunk}`);
  });
  const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const gone = await Promise.race([exited, sleep(100).then(() => undefined)]);
    if (gone) {
      if (workers !== undefined && /unknown option '--workers'|--workers/.test(output)) throw new WorkersUnsupportedError(`grantry start does not take --workers: ${output.trim().split('\n')[0]}`);
      throw new Error(`grantry start exited (${gone.code ?? gone.signal}) before answering:\n${output.trim()}`);
    }
    if (Date.now() > deadline) {
      server.kill('SIGKILL');
      throw new Error(`grantry start did not answer within 60 s:\n${output.trim()}`);
    }
    try {
      if ((await fetch(`${base}/.well-known/jwks.json`)).status === 200) break;
    } catch {
      // Not listening yet.
    }
  }
  // A cluster's primary answers through its first worker: wait for the others (up to 30 s).
  if (workers !== undefined && workers > 1) {
    const until = Date.now() + 30_000;
    while (processTree(server.pid).length < workers + 1 && Date.now() < until) await sleep(100);
    await sleep(500);
  }
  const stop = async () => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    // Requests of the last run whose connections autocannon closed may still be running: let them end first.
    await sleep(1000);
    const tree = processTree(server.pid);
    server.kill('SIGTERM');
    const done = await Promise.race([exited, sleep(15_000).then(() => undefined)]);
    if (!done) {
      process.stderr.write('grantry did not stop within 15 s of SIGTERM; killing its processes\n');
      for (const pid of tree.reverse()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      await exited;
    }
  };
  return { pid: server.pid, stop, exited };
}

/** Signs in through the login form, as a browser does; returns the Cookie header of the session. */
async function signIn(loginUrl, password) {
  const cookieOf = (response) => response.headers.getSetCookie().map((c) => c.split(';')[0]);
  const page = await fetchOnce(loginUrl);
  const html = await page.text();
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(html)?.[1];
  if (page.status !== 200 || !csrf) throw new Error(`the login page answered ${page.status} without a CSRF token`);
  const cookies = cookieOf(page);
  const response = await fetch(loginUrl, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...FORM, cookie: cookies.join('; ') },
    body: new URLSearchParams({ login: USERNAME, password, csrf_token: csrf }),
  });
  if (response.status !== 303) throw new Error(`signing in answered ${response.status}, not 303: ${(await response.text()).slice(0, 200)}`);
  const session = cookieOf(response).filter((c) => /session=/.test(c));
  if (session.length === 0) throw new Error('signing in set no session cookie');
  return [...cookies, ...session].join('; ');
}

/** Runs `task(i)` for i < count, `concurrency` at a time; returns the results in order. */
async function pooled(count, concurrency, task) {
  const results = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

/**
 * A running Grantry on `db` ('sqlite' | 'postgres') signing with `alg`, `workers` processes (undefined: plain `start`).
 * Call stop() to end the server and delete its data.
 */
export async function startGrantry({ db, alg, workers, postgresUrl }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'grantry-bench-'));
  let database;
  let grantry;
  let server;
  const cleanups = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((e) => process.stderr.write(`bench cleanup: ${e.message}\n`));
    cleanups.length = 0;
  };
  try {
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    database = db === 'sqlite' ? { url: `sqlite:${path.join(dir, 'grantry.sqlite')}`, drop: async () => {} } : await createPostgresDatabase(postgresUrl);
    cleanups.push(() => database.drop());
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const password = randomBytes(18).toString('base64url');
    const env = serverEnv({
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: base,
      DATABASE_URL: database.url,
      GRANTRY_DATA_DIR: dir,
      GRANTRY_SIGNING_ALGORITHM: alg,
      GRANTRY_LOG_LEVEL: 'warn',
      GRANTRY_ADMIN_PASSWORD: randomBytes(18).toString('base64url'),
    });

    // Creates the database, its secret and the first signing key (of `alg`), as a first start would.
    grantry = await createGrantry(loadConfig({ env }));
    cleanups.push(() => grantry.close());
    const user = await grantry.users.createBackofficeUser(CLI, { username: USERNAME, email: 'bench@example.com', password });
    // One confidential client for every workload: its client-credentials tokens act as the
    // bench user, and it skips consent, so the full flow goes from authorize straight to the code.
    const { client, clientSecret } = await grantry.clients.create(CLI, {
      side: 'backoffice',
      name: 'bench',
      type: 'confidential',
      grants: ['authorization_code', 'refresh_token', 'client_credentials'],
      redirectUris: [REDIRECT_URI],
      skipConsent: true,
      scopes: ['api'],
      owner: String(user.id),
    });

    server = await startServerProcess(env, base, workers);
    cleanups.push(() => server.stop());
    const processes = processTree(server.pid).length;

    const side = grantry.sides.require('backoffice');
    const metadata = await (await fetch(`${base}/.well-known/oauth-authorization-server${side.prefix}`)).json();
    const sessionCookie = await signIn(`${base}${side.loginPath}`, password);
    /** Fresh authorization codes for the bench user, stored as the authorize endpoint stores them. */
    const mintCodes = (count) => insertCodes(grantry.database, grantry.hasher, { clientPk: client.pk, userId: user.id, redirectUri: REDIRECT_URI, ttl: grantry.config.authorizationCodeTtl }, count);

    /** POST to the token endpoint; the parsed 200 answer, or an error. */
    const exchange = async (code) => {
      const response = await fetchOnce(metadata.token_endpoint, {
        method: 'POST',
        headers: FORM,
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_id: client.clientId, client_secret: clientSecret }),
      });
      const body = await response.json();
      if (response.status !== 200) throw new Error(`code exchange answered ${response.status}: ${JSON.stringify(body)}`);
      return body;
    };

    return {
      name: 'Grantry',
      db,
      alg,
      workers,
      processes,
      pid: server.pid,
      exited: server.exited,
      base,
      databaseUrl: database.url,
      clientPk: client.pk,
      userId: user.id,
      tokenUrl: metadata.token_endpoint,
      introspectionUrl: metadata.introspection_endpoint,
      authorizeUrl: metadata.authorization_endpoint,
      apiUrl: `${base}${side.apiPath}/users/${user.id}`,
      clientId: client.clientId,
      clientSecret,
      redirectUri: REDIRECT_URI,
      sessionCookie,
      mintCodes,
      exchange,
      /** Fresh refresh tokens, each from a code exchanged over HTTP. */
      refreshTokens: async (count) => (await pooled(count, 8, async () => (await exchange((await mintCodes(1))[0])).refresh_token)),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
