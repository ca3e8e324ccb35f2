/**
 * `grantry start --workers N`: N server processes on one port, with node:cluster. The primary
 * process serves nothing itself: it prepares the database once (migrations, the first signing
 * key, the first admin), forks the workers (each runs startServer() on the same port; the
 * primary accepts the connections and hands them out in turn), prints the banner once, restarts
 * a worker that dies, and stops them all on SIGINT or SIGTERM. The workers run this same
 * command (cluster re-runs the script with its arguments) and find themselves workers.
 */
import cluster, { type Worker } from 'node:cluster';
import type { RunningServer } from '../server.js';
import { CliError, describeError, type JsonObject } from './output.js';

/** What a worker tells the primary, tagged so that nothing else on the channel is mistaken for it. */
type WorkerMessage =
  /** Its stop handlers are in place: from now on it closes cleanly when told to stop. */
  | { grantry: 'started' }
  /** Its server listens; `banner` is what startServer printed, `summary` the --json result. */
  | { grantry: 'listening'; banner: string[]; summary: JsonObject }
  /** Its server could not start (the primary reports it, the worker exits). */
  | { grantry: 'failed'; code: string; message: string; exitCode: number; detail?: string };

const STOP = { grantry: 'stop' } as const;

const isWorkerMessage = (m: unknown): m is WorkerMessage => typeof (m as { grantry?: unknown } | null)?.grantry === 'string';

/** The first restart of a worker that died waits this long; each quick death in a row doubles it. */
const RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker that served this long before it died had been fine: the next restart waits RESTART_DELAY_MS again. */
const STABLE_AFTER_MS = 10_000;

/** The message to the primary, or nothing when the channel is gone; resolves once sent. */
function tellPrimary(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

/**
 * The worker's side: starts the server, tells the primary, serves until told to stop (by the
 * primary; also by SIGINT or SIGTERM, which a terminal's Ctrl-C sends to every process of the
 * group, and by the loss of the primary), then closes the server and the database and exits 0.
 * Repeated stop requests are one: forcing is the primary's job.
 */
export async function runWorker(start: (log: (line: string) => void) => Promise<RunningServer>, summarize: (server: RunningServer) => JsonObject): Promise<never> {
  let requestStop = () => {};
  const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));
  process.on('SIGINT', () => requestStop());
  process.on('SIGTERM', () => requestStop());
  process.on('disconnect', () => requestStop());
  process.on('message', (m: unknown) => {
    if ((m as { grantry?: unknown } | null)?.grantry === STOP.grantry) requestStop();
  });
  await tellPrimary({ grantry: 'started' });

  const banner: string[] = [];
  let server: RunningServer;
  try {
    server = await start((line) => banner.push(line));
  } catch (e) {
    const { code, message, exitCode, detail } = describeError(e);
    await tellPrimary({ grantry: 'failed', code, message, exitCode, ...(detail ? { detail } : {}) });
    process.exit(exitCode);
  }
  await tellPrimary({ grantry: 'listening', banner, summary: summarize(server) });
  await stopRequested;
  try {
    await server.close();
  } catch (e) {
    process.stderr.write(`grantry: worker ${process.pid} did not close cleanly: ${describeError(e).message}\n`);
    process.exit(1);
  }
  process.exit(0);
}

export interface SupervisorOptions {
  workers: number;
  /** The banner and the start and stop lines (stdout, or stderr with --json). */
  log: (line: string) => void;
  /** Lifecycle notes and warnings (stderr). */
  info: (message: string) => void;
  warn: (message: string) => void;
  /** Resolves with the first SIGINT or SIGTERM, listened to before start-up began. */
  stopSignal: Promise<NodeJS.Signals>;
  /** The one-time work on the database, before any worker starts. */
  prepare: () => Promise<void>;
  /** Every worker listens: `summary` is the first one's --json result. */
  ready: (summary: JsonObject) => void;
}

interface Tracked {
  worker: Worker;
  pid: number;
  /** It said 'started': a stop message reaches its handler. */
  started: boolean;
  listeningSince?: number;
  failure?: Extract<WorkerMessage, { grantry: 'failed' }>;
}

const howItEnded = (code: number | null, signal: string | null) => (signal ? `killed by ${signal}` : `exit code ${code}`);

/**
 * Runs the workers until a signal stops them; resolves once every worker has exited (exit code
 * 0 of the command), throws when start-up failed (with the failing worker's message) or a worker
 * did not stop cleanly.
 */
export async function superviseWorkers(options: SupervisorOptions): Promise<void> {
  const supervisor = new Supervisor(options);
  return supervisor.run();
}

class Supervisor {
  private phase: 'starting' | 'running' | 'stopping' = 'starting';
  private readonly tracked = new Map<Worker, Tracked>();
  private readonly restarts = new Set<NodeJS.Timeout>();
  private quickDeaths = 0;
  private first?: Extract<WorkerMessage, { grantry: 'listening' }>;
  private startupFailure?: CliError;
  /** The stack trace of an unexpected start-up error, printed as `grantry start` alone would. */
  private startupDetail?: string;
  private readonly stopFailures: string[] = [];
  private signal?: NodeJS.Signals;
  private allGone = () => {};
  private readonly gone = new Promise<void>((resolve) => (this.allGone = resolve));

  constructor(private readonly o: SupervisorOptions) {
    void o.stopSignal.then((signal) => this.onSignal(signal));
  }

