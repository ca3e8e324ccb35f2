/**
 * GET|POST {side}/oauth2-token/userinfo (OpenID Connect Core §5.3): the signed-in user's claims
 * for a bearer access token with openid, as JSON. Errors are RFC 6750 §3 challenges. Readable
 * cross-origin: single-page apps ask it directly.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../oauth/errors.js';
import type { Side } from '../oauth/sides.js';
import { bearerTokenOf } from './bearer.js';
import type { HttpContext } from './context.js';

export function userinfoRoutes(ctx: HttpContext, side: Side) {
  const { grantry } = ctx;
  const challenge = (error?: OAuthError) => `Bearer realm="grantry"${error ? `, error="${error.error}", error_description="${error.description}"` : ''}`;

  async function handle(request: FastifyRequest, reply: FastifyReply) {
    // Personal data: no cache keeps it (Core §5.3.2 responses are per user).
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    try {
      const token = bearerTokenOf(request);
      if (token === undefined) {
        return reply.code(401).header('WWW-Authenticate', challenge()).type('application/json').send({ error: 'invalid_token', error_description: 'an access token is required in the Authorization header' });
      }
      return reply.type('application/json').send(await grantry.userInfo.claims(token, side));
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      return reply.code(e.status).header('WWW-Authenticate', challenge(e)).type('application/json').send(e.toJSON());
    }
  }

  return async function plugin(app: FastifyInstance) {
    ctx.cors.apply(app, [side.userinfoPath], 'GET, POST');
    app.get(side.userinfoPath, handle);
    app.post(side.userinfoPath, handle);
  };
}
