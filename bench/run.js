#!/usr/bin/env node
/**
 * `npm run bench`: Grantry's hot paths under load, beside the ceilings measured in the same run.
 *
 * For each database (SQLite, PostgreSQL) and signing algorithm (ES256, RS256), a fresh data
 * folder and database and Grantry as one server process (`node dist/cli/main.js start`), loaded
 * by autocannon from this process with:
 *   client_credentials             POST /oauth2-token, grant_type=client_credentials, scope api
 *   code exchange                  POST /oauth2-token, grant_type=authorization_code, a fresh code each
 *   refresh                        POST /oauth2-token, grant_type=refresh_token, a fresh token each (rotation)
 *   introspection, access token    POST /oauth2-token/introspect (RFC 7662) about a JWT access token
 *   introspection, refresh token   the same about a refresh token
 *   bearer GET                     GET /admin/api/users/{id} with an access token of scope api
 *   full flow                      GET authorize with a signed-in session for a skip-consent client,
 *                                  302 to the redirect URI with a code, then the code exchange (flows/s)
 * each with req/s, p50, p99, ok/failed counts, the CPU one request cost (the server's event loop,
 * all its threads, this process: bench/load.js measure), and its ratio to the ceilings of the same run:
 *   - the one-thread floor of the algorithm: node:crypto signatures/s for the token paths,
 *     verifications/s for the bearer GET and access-token introspection;
 *   - a bare Fastify 5 GET in its own process (bench/reference/bare-fastify.js), for the
 *     bearer GET and introspection;
 *   - a bare Fastify 5 POST that signs a JWT of the algorithm on its event loop and answers a
 *     token-shaped JSON (bench/reference/bare-token.js), loaded as client_credentials: printed
 *     with the ceilings, to read the token paths' cost beside (no ratio column);
 *   - node-oidc-provider (bench/reference/oidc-provider.js: one process, in-memory Map adapter,
 *     JWT access tokens of the same algorithm, refresh tokens rotated like Grantry's) under the
 *     same load, for client_credentials, code exchange, refresh and introspection (of a refresh
 *     token: it refuses to introspect its JWT access tokens);
 *   - on PostgreSQL, the SQLite figure of the same run.
 * Request bodies are forms with client_secret_post for both servers. The run's exit code is 1
 * when any request failed (non-2xx, or not the 302 with a code of the authorize step) or a
 * workload could not run; 2 for bad flags.
 *
 * Flags (environment variables give the defaults where named):
 *   --json                    one JSON document on stdout instead of the tables (progress on stderr)
 *   --db sqlite|postgres|both default both when PostgreSQL answers, else sqlite
 *   --alg ES256,RS256         algorithms, comma-separated (default both)
 *   --seconds N               seconds per load run (6; BENCH_SECONDS)
 *   --connections N           autocannon connections (32; BENCH_CONNECTIONS)
 *   --workers 1,2             scaling: Grantry started with `grantry start --workers N` for each N,
 *                             client_credentials and bearer GET per N
 *   --growth                  after the workloads on the empty database, fill it with 1,000,000
 *                             grants, access tokens and refresh tokens (bench/fill.js; a share
 *                             expired, waiting for the cleanup) and run them again: each figure
 *                             with its ratio to the empty database's
 *   --growth-rows N           rows per token table for --growth (1000000; BENCH_GROWTH_ROWS)
 *   --memory                  a run of --memory-seconds at 80% of the measured peak of a mix of
 *                             client_credentials and bearer GET (first algorithm, each database),
 *                             sampling the server's resident memory (VmRSS of its processes) every
 *                             5 s: after a warm-up, at the end, and the growth per 1,000 requests
 *   --memory-seconds N        length of that run (300; BENCH_MEMORY_SECONDS)
 *   --postgres-url URL        where the throwaway databases are created and dropped
 *                             (postgres://postgres@127.0.0.1:5432/test; BENCH_POSTGRES_URL)
 * With no flags it takes about 5 minutes (two databases × two algorithms × seven 6-second runs,
 * plus the references). It runs the compiled build: npm run bench builds first.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cryptoFloor, fetchOnce, FORM, measure, residentKiB } from './load.js';
import { parseOptions, USAGE, UsageError } from './options.js';
import { startBareFastify, startBareToken, startOidcProvider } from './references.js';
import { renderTables, WORKLOADS } from './report.js';
import { clientCredentials, codeExchange, codesFor, fullFlow, get, introspection, refresh, warmUp } from './workloads.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

let options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  process.stderr.write(`bench: ${e.message} (--help lists the options)\n`);
  process.exit(2);
}
if (options.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!existsSync(path.join(root, 'dist/app.js'))) {
  process.stderr.write('bench: there is no build in dist/: run npm run build first (npm run bench does)\n');
  process.exit(2);
}
// After the checks above: these import the build.
const { postgresAnswers, startGrantry, WorkersUnsupportedError } = await import('./grantry.js');
const { fill } = await import('./fill.js');

/** Set by Ctrl-C: the servers are being stopped, and what still runs meanwhile only fails. */
let interrupted = false;
const progress = (message) => interrupted || process.stderr.write(`bench: ${message}\n`);
const load = { connections: options.connections, seconds: options.seconds };

