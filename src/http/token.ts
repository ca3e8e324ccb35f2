/**
 * The token endpoint and its siblings, revocation (RFC 7009) and introspection (RFC 7662):
 * JSON (as in the original product) or form bodies (RFC 6749), client authentication shared,
 * Cache-Control: no-store on every answer, errors as RFC 6749 §5.2 JSON.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseBasicAuthorization } from '../oauth/client-authentication.js';
import { OAuthError } from '../oauth/errors.js';
import { INTROSPECTION_PATH, REVOCATION_PATH, TOKEN_PATH } from '../oauth/metadata.js';
import type { RawParams } from '../oauth/params.js';
import type { HttpContext } from './context.js';
import { RepeatedNestedKeyError } from './json-body.js';

const tokenResponseSchema = {
  200: {
    type: 'object',
    properties: {
      access_token: { type: 'string' },
      token_type: { type: 'string' },
      expires_in: { type: 'integer' },
      refresh_token: { type: 'string' },
      scope: { type: 'string' },
      id_token: { type: 'string' },
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
  if (error.retryAfter !== undefined) reply.header('Retry-After', String(error.retryAfter));
  return reply.type('application/json').send(error.toJSON());
}

class UnsupportedBody {}

/** The body as parameters, or invalid_request for anything but a form or a JSON object. */
function bodyParams(request: FastifyRequest): RawParams {
  const body = request.body;
  if (body === undefined || body === null || body instanceof UnsupportedBody || typeof body !== 'object' || Array.isArray(body)) {
    throw OAuthError.invalidRequest('send the parameters as application/x-www-form-urlencoded or application/json');
  }
  return body as RawParams;
}

const noStore = (reply: FastifyReply) => reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');

export function tokenRoutes(ctx: HttpContext) {
  const { grantry } = ctx;
  // request.ip is the peer, or, behind the proxies trust_proxy names, the right-most address in
  // X-Forwarded-For that is not one of them.
  const authenticate = (request: FastifyRequest) => grantry.tokenEndpoint.authenticate(bodyParams(request), parseBasicAuthorization(request.headers.authorization), request.ip);

  return async function plugin(app: FastifyInstance) {
    // Any other content type reaches the handler as a marker and is refused there as invalid_request.
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, _body, done) => done(null, new UnsupportedBody()));
    ctx.cors.apply(app, [TOKEN_PATH, REVOCATION_PATH, INTROSPECTION_PATH], 'POST');

    app.setErrorHandler((error: FastifyError, _request, reply) => {
      if (error instanceof OAuthError) return sendOAuthError(reply, error);
      if (error instanceof RepeatedNestedKeyError) return sendOAuthError(reply, OAuthError.invalidRequest(error.message));
      // Malformed JSON, oversized bodies, failures: the server's handler answers them in this
      // endpoint's format (error-format.ts), with fixed texts.
      throw error;
    });

    app.post(TOKEN_PATH, { schema: { response: tokenResponseSchema } }, async (request, reply) => {
      const response = await grantry.tokenEndpoint.handle(bodyParams(request), parseBasicAuthorization(request.headers.authorization), request.ip);
      return noStore(reply).send(response);
    });

    app.post(REVOCATION_PATH, async (request, reply) => {
      const { client, params } = await authenticate(request);
      await grantry.revocation.revoke(client, params, undefined, request.ip);
      return noStore(reply).code(200).send();
    });

    app.post(INTROSPECTION_PATH, async (request, reply) => {
      const { client, params } = await authenticate(request);
      return noStore(reply).send(await grantry.introspection.introspect(client, params));
    });
  };
}
