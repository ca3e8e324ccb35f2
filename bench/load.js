/**
 * Measuring: autocannon runs (the load generator lives in the bench process), the one-thread
 * signing and verification floors, and the resident memory of a server's processes.
 */
import autocannon from 'autocannon';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

export const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/**
 * fetch, and once more if the connection was closed before an answer: after the --growth fill,
 * whose synchronous SQLite statements hold this event loop, fetch may reuse a kept-alive
 * connection that the server closed as idle meanwhile, and the request never reached it.
 */
export async function fetchOnce(url, init) {
  try {
    return await fetch(url, init);
  } catch (e) {
    if (e?.cause?.code !== 'UND_ERR_SOCKET') throw e;
    return fetch(url, init);
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The q-quantile (0..1) of sorted numbers, or null when there are none. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * One autocannon run. `requests` are autocannon request definitions; every response is timed
 * here, so the rate is responses over the time from the start to the last response (a run
 * that stops at maxOverallRequests ends early, on autocannon's one-second tick, which would
 * otherwise count as load time). Failed = non-2xx + connection errors + timeouts, unless the
 * workload counts its own (`own`: {ok, failed} filled in by its onResponse hooks, used where a
 * 302 is the expected answer). With the server's `pid`, also the CPU each request cost (cpu).
 */
export async function measure({ url, connections, seconds, requests, maxOverallRequests, overallRate, own, latencies, onTick, pid }) {
  let last = 0;
  const timed = requests.map((r) => ({
    ...r,
    onResponse: (status, body, context, headers) => {
      last = performance.now();
      r.onResponse?.(status, body, context, headers);
    },
  }));
  const serverBefore = pid === undefined ? undefined : cpuSecondsOf(pid);
  const benchBefore = process.cpuUsage();
  const start = performance.now();
  const result = await new Promise((resolve, reject) => {
    const instance = autocannon(
      { url, connections, duration: seconds, requests: timed, ...(maxOverallRequests ? { maxOverallRequests } : {}), ...(overallRate ? { overallRate } : {}) },
      (err, r) => (err ? reject(err) : resolve(r)),
    );
    if (onTick) instance.on('tick', onTick);
  });
  const elapsed = Math.max((last || performance.now()) - start, 1) / 1000;
  const serverAfter = pid === undefined ? undefined : cpuSecondsOf(pid);
  const bench = process.cpuUsage(benchBefore);
  const ok = own ? own.ok : result['2xx'];
  const failed = (own ? own.failed : result.non2xx) + result.errors + result.timeouts;
  const answered = Math.max(ok + failed, 1);
  const perRequest = (seconds) => Math.round((seconds * 1e6) / answered);
  const sorted = latencies ? [...latencies].sort((a, b) => a - b) : undefined;
  return {
    rate: ok / elapsed,
    p50: sorted ? round(quantile(sorted, 0.5)) : result.latency.p50,
    p99: sorted ? round(quantile(sorted, 0.99)) : result.latency.p99,
    ok,
    failed,
    seconds: Number(elapsed.toFixed(2)),
    ...(serverBefore && serverAfter
      ? {
          cpu: {
            loop: perRequest(serverAfter.loop - serverBefore.loop),
            server: perRequest(serverAfter.all - serverBefore.all),
            load: perRequest((bench.user + bench.system) / 1e6),
          },
        }
      : {}),
    ...(maxOverallRequests && ok + failed >= maxOverallRequests ? { note: `ran out of the ${maxOverallRequests} prepared inputs after ${elapsed.toFixed(1)} s` } : {}),
  };
}

const round = (n) => (n === null ? null : Math.round(n * 10) / 10);

/** Runs fn on this thread for about `ms` milliseconds (after a warm-up); returns operations per second. */
function opsPerSecond(fn, ms = 1000) {
  for (let i = 0; i < 100; i++) fn();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    now = performance.now();
  }
  return n / ((now - start) / 1000);
}

/**
 * The floor of a token response and of a bearer request with `alg` on one core: node:crypto
 * signatures and verifications per second over a typical JWT signing input, with a KeyObject
 * made once (as both servers do).
 */
export function cryptoFloor(alg) {
  const { privateKey, publicKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const options = (key) => (alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  const header = Buffer.from(JSON.stringify({ alg, typ: 'at+jwt', kid: 'k'.repeat(22) })).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: 'http://127.0.0.1:8080/admin', sub: '2', aud: 'http://127.0.0.1:8080/admin/api', client_id: 'c'.repeat(32), scope: 'api', jti: 'j'.repeat(22), iat: now, nbf: now, exp: now + 3600 };
  const data = Buffer.from(`${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`);
  const signature = sign('sha256', data, options(privateKey));
  return {
    sign: Math.round(opsPerSecond(() => sign('sha256', data, options(privateKey)))),
    verify: Math.round(opsPerSecond(() => verify('sha256', data, options(publicKey), signature))),
  };
}

/** The kernel's clock ticks per second in /proc's CPU times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds used so far, from /proc: by the process `pid` and its descendants, every thread
 * (all), and by the process's first thread (loop: its event loop, JavaScript's one thread). A
 * server that is loop-bound can answer at most 1 s / loop requests per second, whatever its
 * other threads do. For `grantry start --workers N`, `pid` is the cluster's primary, whose loop
 * only hands connections over (the scaling runs leave CPU out). Undefined where /proc cannot
 * tell (not Linux).
 */
function cpuSecondsOf(pid) {
  const times = (file) => {
    const stat = readFileSync(file, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, fields 14 and 15 of proc(5), the 12th and 13th after the name.
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  };
  try {
    let all = 0;
    for (const p of processTree(pid)) {
      try {
        // A process's own line counts its threads that already ended too.
        all += times(`/proc/${p}/stat`);
      } catch {
        // Ended meanwhile.
      }
    }
    return { all, loop: times(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return undefined;
  }
}

/** The process and its descendants (a cluster's workers), by pid. */
export function processTree(pid) {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${pids[i]}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        for (const child of readFileSync(`/proc/${pids[i]}/task/${task}/children`, 'utf8').split(' ').filter(Boolean)) pids.push(Number(child));
      } catch {
        // The task ended meanwhile.
      }
    }
  }
  return pids;
}

/** Resident memory (VmRSS) of the process and its descendants, in KiB. */
export function residentKiB(pid) {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (match) total += Number(match[1]);
    } catch {
      // Ended meanwhile.
    }
  }
  return total;
}