/** Servers to stop if the run is interrupted. */
const running = new Set();
async function using(startPromise, use) {
  const server = await startPromise;
  running.add(server);
  try {
    return await use(server);
  } finally {
    running.delete(server);
    await server.stop();
  }
}
process.once('SIGINT', async () => {
  progress('interrupted: stopping the servers and dropping the databases');
  interrupted = true;
  for (const server of running) await server.stop().catch(() => {});
  process.exit(130);
});

/** A workload's result, or {error} when it could not run (counted as a failure). */
async function attempt(name, fn) {
  try {
    const result = await fn();
    progress(`  ${name}: ${Math.round(result.rate)}/s, p99 ${result.p99} ms, ${result.ok} ok / ${result.failed} failed${result.note ? ` (${result.note})` : ''}`);
    return result;
  } catch (e) {
    progress(`  ${name}: FAILED: ${e.stack ?? e}`);
    return { error: e.message ?? String(e) };
  }
}

/** Throws unless `fetch` answered `status` (and `check(body)` holds): a wrong setup fails before a 6-second run of errors. */
async function expectAnswer(what, responsePromise, status, check = () => true) {
  const response = await responsePromise;
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  if (response.status !== status || !check(body)) throw new Error(`${what} answered ${response.status}: ${text.slice(0, 300)}`);
  return body;
}

const introspect = (target, token) =>
  fetchOnce(target.introspectionUrl, { method: 'POST', headers: FORM, body: new URLSearchParams({ token, client_id: target.clientId, client_secret: target.clientSecret }) });

/** The seven workloads against a running Grantry. */
async function grantryWorkloads(g) {
  const w = {};
  // Each run also measures what a request cost the server's CPU (measure in bench/load.js).
  const onServer = { ...load, pid: g.pid };
  await warmUp(g, onServer);
  w.client_credentials = await attempt('client_credentials', () => clientCredentials(g, onServer));
  w.code_exchange = await attempt('code exchange', () => codeExchange(g, onServer, codesFor(w.client_credentials.rate ?? 2000, onServer)));
  w.refresh = await attempt('refresh', () => refresh(g, onServer));
  let probe;
  try {
    probe = await g.exchange((await g.mintCodes(1))[0]);
  } catch (e) {
    progress(`  could not get the tokens for the next runs: ${e.message}`);
  }
  const needsProbe = async (fn) => {
    if (!probe) throw new Error('no access token: the code exchange of the set-up failed');
    return fn();
  };
  const bearer = { authorization: `Bearer ${probe?.access_token}`, accept: 'application/vnd.api+json' };
  w.introspection_access_token = await attempt('introspection, access token', () =>
    needsProbe(async () => {
      await expectAnswer('introspection of the access token', introspect(g, probe.access_token), 200, (b) => b.active === true);
      return introspection(g, onServer, probe.access_token);
    }),
  );
  w.introspection_refresh_token = await attempt('introspection, refresh token', () =>
    needsProbe(async () => {
      await expectAnswer('introspection of the refresh token', introspect(g, probe.refresh_token), 200, (b) => b.active === true);
      return introspection(g, onServer, probe.refresh_token);
    }),
  );
  w.bearer_get = await attempt('bearer GET', () =>
    needsProbe(async () => {
      await expectAnswer('the bearer GET', fetchOnce(g.apiUrl, { headers: bearer }), 200, (b) => String(b?.data?.id) === String(g.userId));
      return get(g.apiUrl, onServer, bearer);
    }),
  );
  w.full_flow = await attempt('full flow', () => fullFlow(g, onServer));
  return w;
}

