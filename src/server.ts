/**
 * Starts Grantry: core, first-start bootstrap, HTTP server. `grantry start` and the tests call
 * startServer().
 */
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createGrantry, type Grantry } from './app.js';
import type { Config } from './config/index.js';
import type { Readiness } from './http/health.js';
import { currentRequestId } from './http/logging.js';
import { buildHttpApp, type HandlersInFlight, type HttpApp, type HttpAppOptions } from './http/server.js';
import type { MetricsListener } from './observability/metrics.js';
import { scheduleCleanup } from './management/cleanup.js';
import { CLI } from './management/principal.js';
import { TOKEN_PATH } from './oauth/metadata.js';
import { randomToken } from './security/tokens.js';
import { describeDatabase } from './storage/database-url.js';

export interface RunningServer {
  /** The address actually listened on, e.g. http://127.0.0.1:8080. */
  url: string;
  grantry: Grantry;
  app: FastifyInstance;
  /** What GET /readyz reports (the metrics' grantry_ready gauge reads it too). */
  readiness: Readiness;
  /** The route handlers running now (a graceful stop waits for them before it closes the database). */
  handlers: HandlersInFlight;
  /**
   * Stops gracefully: readiness fails at once ("draining"), requests are still served for
   * shutdown_delay seconds, then the listener closes; requests in flight get shutdown_timeout
   * seconds to finish, connections still open then are cut, and the database closes once every
   * handler has finished (bounded by that timeout too). Calling it again joins the first call.
   */
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Whether `work` settles before `deadline` (ms since the epoch); its timer never outlives the answer. */
async function finishesBefore(work: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))));
  try {
    return await Promise.race([work.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** How often, while stopping, connections that finished their last request are closed (not left to keep-alive). */
const IDLE_SWEEP_MS = 50;
/** How long a stop waits for the database to close after the handlers' deadline. */
const DATABASE_CLOSE_TIMEOUT_MS = 5000;

/**
 * On an empty database, creates the back-office admin. The password comes from
 * GRANTRY_ADMIN_PASSWORD or is generated and returned so it can be printed once.
 */
export async function ensureAdminUser(grantry: Grantry): Promise<{ username: string; password: string | undefined } | undefined> {
  if ((await grantry.repos.users.countBackofficeUsers()) > 0) return undefined;
  const { config } = grantry;
  const password = config.adminPassword ?? randomToken(18);
  try {
    await grantry.users.createBackofficeUser(CLI, { username: config.adminUsername, email: config.adminEmail, password, isAdmin: true });
  } catch (e) {
    // Another process starting at the same time created it first.
    if ((await grantry.repos.users.countBackofficeUsers()) > 0) return undefined;
    throw e;
  }
  return { username: config.adminUsername, password: config.adminPassword ? undefined : password };
}

/**
 * What a first start does beyond createGrantry(): says that it generated the seed signing key,
 * and creates the first admin, printing a generated password this once. `grantry start
 * --workers` runs it once in its primary process, before the server processes start.
 */
export async function bootstrap(grantry: Grantry, log: (line: string) => void, tellSecret: (line: string) => void = log): Promise<void> {
  const { config } = grantry;
  if (grantry.signingKeyCreated) log(`Generated a ${config.signingAlgorithm} signing key in ${config.signingKeyFile} (mode 0600).`);
  const admin = await ensureAdminUser(grantry);
  if (admin) {
    log(`Created back-office admin "${admin.username}".`);
    if (admin.password) {
      const rule = '-'.repeat(72);
      tellSecret(rule);
      tellSecret(`  Back-office admin "${admin.username}": its password, shown only this once: ${admin.password}`);
      tellSecret('  Sign in with it and change it; it is in no log and cannot be shown again.');
      tellSecret(rule);
    }
  }
}

export interface ServerOptions extends HttpAppOptions {
  /**
   * Whether this process opens the metrics listener (metrics_port) itself: not in a worker of
   * `grantry start --workers`, whose primary serves the sum of its workers' metrics.
   */
  metricsListener?: boolean;
  /**
   * Where a generated admin password is printed (default: with the other start-up lines):
   * `grantry start` sends it to stderr, never into the log stream that collectors keep.
   */
  tellSecret?: (line: string) => void;
}

export async function startServer(config: Config, log: (line: string) => void = console.log, options: ServerOptions = {}): Promise<RunningServer> {
  const grantry = await createGrantry(config);
  let http: HttpApp | undefined;
  let metrics: MetricsListener | undefined;
  let stopCleanup = () => {};
  try {
    await bootstrap(grantry, log, options.tellSecret);
    http = await buildHttpApp(grantry, options);
    const { readiness } = http;
    grantry.metrics.readinessFrom(async () => (await readiness.check()).ready);
    const logger = http.app.log;
    // Each audit event is also one structured log line (the table is for the console and the
    // CLI), with the id of the request that caused it.
    grantry.audit.logTo(
      (event) => logger.info({ reqId: currentRequestId(), audit: event }, `audit ${event.kind}`),
      (e) => logger.error({ err: e }, 'audit trail write failed'),
    );
    await http.app.listen({ port: config.port, host: config.host });
    if (options.metricsListener !== false) metrics = await grantry.metrics.listen(config);
    const logError = (what: string) => (e: unknown) => logger.error({ err: e }, what);
    // Keys rotated by another process (grantry keys rotate) arrive within this interval.
    grantry.keys.startRefreshing(config.keyRefreshInterval, logError('signing key refresh failed'));
    stopCleanup = scheduleCleanup(grantry, config.cleanupInterval, logError('cleanup failed'));
  } catch (e) {
    stopCleanup();
    await metrics?.close();
    await http?.app.close();
    await grantry.close();
    throw e;
  }
  const { app, readiness, handlers } = http;
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  app.log.info({ url, public_url: config.publicUrl, database: describeDatabase(config.databaseUrl), ...(metrics ? { metrics_url: metrics.url } : {}) }, 'listening');
  log(`Grantry listening on ${url} (public URL ${config.publicUrl})`);
  for (const side of grantry.sides.all) {
    log(`  ${side.name.padEnd(10)} issuer ${side.issuer}`);
    log(`             authorize ${config.publicUrl}${side.authorizePath}`);
    log(`             login     ${config.publicUrl}${side.loginPath}`);
    log(`             API       ${config.publicUrl}${side.apiPath}`);
    log(`             OpenID    ${config.publicUrl}${side.openidConfigurationPath}`);
    if (side.consolePath) log(`             console   ${config.publicUrl}${side.consolePath}`);
  }
  log(`  database               ${describeDatabase(config.databaseUrl)}`);
  log(`  token endpoint         ${config.publicUrl}${TOKEN_PATH}`);
  if (metrics) log(`  metrics                ${metrics.url}`);

  // Connections, so that a stop can close those a client opened and never used (a browser's or a
  // pool's preconnect): Node's closeIdleConnections() leaves them to their headers timeout.
  const connections = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  const closeIdleConnections = () => {
    app.server.closeIdleConnections();
    for (const socket of connections) if (socket.bytesRead === 0) socket.destroy();
  };

  async function stopGracefully(): Promise<void> {
    readiness.startDraining();
    app.log.info({ shutdown_delay: config.shutdownDelay }, 'draining: /readyz answers 503');
    if (config.shutdownDelay > 0) await sleep(config.shutdownDelay * 1000);
    stopCleanup();
    // Fastify closes the listener and the idle connections; a request that arrives on a
    // connection still open is answered 503 with Connection: close.
    const closed = app.close();
    app.log.info('stopped accepting connections');
    const deadline = Date.now() + config.shutdownTimeout * 1000;
    // A connection kept alive by its client becomes idle when its last response is sent: close
    // it then, rather than let it hold the stop until keep_alive_timeout.
    closeIdleConnections();
    const sweep = setInterval(closeIdleConnections, IDLE_SWEEP_MS);
    try {
      if (!(await finishesBefore(closed, deadline))) {
        const open = await new Promise<number>((resolve) => app.server.getConnections((_e, n) => resolve(n ?? 0)));
        app.server.closeAllConnections();
        app.log.info({ connections: open }, `closed ${open} connections still open after ${config.shutdownTimeout} s`);
        await closed;
      }
    } finally {
      clearInterval(sweep);
    }
    // A handler whose client went away still runs, and still needs the database.
    if (!(await finishesBefore(handlers.whenIdle(), deadline))) {
      app.log.warn({ handlers: handlers.count }, `${handlers.count} request handlers still running after ${config.shutdownTimeout} s; closing the database anyway`);
    }
    await metrics?.close();
    // Timers stopped and the audit trail flushed before the database closes. A handler stuck in a
    // query (a PostgreSQL gone silent) would hold the pool's end, and the stop, indefinitely.
    if (!(await finishesBefore(grantry.close(), Date.now() + DATABASE_CLOSE_TIMEOUT_MS))) {
      app.log.warn(`the database did not close within ${DATABASE_CLOSE_TIMEOUT_MS / 1000} s; stopping without waiting for it`);
    }
    app.log.info('stopped');
  }
  let stopping: Promise<void> | undefined;
  return {
    url,
    grantry,
    app,
    readiness,
    handlers,
    close: () => (stopping ??= stopGracefully()),
  };
}
