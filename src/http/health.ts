/**
 * GET /healthz (liveness) and GET /readyz (readiness), for load balancers, orchestrators and
 * monitoring. Both are cheap, answered fresh on every call, never cached, need no
 * authentication and write no log line per request (a balancer asks every few seconds).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { sql } from 'kysely';
import type { Grantry } from '../app.js';
import { describeUnavailability, unavailabilityOf } from '../storage/database-errors.js';
import { sendErrorInFormat } from './error-format.js';
import type { Branding } from './views/brand.js';

export const HEALTH_PATH = '/healthz';
export const READY_PATH = '/readyz';

/**
 * How long readiness waits for the database's answer to a trivial query. A balancer's check
 * typically gives up after a few seconds: answering 503 before it does says "not ready" rather
 * than leaving it to guess, and an unreachable PostgreSQL (whose connection attempt may take
 * longer) never hangs the check.
 */
export const DATABASE_CHECK_TIMEOUT_MS = 2000;

/** Seconds a client of a 503 from /readyz is asked to wait before asking again. */
const RETRY_AFTER_SECONDS = 5;

export interface ReadinessReport {
  ready: boolean;
  /** Each check's result: "ok", or why it fails in plain words. */
  checks: Record<'database' | 'signing_keys' | 'shutdown', string>;
}

/**
 * Whether this process should be sent traffic: its database answers and takes writes, it has a
 * key to sign with, and it is not shutting down. The metrics' grantry_ready gauge reads check()
 * too.
 */
export class Readiness {
  private draining = false;
  /** The probe in flight: a check made while one still waits joins it instead of adding another query. */
  private probe: Promise<string> | undefined;

  constructor(private readonly grantry: Grantry) {}

  /** From now on, readiness fails with "shutdown": "draining" (a graceful stop has begun). */
  startDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  async check(): Promise<ReadinessReport> {
    const checks = { database: await this.checkDatabase(), signing_keys: this.checkSigningKeys(), shutdown: this.draining ? 'draining' : 'ok' };
    return { ready: Object.values(checks).every((c) => c === 'ok'), checks };
  }

  private checkSigningKeys(): string {
    try {
      this.grantry.keys.signingKey();
      return 'ok';
    } catch (e) {
      return e instanceof Error ? e.message : 'no signing key';
    }
  }

  private async checkDatabase(): Promise<string> {
    this.probe ??= sql`select 1`
      .execute(this.grantry.database.db)
      .then(
        () => 'ok',
        // In plain words: the driver's message would name the database's host, port and user on
        // an endpoint anyone may call.
        (e: unknown) => {
          const why = unavailabilityOf(e);
          return why ? describeUnavailability(why) : 'does not answer';
        },
      )
      .finally(() => (this.probe = undefined));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no answer within ${DATABASE_CHECK_TIMEOUT_MS / 1000} s`), DATABASE_CHECK_TIMEOUT_MS);
    });
    const answer = await Promise.race([this.probe, timeout]).finally(() => clearTimeout(timer));
    if (answer !== 'ok') return answer;
    const writeProblem = this.grantry.database.writeProblem();
    return writeProblem === undefined ? 'ok' : `writes fail: ${writeProblem}`;
  }
}

const OTHER_METHODS: HTTPMethods[] = ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];

const noStore = (reply: FastifyReply) => reply.header('Cache-Control', 'no-store');

/** The two routes, at the root path (one process serves both sides). */
export function healthRoutes(readiness: Readiness, branding: Branding) {
  return async (app: FastifyInstance) => {
    // logLevel silent: a balancer's checks every few seconds would drown the log, even at debug.
    const quiet = { logLevel: 'silent' as const };
    app.get(HEALTH_PATH, quiet, async (_request, reply) => noStore(reply).send({ status: 'ok' }));
    app.get(READY_PATH, quiet, async (_request, reply) => {
      const { ready, checks } = await readiness.check();
      noStore(reply);
      if (ready) return reply.send({ status: 'ready', checks });
      return reply.code(503).header('Retry-After', String(RETRY_AFTER_SECONDS)).send({ status: 'unavailable', checks });
    });
    const notAllowed = async (_request: FastifyRequest, reply: FastifyReply) =>
      sendErrorInFormat('oauth', noStore(reply).header('Allow', 'GET'), 405, branding.of('storefront'));
    for (const url of [HEALTH_PATH, READY_PATH]) app.route({ method: OTHER_METHODS, url, ...quiet, handler: notAllowed });
  };
}
