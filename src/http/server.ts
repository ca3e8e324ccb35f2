/**
 * Builds the Fastify application: one plugin per route group and side. Parsing and rendering
 * live here; every decision is the protocol core's.
 */
import { BlockList, isIP } from 'node:net';
import cookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController, type RouteHandlerMethod } from 'fastify';
import type { Grantry } from '../app.js';
import type { Config, TrustProxy } from '../config/index.js';
import { accountRoutes } from './account.js';
import { backofficeApiRoutes } from './api/backoffice.js';
import { storefrontApiRoutes } from './api/storefront.js';
import { authorizeRoutes } from './authorize.js';
import { BrowserSessions } from './browser-session.js';
import type { HttpContext } from './context.js';
import { consoleRoutes } from './console/index.js';
import { CorsPolicy } from './cors.js';
import { answerClientError, slowClientLimits } from './socket-limits.js';
import { discoveryRoutes } from './discovery.js';
import { endSessionRoutes } from './end-session.js';
import { errorHandler, sendErrorAt } from './error-format.js';
import { registerFormParser } from './form-body.js';
import { healthRoutes, Readiness } from './health.js';
import { registerJsonParser } from './json-body.js';
import { loggerOptions, type ProxyTrust, requestContext, requestIdOf } from './logging.js';
import { loginRoutes } from './login.js';
import { tokenRoutes } from './token.js';
import { userinfoRoutes } from './userinfo.js';
import { allowImagesFrom } from './page-headers.js';
import { Branding, PAGE_STYLESHEET_PATH } from './views/brand.js';

/**
 * Whom trust_proxy (validated at config load) trusts, as one function of a peer's address and its
 * distance in hops: Fastify's trustProxy (which client address a request has) and the request ids
 * (whose X-Request-Id is kept) both ask it, so they can never disagree. Addresses and ranges
 * match as proxy-addr would match them (an IPv4-mapped IPv6 address is its IPv4 address). A hop
 * count trusts the peer and the next count - 1 hops from the right (Fastify 5 reads a bare
 * number as "trust nobody"); it cannot tell a proxy from a client that connects directly, which
 * the README says.
 */
export function proxyTrust(trust: TrustProxy): ProxyTrust | false {
  if (trust === false) return false;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  const trusted = new BlockList();
  for (const entry of trust) {
    const [address = '', prefix] = entry.split('/');
    const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) trusted.addAddress(address, family);
    else trusted.addSubnet(address, Number(prefix), family);
  }
  return (address) => {
    const version = isIP(address);
    return version !== 0 && trusted.check(address, version === 4 ? 'ipv4' : 'ipv6');
  };
}

/**
 * The route handlers running now: a graceful stop closes the database only once none is (a
 * handler goes on after its client has gone, and still needs the database).
 */
export class HandlersInFlight {
  private running = 0;
  private idle: Array<() => void> = [];

  get count(): number {
    return this.running;
  }

  /**
   * Wraps a route handler: counted while it runs and, with `withRequestId`, its request's id
   * available to log lines beyond its logger (audit events). Only when those lines are written:
   * AsyncLocalStorage hooks every promise of the request (a few per cent of a token request).
   */
  wrap(handler: RouteHandlerMethod, withRequestId = true): RouteHandlerMethod {
    const tracker = this;
    return function (this: FastifyInstance, request, reply) {
      tracker.running += 1;
      let result: unknown;
      try {
        result = withRequestId ? requestContext.run(request.id, () => handler.call(this, request, reply)) : handler.call(this, request, reply);
      } catch (e) {
        tracker.finished();
        throw e;
      }
      if (result instanceof Promise) return result.finally(() => tracker.finished());
      tracker.finished();
      return result;
    } as RouteHandlerMethod;
  }

