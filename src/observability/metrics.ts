/**
 * Prometheus metrics of one server process (prom-client), served on a listener of their own
 * (metrics_port, metrics_host), never on the main port. Off unless metrics_port is set: then
 * nothing is measured at all, and no hook or query log costs the hot paths anything.
 *
 * Each Metrics has its own registry (tests run several servers in one process; prom-client's
 * global registry would mix them, and refuse a second metric of the same name). Label values
 * come from small fixed sets only: route patterns, methods, statuses, grant types, sides, error
 * codes. Never a client id, user id, username, address or raw URL.
 *
 * Under `grantry start --workers N`, the workers open no listener: the primary asks each one for
 * its registry over the cluster channel (prom-client's AggregatorRegistry) and serves the sum.
 */
import cluster from 'node:cluster';
import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyReply, onResponseHookHandler, onSendHookHandler } from 'fastify';
import type * as PromClient from 'prom-client';
import type { Config } from '../config/index.js';
import { answerClientError, slowClientLimits } from '../http/socket-limits.js';
import type { KeyRing } from '../oauth/key-ring.js';
import { TOKEN_PATH } from '../oauth/metadata.js';
import type { OpenDatabase, QueryObserver } from '../storage/database.js';
import type { NewAuditEvent } from '../storage/repositories.js';

/**
 * prom-client, loaded by the first Metrics that is on (and Fastify by the metrics listener):
 * every CLI command builds a Grantry, with its Metrics off, and loading the two cost each command
 * about a quarter of a second.
 */
let promClientModule: typeof PromClient | undefined;
const promClient = (): typeof PromClient => (promClientModule ??= createRequire(import.meta.url)('prom-client') as typeof PromClient);

export interface MetricsListener {
  /** Where GET /metrics is served, e.g. http://127.0.0.1:9464/metrics. */
  url: string;
  close(): Promise<void>;
}

/** The route label of a request no route matched (a 404 of an unknown path). */
const UNMATCHED = 'unmatched';

/** Request latency, from an API answer to a bearer token (under a millisecond) to a slow page. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Query latency: SQLite answers in microseconds, a loaded PostgreSQL in milliseconds or more. */
const QUERY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * A value per key, made on first use: the hot paths look up a prepared prom-client child
 * instead of building a label object per request.
 */
function perKey<K, V>(make: (key: K) => V): (key: K) => V {
  const made = new Map<K, V>();
  return (key) => {
    let value = made.get(key);
    if (value === undefined) {
      value = make(key);
      made.set(key, value);
    }
    return value;
  };
}

/** A route option's hooks as an array (Fastify takes one hook or several). */
const hooksOf = <H>(hooks: H | H[] | undefined): H[] => (hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]);

/** The `error` of an RFC 6749 error body the token endpoint sent, as a label value. */
function tokenErrorCodeOf(payload: string): string {
  try {
    const error = (JSON.parse(payload) as { error?: unknown } | null)?.error;
    // The body is Grantry's own; the pattern only keeps the label set small whatever happens.
    if (typeof error === 'string' && /^[a-z_]{1,40}$/.test(error)) return error;
  } catch {
    // Not JSON: counted below as unknown.
  }
  return 'unknown';
}

/** The audit kinds that move a counter, and the label they count under. */
const BLOCK_KINDS: Record<string, string> = { 'signin.blocked': 'signin', 'client_authentication.blocked': 'client_authentication' };
const REUSE_KINDS: Record<string, string> = { 'code.reused': 'authorization_code', 'refresh_token.reused': 'refresh_token' };

/** The metrics of a Metrics that is on, and how each is moved. */
class Recorder {
  private readonly prom = promClient();
  readonly registry = new this.prom.Registry();

  /** A gauge of this registry, read at each scrape through its collect(). */
  gauge<T extends string>(configuration: PromClient.GaugeConfiguration<T>): PromClient.Gauge<T> {
    return new this.prom.Gauge({ ...configuration, registers: [this.registry] });
  }
  private readonly registers = [this.registry];

