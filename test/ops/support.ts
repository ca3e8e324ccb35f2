/**
 * What the operations tests share: whether they can run here (root, runuser, Debian's
 * PostgreSQL binaries), Grantry nodes started as an operator starts them (`grantry start`, the
 * compiled CLI), a private PostgreSQL cluster that a test may stop and restart without touching
 * the shared server, and a small load generator that counts statuses and answer times.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliProcess, cliEnv } from '../cli/run.js';
import { eventually, LISTENING_LINE } from '../helpers/cluster.js';
import { freePort } from '../helpers/server.js';

/** The newest of Debian's PostgreSQL versions installed (/usr/lib/postgresql/<version>/bin). */
function postgresBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(root, versions[0], 'bin');
}

export const POSTGRES_BIN = postgresBinaries();

/** What is missing for the operations tests, or undefined when they can run. */
function missingForOps(): string | undefined {
  if (process.getuid?.() !== 0) return 'they need root (mount, runuser)';
  if (!existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) return 'there is no runuser';
  if (POSTGRES_BIN === undefined) return "there are no PostgreSQL binaries in /usr/lib/postgresql/*/bin (apt-get install -y postgresql)";
  return undefined;
}

/**
 * Whether the operations tests can run here (pass it to describe.runIf). A machine without what
 * they need skips them with a note on stderr; CI sets GRANTRY_REQUIRE_OPS=1, which turns the
 * absence into an error instead of a quiet skip.
 */
const missing = missingForOps();
export const opsAvailable = missing === undefined;
if (missing !== undefined && process.env.GRANTRY_REQUIRE_OPS === '1') throw new Error(`GRANTRY_REQUIRE_OPS=1 but the operations tests cannot run: ${missing}`);
if (missing !== undefined) process.stderr.write(`\nOperations tests not run: ${missing}.\n`);

export { freePort };

/**
 * Unmounts a test's file system; if a process still holds it (a failed test's), detaches it
 * lazily so that it goes once that process does.
 */