/** The mix of the memory run: client_credentials and the bearer GET, alternating on each connection. */
function mix(g, token, counter) {
  const count = () => counter.n++;
  return [
    { method: 'POST', path: new URL(g.tokenUrl).pathname, headers: FORM, body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api', client_id: g.clientId, client_secret: g.clientSecret }).toString(), onResponse: count },
    { method: 'GET', path: new URL(g.apiUrl).pathname, headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.api+json' }, onResponse: count },
  ];
}

async function memoryRun(g) {
  const { access_token: token } = await g.exchange((await g.mintCodes(1))[0]);
  const counter = { n: 0 };
  progress(`  measuring the peak of the mix for ${options.seconds} s`);
  const peak = await measure({ url: g.base, ...load, requests: mix(g, token, counter) });
  const targetRate = Math.max(1, Math.round(peak.rate * 0.8));
  const warmupSeconds = Math.max(5, Math.min(60, Math.round((options.memorySeconds * 0.2) / 5) * 5));
  progress(`  ${options.memorySeconds} s at ${targetRate} req/s (80% of ${Math.round(peak.rate)}); resident memory every 5 s, warm-up ${warmupSeconds} s`);
  counter.n = 0;
  const samples = [];
  const started = performance.now();
  const sample = () => samples.push({ t: Math.round((performance.now() - started) / 1000), rssKiB: residentKiB(g.pid), requests: counter.n });
  sample();
  const timer = setInterval(sample, 5000);
  let result;
  try {
    result = await measure({ url: g.base, connections: options.connections, seconds: options.memorySeconds, overallRate: targetRate, requests: mix(g, token, counter) });
  } finally {
    clearInterval(timer);
  }
  sample();
  const warm = samples.find((s) => s.t >= warmupSeconds) ?? samples[0];
  const end = samples[samples.length - 1];
  const requestsAfterWarmup = Math.max(1, end.requests - warm.requests);
  return {
    peakRate: peak.rate,
    peakFailed: peak.failed,
    targetRate,
    seconds: options.memorySeconds,
    achievedRate: result.rate,
    ok: result.ok,
    failed: result.failed + peak.failed,
    warmupSeconds: warm.t,
    warmRssKiB: warm.rssKiB,
    endRssKiB: end.rssKiB,
    maxRssKiB: Math.max(...samples.map((s) => s.rssKiB)),
    changePercent: ((end.rssKiB - warm.rssKiB) / warm.rssKiB) * 100,
    growthPer1000Requests: (end.rssKiB - warm.rssKiB) / (requestsAfterWarmup / 1000),
    samples,
  };
}

/** Fills in each result's ratios to the ceilings and references, once everything ran. */
function addRatios(results) {
  const rate = (r) => (r && !r.error ? r.rate : undefined);
  const div = (a, b) => (a === undefined || b === undefined || !b ? null : a / b);
  for (const [alg, workloads] of Object.entries(results.oidcProvider)) {
    for (const w of WORKLOADS.filter((x) => x.oidc && workloads[x.key] && !workloads[x.key].error)) {
      workloads[w.key].ratios = { floor: w.floor ? div(rate(workloads[w.key]), results.floors[alg][w.floor]) : null };
    }
  }
  const sqliteOf = (alg) => results.grantry.find((r) => r.db === 'sqlite' && r.alg === alg);
  for (const run of results.grantry) {
    for (const w of WORKLOADS) {
      const r = run.workloads[w.key];
      if (!r || r.error) continue;
      r.ratios = {
        floor: w.floor ? div(r.rate, results.floors[run.alg][w.floor]) : null,
        oidcProvider: w.oidc ? div(r.rate, rate(results.oidcProvider[run.alg]?.[w.key])) : null,
        bareFastify: w.bare ? div(r.rate, rate(results.bareFastify)) : null,
        ...(run.db === 'postgres' ? { sqlite: div(r.rate, rate(sqliteOf(run.alg)?.workloads[w.key])) } : {}),
      };
      const again = run.growth?.workloads[w.key];
      if (again && !again.error) again.ratios = { empty: div(again.rate, r.rate) };
    }
  }
  for (const w of results.workers ?? []) {
    if (w.error) continue;
    const one = results.workers.find((x) => x.db === w.db && x.alg === w.alg && x.workers === 1 && !x.error);
    for (const key of ['client_credentials', 'bearer_get']) if (!w[key].error) w[key].ratios = { one: div(w[key].rate, rate(one?.[key])) };
  }
}

/** Failed requests of every run, plus one for each workload that could not run. */
function countFailures(results) {
  let failures = 0;
  const add = (r) => {
    if (!r) return;
    if (r.error) failures += 1;
    else failures += r.failed ?? 0;
  };
  add(results.bareFastify);
  Object.values(results.bareToken ?? {}).forEach(add);
  for (const workloads of Object.values(results.oidcProvider)) Object.values(workloads).forEach(add);
  for (const run of results.grantry) {
    if (run.error) failures += 1;
    Object.values(run.workloads ?? {}).forEach(add);
    Object.values(run.growth?.workloads ?? {}).forEach(add);
    if (run.growth?.error) failures += 1;
  }
  for (const w of results.workers ?? []) {
    if (w.error) failures += 1;
    else [w.client_credentials, w.bearer_get].forEach(add);
  }
  for (const m of results.memory ?? []) {
    if (m.error) failures += 1;
    else failures += m.failed;
  }
  return failures;
}

// ---------------------------------------------------------------------------------------------

let databases;
if (options.db === undefined) {
  databases = (await postgresAnswers(options.postgresUrl)) ? ['sqlite', 'postgres'] : ['sqlite'];
  if (databases.length === 1) progress(`PostgreSQL does not answer at ${options.postgresUrl}: SQLite only (--db postgres to insist, --postgres-url to point elsewhere)`);
} else {
  databases = options.db === 'both' ? ['sqlite', 'postgres'] : [options.db];
  if (databases.includes('postgres') && !(await postgresAnswers(options.postgresUrl))) {
    process.stderr.write(`bench: --db ${options.db}, but PostgreSQL does not answer at ${options.postgresUrl} (--postgres-url or BENCH_POSTGRES_URL)\n`);
    process.exit(1);
  }
}

const results = {
  settings: { seconds: options.seconds, connections: options.connections, databases, algorithms: options.algorithms },
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.versions.node, loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))) },
  floors: {},
  bareFastify: undefined,
  bareToken: {},
  oidcProviderVersion: JSON.parse(readFileSync(path.join(root, 'node_modules/oidc-provider/package.json'), 'utf8')).version,
  oidcProvider: {},
  grantry: [],
};