  private readonly httpRequests = new this.prom.Counter({
    name: 'grantry_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern ("unmatched" for unknown paths) and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: this.registers,
  });
  private readonly httpDuration = new this.prom.Histogram({
    name: 'grantry_http_request_duration_seconds',
    help: 'Time from receiving a request to sending its response, by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: HTTP_BUCKETS,
    registers: this.registers,
  });
  private readonly tokensIssued = new this.prom.Counter({
    name: 'grantry_tokens_issued_total',
    help: 'Token responses of the token endpoint, by grant type and side.',
    labelNames: ['grant_type', 'side'] as const,
    registers: this.registers,
  });
  private readonly tokenErrors = new this.prom.Counter({
    name: 'grantry_token_errors_total',
    help: 'Error responses of the token endpoint, by RFC 6749 error code.',
    labelNames: ['error'] as const,
    registers: this.registers,
  });
  private readonly signinFailures = new this.prom.Counter({
    name: 'grantry_signin_failures_total',
    help: 'Refused passwords (login form, password grant, password change), by side.',
    labelNames: ['side'] as const,
    registers: this.registers,
  });
  private readonly bruteForceBlocks = new this.prom.Counter({
    name: 'grantry_bruteforce_blocks_total',
    help: 'Attempts refused by the brute-force limit, by kind (signin or client_authentication).',
    labelNames: ['kind'] as const,
    registers: this.registers,
  });
  private readonly reuseDetected = new this.prom.Counter({
    name: 'grantry_token_reuse_detected_total',
    help: 'Replays of a spent authorization code or refresh token (its grant is revoked), by kind.',
    labelNames: ['kind'] as const,
    registers: this.registers,
  });
  private readonly queryDuration = new this.prom.Histogram({
    name: 'grantry_db_query_duration_seconds',
    help: 'Database query latency, by outcome (ok or error).',
    labelNames: ['outcome'] as const,
    buckets: QUERY_BUCKETS,
    registers: this.registers,
  });
  private readonly cleanedRows = new this.prom.Counter({
    name: 'grantry_cleanup_deleted_rows_total',
    help: 'Expired rows deleted by the cleanup (codes, tokens, grants, sessions, keys, audit events).',
    registers: this.registers,
  });

  private readonly httpSeries = perKey((route: string) =>
    perKey((method: string) => ({
      duration: this.httpDuration.labels({ method, route }),
      requests: perKey((status: number) => this.httpRequests.labels({ method, route, status })),
    })),
  );
  private readonly tokenErrorSeries = perKey((error: string) => this.tokenErrors.labels({ error }));
  private readonly issuedSeries = perKey((side: string) => perKey((grantType: string) => this.tokensIssued.labels({ grant_type: grantType, side })));
  private readonly signinFailureSeries = perKey((side: string) => this.signinFailures.labels({ side }));
  private readonly blockSeries = perKey((kind: string) => this.bruteForceBlocks.labels({ kind }));
  private readonly reuseSeries = perKey((kind: string) => this.reuseDetected.labels({ kind }));
  private readonly queryOk = this.queryDuration.labels({ outcome: 'ok' });
  private readonly queryFailed = this.queryDuration.labels({ outcome: 'error' });

  constructor() {
    this.prom.collectDefaultMetrics({ register: this.registry });
    // Zero from the start, so that rate() and increase() see the first event.
    for (const kind of Object.values(BLOCK_KINDS)) this.blockSeries(kind).inc(0);
    for (const kind of Object.values(REUSE_KINDS)) this.reuseSeries(kind).inc(0);
    this.cleanedRows.inc(0);
  }

  readonly observeQuery: QueryObserver = (durationMs, failed) => (failed ? this.queryFailed : this.queryOk).observe(durationMs / 1000);

  /** Records a request to `route` (a pattern, or UNMATCHED): made once per route, called per request. */
  requestsTo(route: string): (method: string, status: number, seconds: number) => void {
    const byMethod = this.httpSeries(route);
    return (method, status, seconds) => {
      const series = byMethod(method);
      series.requests(status).inc();
      series.duration.observe(seconds);
    };
  }

  tokenError(code: string): void {
    this.tokenErrorSeries(code).inc();
  }

