/**
 * Errors raised before a route's own handler runs (an undecodable path, an unknown path, a body
 * no parser accepts, a request over the size limit) are answered in the format of the route
 * group the request was aimed at, as its documentation says: JSON:API for the APIs, RFC 6749
 * JSON for the token endpoints, an HTML page everywhere else. Never a stack trace, and never
 * the request's own text (a path can carry markup).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../oauth/errors.js';
import { INTROSPECTION_PATH, REVOCATION_PATH, TOKEN_PATH } from '../oauth/metadata.js';
import type { Side } from '../oauth/sides.js';
import { sendApiError } from './api/json-api.js';
import { sendPage } from './page-headers.js';
import { sendOAuthError } from './token.js';
import { errorPage } from './views/pages.js';

type Format = 'api' | 'oauth' | 'page';

const TOKEN_ENDPOINTS = new Set([TOKEN_PATH, REVOCATION_PATH, INTROSPECTION_PATH]);

/** Which error format a request path is owed. */
export function errorFormatOf(url: string, sides: readonly Side[]): Format {
  const path = url.split('?', 1)[0] as string;
  if (TOKEN_ENDPOINTS.has(path)) return 'oauth';
  if (sides.some((s) => path === s.apiPath || path.startsWith(`${s.apiPath}/`))) return 'api';
  return 'page';
}

/** Plain words for the statuses a request can earn before any route decides. */
function describe(status: number): { title: string; detail: string } {
  if (status === 404) return { title: 'Not found', detail: 'There is nothing at this address.' };
  if (status === 405) return { title: 'Method not allowed', detail: 'This address does not take that kind of request.' };
  if (status === 408) return { title: 'Request timeout', detail: 'The request took too long to arrive.' };
  if (status === 413) return { title: 'Request too large', detail: 'The request body is too large.' };
  if (status === 415) return { title: 'Unsupported content type', detail: 'The request body must be a form (application/x-www-form-urlencoded) or JSON.' };
  if (status >= 500) return { title: 'Server error', detail: 'The server could not handle the request.' };
  return { title: 'Bad request', detail: 'The request could not be read.' };
}

export function sendErrorInFormat(format: Format, reply: FastifyReply, status: number): FastifyReply {
  const { title, detail } = describe(status);
  if (format === 'api') return sendApiError(reply, status, title, detail.toLowerCase().replace(/\.$/, ''));
  if (format === 'oauth') {
    const error = status >= 500 ? 'server_error' : 'invalid_request';
    return sendOAuthError(reply, new OAuthError(error, detail.toLowerCase().replace(/\.$/, ''), status));
  }
  return sendPage(reply, status, errorPage(title, detail));
}

/**
 * The server's error handler, also reached by errors that a route group's own handler passes
 * on. 5xx are logged with their cause; the client learns only the status.
 */
export function errorHandler(sides: readonly Side[]) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    return sendErrorInFormat(errorFormatOf(request.url, sides), reply, status);
  };
}