export function unmount(mountPoint: string): void {
  try {
    run('umount', [mountPoint]);
  } catch {
    run('umount', ['-l', mountPoint]);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms until it returns something other than undefined or false; fails after `timeoutMs`. */
export const waitUntil = <T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> =>
  eventually(what, check, timeoutMs);

/** A running `grantry start` process. */
export interface GrantryNode {
  process: CliProcess;
  url: string;
  pid: number;
  /** SIGKILL, and waits until it is gone. */
  kill(): Promise<void>;
}

/**
 * Starts `grantry start` with the test environment (cliEnv: nothing inherited but PATH) plus
 * `extra`, on a port of the kernel's choice, and waits for the line saying where it listens.
 */
export async function startNode(dataDir: string, databaseUrl: string | undefined, extra: Record<string, string> = {}): Promise<GrantryNode> {
  const node = new CliProcess(['start'], cliEnv(dataDir, databaseUrl, { PORT: '0', ...extra }));
  try {
    // The banner goes to stdout, or to stderr when stdout carries the JSON log lines.
    const [, url] = await waitUntil('the listening line', async () => {
      if (node.child.exitCode !== null || node.child.signalCode !== null) throw new Error(`grantry start exited\nstdout: ${node.stdout}\nstderr: ${node.stderr}`);
      return LISTENING_LINE.exec(node.stderr) ?? LISTENING_LINE.exec(node.stdout) ?? undefined;
    }, 30_000).catch((e: Error) => {
      throw new Error(`${e.message}\nstdout: ${node.stdout}\nstderr: ${node.stderr}`);
    });
    return {
      process: node,
      url: url as string,
      pid: node.child.pid as number,
      kill: async () => {
        node.kill();
        await node.exited;
      },
    };
  } catch (e) {
    node.kill();
    await node.exited;
    throw e;
  }
}

/** Runs a command to completion, throwing with its output when it fails. */
export function run(command: string, args: string[], options: { user?: string; cwd?: string } = {}): string {
  const [file, argv] = options.user === undefined ? [command, args] : ['runuser', ['-u', options.user, '--', command, ...args]];
  try {
    return execFileSync(file, argv, { cwd: options.cwd ?? '/', encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const failed = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${failed.message}\n${failed.stdout ?? ''}${failed.stderr ?? ''}`);
  }
}

/**
 * A PostgreSQL cluster of the test's own (initdb into a temporary folder, trust authentication,
 * listening on 127.0.0.1 at a free port, its socket in the folder), which the test may stop and
 * restart. initdb and pg_ctl refuse to run as root: they run as the postgres user.
 */
export class PrivatePostgres {
  readonly folder: string;
  private readonly data: string;
  private constructor(readonly port: number) {
    this.folder = mkdtempSync(path.join(os.tmpdir(), 'grantry-ops-pg-'));
    this.data = path.join(this.folder, 'data');
    chmodSync(this.folder, 0o755);
    const { uid, gid } = userIds('postgres');
    chownSync(this.folder, uid, gid);
  }

  /** Creates and starts a new cluster. */
  static async create(): Promise<PrivatePostgres> {
    const cluster = new PrivatePostgres(await freePort());
    run(path.join(POSTGRES_BIN as string, 'initdb'), ['-D', cluster.data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'], { user: 'postgres' });
    cluster.start();
    return cluster;
  }

  /** The URL of database `name` on this cluster. */
  url(name = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${name}`;
  }

  start(): void {
    const options = `-p ${this.port} -k ${this.folder} -c listen_addresses=127.0.0.1 -c fsync=off`;
    this.pgCtl(['-o', options, '-l', path.join(this.folder, 'log'), '-w', 'start']);
  }

  /** A fast shutdown: running transactions are rolled back, their connections closed. */
  stop(): void {
    this.pgCtl(['-m', 'fast', '-w', 'stop']);
  }

  /** Stops the cluster if it runs, and removes its folder. */
  destroy(): void {
    try {
      this.pgCtl(['-m', 'immediate', '-w', 'stop']);
    } catch {
      // not running
    }
    rmSync(this.folder, { recursive: true, force: true });
  }

  private pgCtl(args: string[]): void {
    run(path.join(POSTGRES_BIN as string, 'pg_ctl'), ['-D', this.data, ...args], { user: 'postgres' });
  }
}

function userIds(name: string): { uid: number; gid: number } {
  return { uid: Number(run('id', ['-u', name]).trim()), gid: Number(run('id', ['-g', name]).trim()) };
}

/** One request's outcome, as a client saw it. */
export interface Outcome {
  /** 0: no answer (connection refused or reset, or no answer within the client's timeout). */
  status: number;
  /** When it was sent and answered, Date.now(). */
  sentAt: number;
  answeredAt: number;
  retryAfter: string | null;
  body: string;
  /** Which of the targets it was sent to. */
  target: number;
}

/** The longest a load request waits for its answer: longer counts as a hang (status 0). */
export const REQUEST_TIMEOUT_MS = 15_000;

/** Sends one request and describes its outcome; network failures and timeouts are status 0, not exceptions. */
export async function send(target: number, url: string, init: RequestInit = {}): Promise<Outcome> {
  const sentAt = Date.now();
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = await response.text();
    return { status: response.status, sentAt, answeredAt: Date.now(), retryAfter: response.headers.get('retry-after'), body, target };
  } catch (e) {
    return { status: 0, sentAt, answeredAt: Date.now(), retryAfter: null, body: String((e as Error).cause ?? e), target };
  }
}

/** A form POST to the token endpoint with HTTP Basic client authentication. */
export function tokenPost(target: number, baseUrl: string, client: { client_id: string; client_secret: string }, form: Record<string, string>): Promise<Outcome> {
  return send(target, `${baseUrl}/oauth2-token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`,
    },
    body: new URLSearchParams(form).toString(),
  });
}

/**
 * A load: `connections` loops, each sending the request `next` makes (given the loop's number
 * and its count so far) as soon as the previous one is answered, until `stop()` is called.
 * `done` resolves to every outcome, in the order answered.
 */
export function startLoad(connections: number, next: (loop: number, count: number) => Promise<Outcome> | undefined): { outcomes: Outcome[]; stop(): void; done: Promise<Outcome[]> } {
  const outcomes: Outcome[] = [];
  let stopped = false;
  const loops = Array.from({ length: connections }, async (_, loop) => {
    for (let count = 0; !stopped; count += 1) {
      const request = next(loop, count);
      if (request === undefined) return;
      outcomes.push(await request);
    }
  });
  return { outcomes, stop: () => (stopped = true), done: Promise.all(loops).then(() => outcomes) };
}

/** Counts of statuses: { "200": 12, "503": 3 }. */
export function statusCounts(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o.status] = (counts[o.status] ?? 0) + 1;
  return counts;
}

export const longestAnswerMs = (outcomes: readonly Outcome[]) => Math.max(0, ...outcomes.map((o) => o.answeredAt - o.sentAt));