  event(event: Pick<NewAuditEvent, 'kind' | 'side' | 'details'>): void {
    const side = event.side ?? 'none';
    const block = BLOCK_KINDS[event.kind];
    const reuse = REUSE_KINDS[event.kind];
    if (event.kind === 'token.issued') this.issuedSeries(side)(String(event.details.grant_type)).inc();
    else if (event.kind === 'signin.failed') this.signinFailureSeries(side).inc();
    else if (block !== undefined) this.blockSeries(block).inc();
    else if (reuse !== undefined) this.reuseSeries(reuse).inc();
  }

  cleanedUp(rows: number): void {
    this.cleanedRows.inc(rows);
  }
}

/**
 * This process's metrics. Every method is a no-op when metrics are off (no metrics_port), and
 * instrumentHttp then adds no hook.
 */
export class Metrics {
  private readonly recorder: Recorder | undefined;

  constructor(config: Pick<Config, 'metricsPort'>) {
    if (config.metricsPort === undefined) return;
    const recorder = new Recorder();
    this.recorder = recorder;
    if (cluster.isWorker) {
      // The primary of `grantry start --workers` asks each worker for its metrics over the
      // cluster channel. Creating an AggregatorRegistry installs prom-client's answering side
      // (its messages carry a type of their own, which cli/cluster.ts ignores); setRegistries
      // makes it answer with this registry instead of prom-client's global one.
      const { AggregatorRegistry } = promClient();
      new AggregatorRegistry();
      AggregatorRegistry.setRegistries([recorder.registry]);
    }
  }

  /** Told the duration of every database query (openDatabase's onQuery); undefined when metrics are off. */
  get queryObserver(): QueryObserver | undefined {
    return this.recorder?.observeQuery;
  }