  async run(): Promise<void> {
    await this.o.prepare();
    if (this.phase === 'starting') for (let i = 0; i < this.o.workers; i += 1) this.fork();
    this.settleIfDone();
    await this.gone;
    process.removeListener('SIGINT', this.force);
    process.removeListener('SIGTERM', this.force);
    if (this.startupFailure) {
      if (this.startupDetail) process.stderr.write(`${this.startupDetail}\n`);
      throw this.startupFailure;
    }
    if (this.signal) this.o.log('Stopped.');
    if (this.stopFailures.length > 0) throw new CliError(`not every worker stopped cleanly: ${this.stopFailures.join('; ')}`, 'system_error');
  }

  private fork(): void {
    const worker = cluster.fork();
    const tracked: Tracked = { worker, pid: worker.process.pid ?? 0, started: false };
    this.tracked.set(worker, tracked);
    worker.on('message', (m: unknown) => {
      if (isWorkerMessage(m)) this.onMessage(tracked, m);
    });
    worker.on('exit', (code: number | null, signal: string | null) => this.onExit(tracked, code, signal));
    // Sending to a worker that has just died fails; its exit event follows and is handled there.
    worker.on('error', () => {});
  }

  private onMessage(t: Tracked, m: WorkerMessage): void {
    if (m.grantry === 'started') {
      t.started = true;
      if (this.phase === 'stopping') this.tellToStop(t);
    } else if (m.grantry === 'failed') {
      // Its exit follows, and is handled there.
      t.failure = m;
      if (this.phase === 'running') this.o.warn(`worker ${t.pid} could not start: ${m.message}`);
    } else if (m.grantry === 'listening') {
      t.listeningSince = Date.now();
      if (this.phase === 'starting') {
        this.first ??= m;
        this.announceWhenAllListen();
      } else if (this.phase === 'running') {
        this.o.info(`worker ${t.pid} started`);
      }
    }
  }

  /** Once all N workers listen: the banner once, then the --json result. */
  private announceWhenAllListen(): void {
    const workers = [...this.tracked.values()];
    if (this.restarts.size > 0 || workers.length < this.o.workers || workers.some((t) => t.listeningSince === undefined)) return;
    this.phase = 'running';
    const first = this.first as Extract<WorkerMessage, { grantry: 'listening' }>;
    for (const line of first.banner) this.o.log(line);
    const pids = [...this.tracked.values()].map((t) => t.pid);
    this.o.log(`  ${'workers'.padEnd(23)}${pids.length} processes (pids ${pids.join(', ')})`);
    this.o.ready(first.summary);
  }

  private onExit(t: Tracked, code: number | null, signal: string | null): void {
    this.tracked.delete(t.worker);
    if (this.phase === 'stopping') {
      // Killed by the terminal's signal before its handlers were in place, it had nothing open.
      const clean = code === 0 || signal === 'SIGINT' || signal === 'SIGTERM' || t.failure !== undefined;
      if (!clean) this.stopFailures.push(`worker ${t.pid} ${howItEnded(code, signal)}`);
    } else if (this.phase === 'starting' && t.failure) {
      // Its server could not start (a port in use, a database refused...): the others would fail
      // alike, and the command fails as `grantry start` alone would, with the reason.
      if (!this.startupFailure) {
        this.startupFailure = new CliError(t.failure.message, t.failure.code, t.failure.exitCode);
        this.startupDetail = t.failure.detail;
      }
      this.stop();
    } else {
      this.scheduleRestart(t, code, signal);
    }
    this.settleIfDone();
  }

  /**
   * A replacement for a worker that died (while serving, or killed while starting), after a
   * pause that doubles with each worker in a row that died early (at start-up, say: a database
   * that went away), so a failure that persists costs a line every 30 seconds, not a busy loop.
   * The port stays served by the others.
   */
  private scheduleRestart(t: Tracked, code: number | null, signal: string | null): void {
    const served = t.listeningSince === undefined ? 0 : Date.now() - t.listeningSince;
    if (served >= STABLE_AFTER_MS) this.quickDeaths = 0;
    const delay = Math.min(RESTART_DELAY_MS * 2 ** this.quickDeaths, MAX_RESTART_DELAY_MS);
    this.quickDeaths += 1;
    this.o.warn(`worker ${t.pid} exited unexpectedly (${howItEnded(code, signal)}); starting another in ${delay / 1000} s`);
    const timer = setTimeout(() => {
      this.restarts.delete(timer);
      if (this.phase !== 'stopping') this.fork();
    }, delay);
    this.restarts.add(timer);
  }

  private onSignal(signal: NodeJS.Signals): void {
    this.signal = signal;
    this.o.log(`Received ${signal}, shutting down...`);
    // A second signal while the workers close (a stuck connection, say) stops everything at once.
    process.once('SIGINT', this.force);
    process.once('SIGTERM', this.force);
    this.stop();
  }

  private readonly force = () => {
    for (const t of this.tracked.values()) t.worker.process.kill('SIGKILL');
    process.stderr.write('grantry: forced exit\n');
    process.exit(1);
  };

  /** Tells every worker to stop (one still loading is told once it says it started); starts no more. */
  private stop(): void {
    if (this.phase === 'stopping') return;
    this.phase = 'stopping';
    for (const timer of this.restarts) clearTimeout(timer);
    this.restarts.clear();
    for (const t of this.tracked.values()) if (t.started) this.tellToStop(t);
    this.settleIfDone();
  }

  private tellToStop(t: Tracked): void {
    if (t.worker.isConnected()) t.worker.send(STOP, undefined, () => {});
  }

  private settleIfDone(): void {
    if (this.phase === 'stopping' && this.tracked.size === 0) this.allGone();
  }
}

/** Whether this process is a worker that `grantry start --workers` forked. */
export const isClusterWorker = (): boolean => cluster.isWorker;