progress(`one-thread floors of ${options.algorithms.join(', ')}`);
for (const alg of options.algorithms) results.floors[alg] = cryptoFloor(alg);

progress('bare Fastify GET');
results.bareFastify = await attempt('bare Fastify GET', () => using(startBareFastify(), (bare) => get(bare.url, { ...load, pid: bare.pid })));
for (const alg of options.algorithms) {
  progress(`bare Fastify token POST, ${alg}`);
  results.bareToken[alg] = await attempt(`bare Fastify token POST, ${alg}`, () =>
    using(startBareToken(alg), async (bare) => {
      const onServer = { ...load, pid: bare.pid };
      await warmUp(bare, onServer);
      return clientCredentials(bare, onServer);
    }),
  );
}

for (const alg of options.algorithms) {
  progress(`node-oidc-provider ${results.oidcProviderVersion}, ${alg}`);
  const w = (results.oidcProvider[alg] = {});
  try {
    await using(startOidcProvider(alg), async (op) => {
      progress(`  ${op.smoke}`);
      const onServer = { ...load, pid: op.pid };
      await warmUp(op, onServer);
      w.client_credentials = await attempt('client_credentials', () => clientCredentials(op, onServer));
      w.code_exchange = await attempt('code exchange', () => codeExchange(op, onServer, codesFor(w.client_credentials.rate ?? 2000, onServer)));
      w.refresh = await attempt('refresh', () => refresh(op, onServer));
      w.introspection_refresh_token = await attempt('introspection, refresh token', async () => {
        const [token] = await op.refreshTokens(1);
        await expectAnswer('introspection of the refresh token', introspect(op, token), 200, (b) => b.active === true);
        return introspection(op, onServer, token);
      });
    });
  } catch (e) {
    progress(`  node-oidc-provider FAILED: ${e.message}`);
    w.client_credentials = { error: e.message };
  }
}