  /**
   * Counts and times every request by route pattern and status, and counts the token
   * endpoint's errors by code (read from the body it sends, whichever handler wrote it: the
   * grant's, or the server's for a body it could not parse). Each route gets hooks of its own,
   * made once with its pattern, so that a request pays no lookup of its route (Fastify's
   * request.routeOptions builds an object at each call).
   */
  instrumentHttp(app: FastifyInstance): void {
    const { recorder } = this;
    if (!recorder) return;
    // The not-found handler has no route of its own to hook: requests no route matched.
    const unmatched = recorder.requestsTo(UNMATCHED);
    app.addHook('onResponse', (request, reply, done) => {
      if (request.is404) unmatched(request.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
    const countTokenError: onSendHookHandler = (_request, reply, payload, done) => {
      if (reply.statusCode >= 400 && typeof payload === 'string') recorder.tokenError(tokenErrorCodeOf(payload));
      done(null, payload);
    };
    app.addHook('onRoute', (route) => {
      const record = recorder.requestsTo(route.url);
      const countRequest: onResponseHookHandler = (request, reply, done) => {
        record(request.method, reply.statusCode, reply.elapsedTime / 1000);
        done();
      };
      route.onResponse = [...hooksOf(route.onResponse), countRequest];
      // Only the token route reads its error bodies: no other request pays for it.
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (route.url === TOKEN_PATH && methods.includes('POST')) route.onSend = [...hooksOf(route.onSend), countTokenError];
    });
  }

  /** Counts the audit trail's events that have a counter (the composition root subscribes it once). */
  countEvent(event: Pick<NewAuditEvent, 'kind' | 'side' | 'details'>): void {
    this.recorder?.event(event);
  }

  /** The rows of every kind that one cleanup run deleted. */
  countCleanedRows(deleted: Record<string, number>): void {
    if (!this.recorder) return;
    let total = 0;
    for (const rows of Object.values(deleted)) total += rows;
    this.recorder.cleanedUp(total);
  }

  /** PostgreSQL: the pool's use, read at each scrape, and its configured size. */
  observeDatabase(database: OpenDatabase, poolSize: number): void {
    const recorder = this.recorder;
    const poolUse = database.poolUse?.bind(database);
    if (!recorder || !poolUse) return;
    recorder.gauge({
      name: 'grantry_db_pool_connections',
      help: 'PostgreSQL pool connections: total open, idle, and queries waiting for one.',
      labelNames: ['state'] as const,
      collect() {
        const use = poolUse();
        this.set({ state: 'total' }, use.total);
        this.set({ state: 'idle' }, use.idle);
        this.set({ state: 'waiting' }, use.waiting);
      },
    });
    recorder.gauge({ name: 'grantry_db_pool_size', help: 'Most PostgreSQL connections the pool opens (database_pool_size).' }).set(poolSize);
  }

  /** The age of the key now signing, read at each scrape. */
  observeSigningKeys(keys: Pick<KeyRing, 'published'>): void {
    const recorder = this.recorder;
    if (!recorder) return;
    recorder.gauge({
      name: 'grantry_signing_key_age_seconds',
      help: 'Seconds since the signing key now in use was created (grantry keys rotate makes a new one).',
      // Under --workers, one worker may not have loaded a newer key yet: the oldest counts.
      aggregator: 'max',
      collect() {
        const now = Math.floor(Date.now() / 1000);
        const signing = keys.published(now).find((key) => key.signing);
        if (signing) this.set(now - signing.createdAt);
      },
    });
  }

  /**
   * grantry_ready: 1 when `check` (what GET /readyz decides) says ready, else 0, asked at each
   * scrape. Under --workers the primary shows the lowest: 0 when any worker is not ready.
   */
  readinessFrom(check: () => Promise<boolean>): void {
    const recorder = this.recorder;
    if (!recorder) return;
    recorder.gauge({
      name: 'grantry_ready',
      help: 'Whether this server is ready to serve (what GET /readyz answers): 1 or 0.',
      aggregator: 'min',
      async collect() {
        this.set((await check().catch(() => false)) ? 1 : 0);
      },
    });
  }

  /** The separate listener of GET /metrics (metrics_port); undefined when metrics are off. */
  async listen(config: Config): Promise<MetricsListener | undefined> {
    const registry = this.recorder?.registry;
    if (!registry || config.metricsPort === undefined) return undefined;
    return serveMetrics(config, config.metricsPort, registry.contentType, () => registry.metrics());
  }
}

/**
 * `grantry start --workers N`: the primary serves GET /metrics on metrics_port, the sum of its
 * workers' metrics; the workers open no listener of their own.
 */
export async function listenForClusterMetrics(config: Config): Promise<MetricsListener | undefined> {
  if (config.metricsPort === undefined) return undefined;
  const { AggregatorRegistry } = promClient();
  const aggregator = new AggregatorRegistry();
  return serveMetrics(config, config.metricsPort, aggregator.contentType, () =>
    // prom-client gives up on a worker that does not answer within 5 s (one starting or dying).
    aggregator.clusterMetrics().catch((e: unknown) => {
      throw new WorkersDidNotAnswer(e);
    }),
  );
}

class WorkersDidNotAnswer extends Error {
  constructor(cause: unknown) {
    super('a worker did not send its metrics', { cause });
  }
}

const jsonError = (error: string, description: string) => ({ error, error_description: description });

/**
 * An HTTP listener that serves GET /metrics and nothing else (404 JSON), with the main server's
 * socket timeouts. It has no authentication: metrics_host must be an address that only the
 * monitoring system reaches.
 */
async function serveMetrics(config: Config, port: number, contentType: string, exposition: () => Promise<string>): Promise<MetricsListener> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({
    logger: false,
    ...slowClientLimits(config),
    exposeHeadRoutes: false,
    clientErrorHandler: answerClientError,
    // A path that cannot be decoded: answered without quoting it.
    frameworkErrors: (_error, _request, reply) => void (reply as FastifyReply).code(400).send(jsonError('invalid_request', 'the request could not be read')),
  });
  app.get('/metrics', async (_request, reply) => reply.header('Cache-Control', 'no-store').type(contentType).send(await exposition()));
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(jsonError('not_found', 'this listener serves only GET /metrics')));
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof WorkersDidNotAnswer) return reply.code(503).header('Retry-After', '5').send(jsonError('temporarily_unavailable', 'a worker did not send its metrics in time; try again'));
    return reply.code(500).send(jsonError('server_error', 'the metrics could not be collected'));
  });
  await app.listen({ port, host: config.metricsHost });
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const host = config.metricsHost.includes(':') ? `[${config.metricsHost}]` : config.metricsHost;
  return { url: `http://${host}:${boundPort}/metrics`, close: () => app.close() };
}
