/**
 * JSON:API plumbing shared by both sides' APIs: the media type, error documents, and the
 * bearer-token guard (RFC 6750) that admits only tokens minted for this side's API.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ValidatedAccessToken } from '../../oauth/access-tokens.js';
import { OAuthError } from '../../oauth/errors.js';
import { protectedResourceMetadataPath } from '../../oauth/metadata.js';
import type { Side } from '../../oauth/sides.js';
import { textProblem } from '../../security/input.js';
import type { HttpContext } from '../context.js';

export const JSON_API = 'application/vnd.api+json';

declare module 'fastify' {
  interface FastifyRequest {
    accessToken?: ValidatedAccessToken;
  }
}

export function sendDocument(reply: FastifyReply, status: number, document: unknown): FastifyReply {
  return reply.code(status).header('Content-Type', JSON_API).header('Cache-Control', 'no-store').send(Buffer.from(JSON.stringify(document)));
}

export function sendApiError(reply: FastifyReply, status: number, title: string, detail: string, code?: string): FastifyReply {
  return sendDocument(reply, status, { errors: [{ status: String(status), ...(code ? { code } : {}), title, detail }] });
}

/**
 * Registers the bearer guard, JSON:API errors, not-found handling and CORS on an API plugin
 * scope (registered with the side's API path as prefix).
 */
export function protectApi(app: FastifyInstance, ctx: HttpContext, side: Side): void {
  // RFC 6750 §3 challenge, pointing at the RFC 9728 metadata (§5.1), with the error when a token was presented.
  const resourceMetadata = ctx.grantry.config.publicUrl + protectedResourceMetadataPath(side);
  const challenge = (error?: OAuthError) =>
    `Bearer realm="grantry", resource_metadata="${resourceMetadata}"` +
    (error ? `, error="${error.error}", error_description="${error.description}"` : '');

  ctx.cors.apply(app, ['/*'], 'GET');
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method === 'OPTIONS') return;
    const query = request.query as Record<string, unknown>;
    // RFC 6750 §2.3 allows the query string; RFC 9700 §2.4.3 forbids it: URLs end up in logs.
    if (query && Object.hasOwn(query, 'access_token')) {
      const error = OAuthError.invalidRequest('access tokens are accepted only in the Authorization header');
      reply.header('WWW-Authenticate', challenge(error));
      return sendApiError(reply, 400, 'Bad request', error.description, error.error);
    }
    const header = request.headers.authorization;
    // Our access tokens are JWTs: base64url parts joined by dots, never padded (RFC 7515 §2).
    // RFC 6750's wider b64token syntax ("~+/" and "=") cannot spell one of them.
    const match = header ? /^Bearer +([A-Za-z0-9\-_.]+) *$/i.exec(header) : null;
    if (!header || !/^bearer(\s|$)/i.test(header)) {
      reply.header('WWW-Authenticate', challenge());
      return sendApiError(reply, 401, 'Unauthorized', 'an access token is required in the Authorization header');
    }
    try {
      if (!match) throw OAuthError.invalidToken('the Authorization header is not a well-formed bearer token');
      request.accessToken = await ctx.grantry.accessTokens.validate(match[1] as string, side);
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      reply.header('WWW-Authenticate', challenge(e));
      return sendApiError(reply, 401, 'Unauthorized', e.description, e.error);
    }
    // The text rule of every OAuth parameter, for the path and the query: no NUL reaches the
    // database. In this hook rather than one of its own: a hook more costs every API request.
    if (!isText(request.params) || !isText(query)) {
      return sendApiError(reply, 400, 'Bad request', 'a path or query parameter is too long or contains characters that are not allowed');
    }
  });

  app.setNotFoundHandler((_request, reply) => sendApiError(reply, 404, 'Not found', 'no such resource'));
  // Other errors reach the server's handler, which answers paths of an API in JSON:API.
}

/** True when every name and value of parsed path or query parameters passes the shared text check. */
function isText(parameters: unknown): boolean {
  for (const [name, value] of Object.entries((parameters ?? {}) as Record<string, unknown>)) {
    if (textProblem(name)) return false;
    for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string' && textProblem(v)) return false;
  }
  return true;
}

/** page[number] and page[size] (JSON:API pagination), validated. */
export function pagination(query: Record<string, unknown>): { number: number; size: number } | string {
  const read = (name: string, fallback: number, max: number) => {
    const raw = query[name];
    if (raw === undefined) return fallback;
    if (typeof raw !== 'string' || !/^\d{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) return undefined;
    return Number(raw);
  };
  const number = read('page[number]', 1, 1_000_000);
  const size = read('page[size]', 10, 100);
  if (number === undefined) return 'page[number] must be a whole number of at least 1';
  if (size === undefined) return 'page[size] must be a whole number from 1 to 100';
  return { number, size };
}
