/**
 * Builds the Fastify application: one plugin per route group and side. Parsing and rendering
 * live here; every decision is the protocol core's.
 */
import cookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
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
import { discoveryRoutes } from './discovery.js';
import { answerClientError, errorHandler, sendErrorAt } from './error-format.js';
import { registerFormParser } from './form-body.js';
import { registerJsonParser } from './json-body.js';
import { loginRoutes } from './login.js';
import { tokenRoutes } from './token.js';
import { allowImagesFrom } from './page-headers.js';
import { Branding, PAGE_STYLESHEET_PATH } from './views/brand.js';

/**
 * Fastify's trustProxy for trust_proxy (validated at config load). Addresses and ranges go to
 * proxy-addr as they are. A hop count becomes a function trusting the peer and the next
 * count - 1 hops from the right (Fastify 5 reads a bare number as "trust nobody"); it cannot
 * tell a proxy from a client that connects directly, which the README says.
 */
function trustedProxies(trust: TrustProxy): false | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust !== 'number') return trust;
  return (_address, hop) => hop < trust;
}

/**
 * The timeouts of the HTTP server. requestTimeout bounds the whole request (headers and body),
 * headersTimeout the headers alone: a client past either is answered 408 and disconnected.
 * connectionTimeout closes a socket silent for twice as long as a whole request may take (one
 * that does not read its response): longer than requestTimeout, so that a stalled request gets
 * its 408 first. keepAliveTimeout closes idle connections between requests.
 * Node checks the request and header deadlines only every connectionsCheckingInterval (30 s by
 * default, which would double a 30 s limit): check at least every half of the shorter one, and
 * every second at most, which costs one pass over the open connections.
 */
function slowClientLimits(config: Config) {
  const requestTimeout = config.requestTimeout * 1000;
  const headersTimeout = config.headersTimeout * 1000;
  return {
    requestTimeout,
    connectionTimeout: 2 * requestTimeout,
    keepAliveTimeout: config.keepAliveTimeout * 1000,
    http: { requestTimeout, headersTimeout, connectionsCheckingInterval: Math.min(1000, Math.floor(headersTimeout / 2)) },
  };
}

export interface HttpAppOptions {
  /** Where log lines go (default stdout); `grantry start --json` keeps stdout for its JSON. */
  logTo?: NodeJS.WritableStream;
}

export async function buildHttpApp(grantry: Grantry, options: HttpAppOptions = {}): Promise<FastifyInstance> {
  const { config } = grantry;
  const branding = new Branding(config);
  const app = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel, ...(options.logTo ? { stream: options.logTo } : {}) },
    // Two log lines per request would cost more than the token endpoint's own work.
    // (Through a LogController: the top-level disableRequestLogging option prints a deprecation warning.)
    logController: new LogController({ disableRequestLogging: config.logLevel !== 'debug' && config.logLevel !== 'trace' }),
    trustProxy: trustedProxies(config.trustProxy),
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
  grantry.metrics.instrumentHttp(app);
  await app.register(cookie);
  registerFormParser(app);
  registerJsonParser(app);

  const { logoOrigin } = branding;
  app.addHook('onSend', async (_request, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
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

  await app.register(tokenRoutes(ctx));
  await app.register(discoveryRoutes(ctx));
  for (const side of grantry.sides.all) {
    await app.register(loginRoutes(ctx, side));
    await app.register(authorizeRoutes(ctx, side));
    const api = side.name === 'backoffice' ? backofficeApiRoutes(ctx, side) : storefrontApiRoutes(ctx, side);
    await app.register(api, { prefix: side.apiPath });
    if (side.consolePath !== undefined) await app.register(consoleRoutes(ctx, side));
    await app.register(accountRoutes(ctx, side));
  }
  return app;
}
