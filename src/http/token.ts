/**
 * POST /oauth2-token: JSON (as in the original product) or form bodies (RFC 6749). Responses
 * carry Cache-Control: no-store; errors are RFC 6749 §5.2 JSON.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { parseBasicAuthorization } from '../oauth/client-authentication.js';
import { OAuthError } from '../oauth/errors.js';
import type { RawParams } from '../oauth/params.js';
import type { HttpContext } from './context.js';

export const TOKEN_PATH = '/oauth2-token';

const tokenResponseSchema = {
  200: {
    type: 'object',
    properties: {
      access_token: { type: 'string' },
      token_type: { type: 'string' },
      expires_in: { type: 'integer' },
      refresh_token: { type: 'string' },
      scope: { type: 'string' },
    },
    required: ['access_token', 'token_type', 'expires_in'],
  },
};

export function sendOAuthError(reply: FastifyReply, error: OAuthError): FastifyReply {
  reply.code(error.status).header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
  if (error.status === 401) {
    // RFC 6749 §5.2: a client that tried HTTP authentication must get the challenge back.
    reply.header('WWW-Authenticate', 'Basic realm="grantry", charset="UTF-8"');
  }
  return reply.type('application/json').send(error.toJSON());
}

export function tokenRoutes(ctx: HttpContext) {
  return async function plugin(app: FastifyInstance) {
    // Any other content type reaches the handler as a string and is refused there as invalid_request.
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, new UnsupportedBody(body as string)));

    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error instanceof OAuthError) return sendOAuthError(reply, error);
      const status = error.statusCode ?? 500;
      if (status >= 500) {
        request.log.error({ err: error }, 'token endpoint failure');
        return reply.code(500).header('Cache-Control', 'no-store').send({ error: 'server_error', error_description: 'the server could not handle the request' });
      }
      // Malformed JSON, oversized bodies and the like.
      const description = status === 413 ? 'the request body is too large' : 'the request body could not be parsed';
      return sendOAuthError(reply, new OAuthError('invalid_request', description, status));
    });

    app.post(TOKEN_PATH, { schema: { response: tokenResponseSchema } }, async (request, reply) => {
      const body = request.body;
      if (body === undefined || body === null || body instanceof UnsupportedBody || typeof body !== 'object' || Array.isArray(body)) {
        throw OAuthError.invalidRequest('send the parameters as application/x-www-form-urlencoded or application/json');
      }
      const basic = parseBasicAuthorization(request.headers.authorization);
      const response = await ctx.grantry.tokenEndpoint.handle(body as RawParams, basic);
      return reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send(response);
    });
  };
}

class UnsupportedBody {
  constructor(readonly text: string) {}
}
