/**
 * Starts Grantry: core, first-start bootstrap, HTTP server. `grantry start` and the tests call
 * startServer().
 */
import type { FastifyInstance } from 'fastify';
import { createGrantry, type Grantry } from './app.js';
import type { Config } from './config/index.js';
import { buildHttpApp, type HttpAppOptions } from './http/server.js';
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
  close(): Promise<void>;
}

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
export async function bootstrap(grantry: Grantry, log: (line: string) => void): Promise<void> {
  const { config } = grantry;
  if (grantry.signingKeyCreated) log(`Generated a ${config.signingAlgorithm} signing key in ${config.signingKeyFile} (mode 0600).`);
  const admin = await ensureAdminUser(grantry);
  if (admin) {
    log(`Created back-office admin "${admin.username}".`);
    if (admin.password) log(`  Its password, shown only this once: ${admin.password}`);
  }
}

export interface ServerOptions extends HttpAppOptions {
  /**
   * Whether this process opens the metrics listener (metrics_port) itself: not in a worker of
   * `grantry start --workers`, whose primary serves the sum of its workers' metrics.
   */
  metricsListener?: boolean;
}

export async function startServer(config: Config, log: (line: string) => void = console.log, options: ServerOptions = {}): Promise<RunningServer> {
  const grantry = await createGrantry(config);
  let app: FastifyInstance | undefined;
  let metrics: MetricsListener | undefined;
  let stopCleanup = () => {};
  try {
    await bootstrap(grantry, log);
    app = await buildHttpApp(grantry, options);
    const logger = app.log;
    // Each audit event is also one structured log line (the table is for the console and the CLI).
    grantry.audit.logTo(
      (event) => logger.info({ audit: event }, `audit ${event.kind}`),
      (e) => logger.error({ err: e }, 'audit trail write failed'),
    );
    await app.listen({ port: config.port, host: config.host });
    if (options.metricsListener !== false) metrics = await grantry.metrics.listen(config);
    const logError = (what: string) => (e: unknown) => app?.log.error({ err: e }, what);
    // Keys rotated by another process (grantry keys rotate) arrive within this interval.
    grantry.keys.startRefreshing(config.keyRefreshInterval, logError('signing key refresh failed'));
    stopCleanup = scheduleCleanup(grantry, config.cleanupInterval, logError('cleanup failed'));
  } catch (e) {
    stopCleanup();
    await metrics?.close();
    await app?.close();
    await grantry.close();
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log(`Grantry listening on ${url} (public URL ${config.publicUrl})`);
  for (const side of grantry.sides.all) {
    log(`  ${side.name.padEnd(10)} issuer ${side.issuer}`);
    log(`             authorize ${config.publicUrl}${side.authorizePath}`);
    log(`             login     ${config.publicUrl}${side.loginPath}`);
    log(`             API       ${config.publicUrl}${side.apiPath}`);
    if (side.consolePath) log(`             console   ${config.publicUrl}${side.consolePath}`);
  }
  log(`  database               ${describeDatabase(config.databaseUrl)}`);
  log(`  token endpoint         ${config.publicUrl}${TOKEN_PATH}`);
  if (metrics) log(`  metrics                ${metrics.url}`);
  const running = app;
  return {
    url,
    grantry,
    app: running,
    async close() {
      stopCleanup();
      await metrics?.close();
      await running.close();
      await grantry.close();
    },
  };
}