for (const db of databases) {
  for (const alg of options.algorithms) {
    progress(`Grantry on ${db}, ${alg}`);
    const run = { db, alg, processes: 1, workloads: {} };
    results.grantry.push(run);
    try {
      await using(startGrantry({ db, alg, postgresUrl: options.postgresUrl }), async (g) => {
        run.processes = g.processes;
        run.workloads = await grantryWorkloads(g);
        if (options.growth) {
          progress(`  filling the database with ${options.growthRows.toLocaleString('en-US')} grants, access and refresh tokens`);
          try {
            const filled = await fill(g.databaseUrl, { clientPk: g.clientPk, rows: options.growthRows });
            progress(`  filled in ${filled.seconds} s; the workloads again`);
            // As before the first run: the bulk fill has just replaced what the server had in
            // its page cache, where a database that grew over weeks keeps its hot pages warm.
            await warmUp(g, load);
            run.growth = { fill: filled, workloads: await grantryWorkloads(g) };
          } catch (e) {
            progress(`  growth FAILED: ${e.stack}`);
            run.growth = { error: e.message, fill: {}, workloads: {} };
          }
        }
      });
    } catch (e) {
      progress(`  Grantry on ${db}, ${alg} FAILED: ${e.stack}`);
      run.error = e.message;
    }
  }
}

/** client_credentials and the bearer GET against Grantry started with `--workers flag` (undefined: a plain start). */
async function scalingRun(db, alg, flag) {
  return using(startGrantry({ db, alg, workers: flag, postgresUrl: options.postgresUrl }), async (g) => {
    const { access_token: token } = await g.exchange((await g.mintCodes(1))[0]);
    await warmUp(g, load);
    return {
      processes: g.processes,
      client_credentials: await attempt('client_credentials', () => clientCredentials(g, load)),
      bearer_get: await attempt('bearer GET', () => get(g.apiUrl, load, { authorization: `Bearer ${token}`, accept: 'application/vnd.api+json' })),
    };
  });
}

if (options.workers) {
  results.workers = [];
  // Set when this build's `grantry start` refuses --workers: N=1 is then a plain start, and N>1 cannot run.
  let unsupported;
  for (const db of databases) {
    for (const alg of options.algorithms) {
      for (const workers of options.workers) {
        progress(`scaling: Grantry on ${db}, ${alg}, --workers ${workers}`);
        const entry = { db, alg, workers };
        results.workers.push(entry);
        if (unsupported !== undefined && workers > 1) {
          entry.error = unsupported;
          continue;
        }
        try {
          try {
            Object.assign(entry, await scalingRun(db, alg, unsupported === undefined ? workers : undefined));
          } catch (e) {
            if (!(e instanceof WorkersUnsupportedError)) throw e;
            unsupported = e.message;
            progress(`  ${e.message}`);
            if (workers > 1) throw e;
            Object.assign(entry, await scalingRun(db, alg, undefined));
          }
          if (unsupported !== undefined) entry.note = 'a plain start: this build has no --workers';
        } catch (e) {
          if (!(e instanceof WorkersUnsupportedError)) progress(`  FAILED: ${e.stack}`);
          entry.error = e.message;
        }
      }
    }
  }
}

if (options.memory) {
  results.memory = [];
  const alg = options.algorithms[0];
  for (const db of databases) {
    progress(`memory: Grantry on ${db}, ${alg}`);
    try {
      const m = await using(startGrantry({ db, alg, postgresUrl: options.postgresUrl }), memoryRun);
      results.memory.push({ db, alg, ...m });
    } catch (e) {
      progress(`  FAILED: ${e.stack}`);
      results.memory.push({ db, alg, error: e.message });
    }
  }
}

addRatios(results);
results.failures = countFailures(results);
process.stdout.write(options.json ? `${JSON.stringify(results, null, 2)}\n` : `${renderTables(results)}\n`);
process.exitCode = results.failures > 0 ? 1 : 0;