  /** Resolves once no handler runs. */
  whenIdle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private finished(): void {
    this.running -= 1;
    if (this.running > 0) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}

export interface HttpAppOptions {
  /** Where log lines go (default stdout); `grantry start --json` keeps stdout for its JSON. */
  logTo?: NodeJS.WritableStream;
}

/** The HTTP application and what a graceful stop of it needs. */
export interface HttpApp {
  app: FastifyInstance;
  readiness: Readiness;
  handlers: HandlersInFlight;
}

export async function buildHttpApp(grantry: Grantry, options: HttpAppOptions = {}): Promise<HttpApp> {
  const { config } = grantry;
  const branding = new Branding(config);
  const trust = proxyTrust(config.trustProxy);
  const app = Fastify({
    logger: loggerOptions(config, options.logTo ?? process.stdout),
    genReqId: requestIdOf(trust),
    // Two log lines per request would cost more than the token endpoint's own work.
    // (Through a LogController: the top-level disableRequestLogging option prints a deprecation warning.)
    logController: new LogController({ disableRequestLogging: config.logLevel !== 'debug' && config.logLevel !== 'trace' }),
    trustProxy: trust,
    bodyLimit: 64 * 1024,
    // A client that sends its request slowly, or never reads its response, must not hold a
    // socket for ever (Fastify's default request timeout is none): see slowClientLimits().
    ...slowClientLimits(config),
    // No implicit HEAD routes: a HEAD on the authorize endpoint must not issue a code.
    exposeHeadRoutes: false,
    // A path Fastify cannot decode fails before any route (its default answer quotes the URL):
    // answered in the format of the route group the path points into.
    frameworkErrors: (error, request, reply) => errorHandler(grantry.sides.all, branding)(error, request as FastifyRequest, reply as FastifyReply),
    // A request Node cannot even parse: its status, with no body (see answerClientError).
    clientErrorHandler: answerClientError,
    // Query strings such as page[number] stay flat keys; repeated keys become arrays.
    routerOptions: { maxParamLength: 200 },
  });
  // Beyond this, Node closes new connections at once, so that the file descriptors left serve the
  // database and the clients already connected.
  app.server.maxConnections = config.maxConnections;
  const handlers = new HandlersInFlight();
  // Audit events are logged at info (src/server.ts), with the request id.
  const auditLogged = ['info', 'debug', 'trace'].includes(config.logLevel);
  // Before any route is added, so that it reaches every handler.
  app.addHook('onRoute', (route) => {
    route.handler = handlers.wrap(route.handler, auditLogged);
  });
  grantry.metrics.instrumentHttp(app);
  await app.register(cookie);
  registerFormParser(app);
  registerJsonParser(app);

  const { logoOrigin } = branding;
  app.addHook('onSend', async (request, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('X-Request-Id', request.id);
    if (logoOrigin) allowImagesFrom(reply, logoOrigin);
  });

  // Never a stack trace or internal message in a response; each route group's own format.
  app.setErrorHandler(errorHandler(grantry.sides.all, branding));
  app.setNotFoundHandler((request, reply) => sendErrorAt(request, reply, 404, grantry.sides.all, branding));

  const ctx: HttpContext = {
    grantry,
    browser: new BrowserSessions(grantry.repos.sessions, grantry.hasher, config.sessionTtl, config.publicUrl.startsWith('https:')),
    cors: new CorsPolicy(config),
    branding,
  };

  // Pages link it with ?v= and its content hash, so a cached copy is never the wrong colour.
  app.get(PAGE_STYLESHEET_PATH, async (_request, reply) =>
    reply.header('Content-Type', 'text/css; charset=utf-8').header('Cache-Control', 'public, max-age=86400').send(branding.css),
  );

  const readiness = new Readiness(grantry);
  await app.register(healthRoutes(readiness, branding));
  await app.register(tokenRoutes(ctx));
  await app.register(discoveryRoutes(ctx));
  for (const side of grantry.sides.all) {
    await app.register(loginRoutes(ctx, side));
    await app.register(authorizeRoutes(ctx, side));
    await app.register(userinfoRoutes(ctx, side));
    await app.register(endSessionRoutes(ctx, side));
    const api = side.name === 'backoffice' ? backofficeApiRoutes(ctx, side) : storefrontApiRoutes(ctx, side);
    await app.register(api, { prefix: side.apiPath });
    if (side.consolePath !== undefined) await app.register(consoleRoutes(ctx, side));
    await app.register(accountRoutes(ctx, side));
  }
  return { app, readiness, handlers };
}
