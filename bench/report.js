/**
 * The benchmark's tables, from the results document that --json prints as it is.
 */

/** The workloads in the order they run and print, with what each is compared with. */
export const WORKLOADS = [
  { key: 'client_credentials', label: 'client_credentials', floor: 'sign', oidc: true },
  { key: 'code_exchange', label: 'code exchange (fresh code each)', floor: 'sign', oidc: true },
  { key: 'refresh', label: 'refresh (fresh token each)', floor: 'sign', oidc: true },
  { key: 'introspection_access_token', label: 'introspection, access token', floor: 'verify', bare: true },
  { key: 'introspection_refresh_token', label: 'introspection, refresh token', oidc: true, bare: true },
  { key: 'bearer_get', label: 'bearer GET /admin/api/users/{id}', floor: 'verify', bare: true },
  { key: 'full_flow', label: 'full flow (authorize + exchange)', floor: 'sign' },
];

const n0 = (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
const ratio = (r) => (r === null || r === undefined ? '' : `${r.toFixed(2)}×`);
const pad = (s, w) => String(s).padStart(w);

/** What a request cost in CPU: the server's event loop, all its threads, the load generator (µs). */
const cpu = (c) => (c ? `${c.loop}/${c.server}/${c.load}` : '–');

/** One result line: rate, latencies, counts, CPU per request, then the given ratio columns. */
function line(label, result, ratios) {
  if (!result) return `  ${label.padEnd(34)} ${'not measured'}`;
  if (result.error) return `  ${label.padEnd(34)} FAILED: ${result.error}`;
  const counts = `${n0(result.ok)} / ${n0(result.failed)}`;
  const cells = ratios.map(([w, r]) => pad(ratio(r), w)).join('');
  const note = result.note ? `   (${result.note})` : '';
  return `  ${label.padEnd(34)}${pad(n0(result.rate), 8)}${pad(result.p50 ?? '–', 8)}${pad(result.p99 ?? '–', 8)}${pad(counts, 17)}${pad(cpu(result.cpu), 16)}${cells}${note}`;
}

const HEAD = `  ${'workload'.padEnd(34)}${pad('req/s', 8)}${pad('p50 ms', 8)}${pad('p99 ms', 8)}${pad('ok / failed', 17)}${pad('CPU µs', 16)}`;

export function renderTables(results) {
  const out = [];
  const { settings, machine } = results;
  out.push(`Grantry benchmark: ${settings.connections} connections, ${settings.seconds} s per run, load generator in the bench process`);
  out.push(`machine: ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, load average ${machine.loadAverage.join(' ')} at start`);
  out.push('');
  out.push('Ceilings measured in this run');
  for (const [alg, floor] of Object.entries(results.floors)) {
    out.push(`  ${alg} on one thread (node:crypto, KeyObject): ${n0(floor.sign)} signatures/s, ${n0(floor.verify)} verifications/s`);
  }
  out.push(HEAD);
  out.push(line('bare Fastify GET (own process)', results.bareFastify, []));
  for (const [alg, result] of Object.entries(results.bareToken ?? {})) out.push(line(`bare Fastify token POST, ${alg}`, result, []));
  for (const [alg, workloads] of Object.entries(results.oidcProvider)) {
    out.push('');
    out.push(`node-oidc-provider ${results.oidcProviderVersion}, ${alg} (one process, in-memory Map adapter, JWT access tokens)`);
    out.push(`${HEAD}${pad('×floor', 9)}`);
    for (const w of WORKLOADS.filter((x) => x.oidc)) {
      const r = workloads[w.key];
      out.push(line(w.label, r, [[9, r?.ratios?.floor]]));
    }
  }
  for (const run of results.grantry) {
    out.push('');
    out.push(`Grantry on ${run.db === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, ${run.alg} (${run.processes === 1 ? 'one process' : `${run.processes} processes`})`);
    out.push(`${HEAD}${pad('×floor', 9)}${pad('×oidc-p', 9)}${pad('×bare', 8)}${run.db === 'postgres' ? pad('×SQLite', 9) : ''}`);
    for (const w of WORKLOADS) {
      const r = run.workloads[w.key];
      const cols = [
        [9, r?.ratios?.floor],
        [9, r?.ratios?.oidcProvider],
        [8, r?.ratios?.bareFastify],
        ...(run.db === 'postgres' ? [[9, r?.ratios?.sqlite]] : []),
      ];
      out.push(line(w.label, r, cols));
    }
    if (run.growth?.error) out.push('', `  … the growth run FAILED: ${run.growth.error}`);
    else if (run.growth) {
      out.push('');
      const { fill } = run.growth;
      out.push(`  … again with ${n0(fill.grants)} grants, ${n0(fill.access_tokens)} access tokens, ${n0(fill.refresh_tokens)} refresh tokens stored (${fill.note}; filled in ${fill.seconds} s)`);
      out.push(`${HEAD}${pad('×empty', 9)}`);
      for (const w of WORKLOADS) {
        const r = run.growth.workloads[w.key];
        out.push(line(w.label, r, [[9, r?.ratios?.empty]]));
      }
    }
  }
  if (results.workers) {
    out.push('');
    out.push('Scaling: grantry start --workers N (the load generator shares the same cores)');
    out.push(`  ${'database, algorithm, N'.padEnd(34)}${pad('procs', 6)}${pad('client_credentials', 20)}${pad('×N=1', 7)}${pad('bearer GET', 14)}${pad('×N=1', 7)}`);
    for (const w of results.workers) {
      const label = `${w.db}, ${w.alg}, N=${w.workers}`;
      if (w.error) {
        out.push(`  ${label.padEnd(34)} ${w.error}`);
        continue;
      }
      const cc = w.client_credentials;
      const get = w.bearer_get;
      out.push(
        `  ${label.padEnd(34)}${pad(w.processes, 6)}${pad(`${n0(cc.rate)} req/s`, 20)}${pad(ratio(cc.ratios?.one), 7)}${pad(`${n0(get.rate)} req/s`, 14)}${pad(ratio(get.ratios?.one), 7)}${w.note ? `   (${w.note})` : ''}`,
      );
      if (cc.failed || get.failed) out.push(`  ${''.padEnd(34)}failed: client_credentials ${cc.failed}, bearer GET ${get.failed}`);
    }
  }
  for (const m of results.memory ?? []) {
    out.push('');
    out.push(`Memory: ${m.db}, ${m.alg}, ${m.seconds} s at ${n0(m.targetRate)} req/s (80% of the ${n0(m.peakRate)} req/s peak of client_credentials and bearer GET, half each)`);
    if (m.error) {
      out.push(`  FAILED: ${m.error}`);
      continue;
    }
    const mib = (kib) => `${(kib / 1024).toFixed(1)} MiB`;
    out.push(`  requests: ${n0(m.ok)} ok / ${n0(m.failed)} failed, ${n0(m.achievedRate)} req/s achieved`);
    out.push(`  resident memory after warm-up (${m.warmupSeconds} s): ${mib(m.warmRssKiB)}; at the end: ${mib(m.endRssKiB)} (${m.changePercent >= 0 ? '+' : ''}${m.changePercent.toFixed(1)}%); highest ${mib(m.maxRssKiB)}`);
    out.push(`  growth after warm-up: ${m.growthPer1000Requests.toFixed(2)} KiB per 1,000 requests`);
    out.push(`  samples every 5 s (MiB): ${m.samples.map((s) => (s.rssKiB / 1024).toFixed(0)).join(' ')}`);
  }
  out.push('');
  out.push('The full flow counts flows/s (two requests each) and the latency of the whole flow. ×floor: over the one-thread');
  out.push('floor of the algorithm (signatures/s for token responses and flows, verifications/s for the bearer GET and the');
  out.push('access-token introspection). ×oidc-p: over node-oidc-provider, same workload, algorithm and load (it introspects');
  out.push('refresh tokens only: it refuses its JWT access tokens). ×bare: over the bare Fastify GET. ×SQLite: over the same');
  out.push('workload on SQLite in this run. ×empty: over the same workload on the empty database. CPU µs: what one request');
  out.push("(one flow) cost, loop/all/load: the server's event-loop thread (at most 1 s / loop requests per second),");
  out.push('all its threads and processes (signing threads, libuv, garbage collection), and the load generator (this process).');
  out.push('');
  out.push(results.failures === 0 ? 'No request failed.' : `${results.failures} requests FAILED (exit code 1): see the ok / failed columns.`);
  return out.join('\n');
}
