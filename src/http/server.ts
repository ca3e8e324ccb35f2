/**
 * Builds the Fastify application: one plugin per route group and side. Parsing and rendering
 * live here; every decision is the protocol core's.
 */
import cookie from '@fastify/cookie';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import type { Grantry } from '../app.js';
import { backofficeApiRoutes } from './api/backoffice.js';
import { storefrontApiRoutes } from './api/storefront.js';
import { authorizeRoutes } from './authorize.js';
import { BrowserSessions } from './browser-session.js';
import type { HttpContext } from './context.js';
import { CorsPolicy } from './cors.js';
import { discoveryRoutes } from './discovery.js';
import { registerFormParser } from './form-body.js';
import { loginRoutes } from './login.js';
import { tokenRoutes } from './token.js';
import { STYLESHEET, STYLESHEET_PATH } from './views/layout.js';

export async function buildHttpApp(grantry: Grantry): Promise<FastifyInstance> {
  const { config } = grantry;
  const app = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    // Two log lines per request would cost more than the token endpoint's own work.
    // (Through a LogController: the top-level disableRequestLogging option prints a deprecation warning.)
    logController: new LogController({ disableRequestLogging: config.logLevel !== 'debug' && config.logLevel !== 'trace' }),
    trustProxy: config.trustProxy,
    bodyLimit: 64 * 1024,
    // No implicit HEAD routes: a HEAD on the authorize endpoint must not issue a code.
    exposeHeadRoutes: false,
    // A path Fastify cannot decode fails before any route: its default answer quotes the URL.
    frameworkErrors: (error, _request, reply) => {
      (reply as FastifyReply).code(error.statusCode ?? 400).type('text/plain; charset=utf-8').send('Bad request');
    },
    // Query strings such as page[number] stay flat keys; repeated keys become arrays.
    routerOptions: { maxParamLength: 200 },
  });
  await app.register(cookie);
  registerFormParser(app);

  app.addHook('onSend', async (_request, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
  });

  // Never a stack trace or internal message in a response.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.code(500).type('text/plain; charset=utf-8').send('Internal server error');
    }
    return reply.code(status).type('text/plain; charset=utf-8').send(status === 413 ? 'Request body too large' : 'Bad request');
  });

  const ctx: HttpContext = {
    grantry,
    browser: new BrowserSessions(grantry.repos.sessions, grantry.hasher, config.sessionTtl, config.publicUrl.startsWith('https:')),
    cors: new CorsPolicy(config),
  };

  app.get(STYLESHEET_PATH, async (_request, reply) =>
    reply.header('Content-Type', 'text/css; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(STYLESHEET),
  );

  await app.register(tokenRoutes(ctx));
  await app.register(discoveryRoutes(ctx));
  for (const side of grantry.sides.all) {
    await app.register(loginRoutes(ctx, side));
    await app.register(authorizeRoutes(ctx, side));
    const api = side.name === 'backoffice' ? backofficeApiRoutes(ctx, side) : storefrontApiRoutes(ctx, side);
    await app.register(api, { prefix: side.apiPath });
  }
  return app;
}
