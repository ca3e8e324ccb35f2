/**
 * GET|POST {side}/oauth2-token/userinfo (OpenID Connect Core §5.3): the signed-in user's claims
 * for a bearer access token with openid (in the Authorization header, or a POST's form body),
 * as JSON. Errors are RFC 6750 §3 challenges. Readable
 * cross-origin: single-page apps ask it directly.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../oauth/errors.js';
import type { Side } from '../oauth/sides.js';
import { BEARER_TOKEN, bearerTokenOf } from './bearer.js';
import type { HttpContext } from './context.js';

/**
 * RFC 6750 §2.2: a POST may carry the token as the form parameter access_token instead of the
 * header (OpenID Connect Core §5.3.1 allows either); never both, and never in the query.
 */
function bodyToken(request: FastifyRequest): string | undefined {
  // Media types are case-insensitive (RFC 9110 §8.3.1).
  const type = request.headers['content-type']?.split(';', 1)[0]?.trim().toLowerCase();
  if (request.method !== 'POST' || type !== 'application/x-www-form-urlencoded') return undefined;
  const value = (request.body as Record<string, unknown> | undefined)?.access_token;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !BEARER_TOKEN.test(value)) throw OAuthError.invalidToken('the access_token parameter is not a well-formed bearer token');
  return value;
}

export function userinfoRoutes(ctx: HttpContext, side: Side) {
  const { grantry } = ctx;
  const challenge = (error?: OAuthError) => `Bearer realm="grantry"${error ? `, error="${error.error}", error_description="${error.description}"` : ''}`;

  async function handle(request: FastifyRequest, reply: FastifyReply) {
    // Personal data: no cache keeps it (Core §5.3.2 responses are per user).
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    try {
      const [inHeader, inBody] = [bearerTokenOf(request), bodyToken(request)];
      if (inHeader !== undefined && inBody !== undefined) throw OAuthError.invalidRequest('send the access token once: in the Authorization header or in the body, not both');
      const token = inHeader ?? inBody;
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
