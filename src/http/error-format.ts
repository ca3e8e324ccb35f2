/**
 * Errors raised before a route's own handler runs (an undecodable path, an unknown path, a body
 * no parser accepts, a request over the size limit) are answered in the format of the route
 * group the request was aimed at, as its documentation says: JSON:API for the APIs, RFC 6749
 * JSON for the token endpoints, an HTML page everywhere else. Never a stack trace, and never
 * the request's own text (a path can carry markup).
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../oauth/errors.js';
import { INTROSPECTION_PATH, REVOCATION_PATH, TOKEN_PATH } from '../oauth/metadata.js';
import type { Side } from '../oauth/sides.js';
import { describeUnavailability, unavailabilityOf } from '../storage/database-errors.js';
import { sendApiError } from './api/json-api.js';
import { sendPage } from './page-headers.js';
import { sendOAuthError } from './token.js';
import type { Brand, Branding } from './views/brand.js';
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

/**
 * The side whose brand a page at this path wears: the one whose prefix the path is under (the
 * back office's), else the unprefixed one.
 */
export function pageSideOf(url: string, sides: readonly Side[]): Side {
  const path = url.split('?', 1)[0] as string;
  const prefixed = sides.find((s) => s.prefix !== '' && (path === s.prefix || path.startsWith(`${s.prefix}/`)));
  return prefixed ?? (sides.find((s) => s.prefix === '') as Side);
}

/** Plain words for the statuses a request can earn before any route decides. */
function describe(status: number): { title: string; detail: string } {
  if (status === 404) return { title: 'Not found', detail: 'There is nothing at this address.' };
  if (status === 405) return { title: 'Method not allowed', detail: 'This address does not take that kind of request.' };
  if (status === 408) return { title: 'Request timeout', detail: 'The request took too long to arrive.' };
  if (status === 413) return { title: 'Request too large', detail: 'The request body is too large.' };
  if (status === 415) return { title: 'Unsupported content type', detail: 'The request body must be a form (application/x-www-form-urlencoded) or JSON.' };
  if (status === 503) return { title: 'Service unavailable', detail: 'The server is too busy to answer now; try again in a moment.' };
  if (status >= 500) return { title: 'Server error', detail: 'The server could not handle the request.' };
  return { title: 'Bad request', detail: 'The request could not be read.' };
}

/** An error page's next step: the request came from a link or a form, most likely an application's. */
const WHAT_NEXT = 'Check the address, or go back to the application and try again.';

/** `detailOverride`, when given, replaces the status's own plain words (a sentence without its final full stop). */
export function sendErrorInFormat(format: Format, reply: FastifyReply, status: number, brand: Brand, detailOverride?: string): FastifyReply {
  const { title } = describe(status);
  const detail = detailOverride === undefined ? describe(status).detail : `${detailOverride[0]?.toUpperCase()}${detailOverride.slice(1)}.`;
  if (format === 'api') return sendApiError(reply, status, title, detail.toLowerCase().replace(/\.$/, ''));
  if (format === 'oauth') {
    const error = status === 503 ? 'temporarily_unavailable' : status >= 500 ? 'server_error' : 'invalid_request';
    return sendOAuthError(reply, new OAuthError(error, detail.toLowerCase().replace(/\.$/, ''), status));
  }
  return sendPage(reply, status, errorPage(brand, { title, message: `${detail} ${WHAT_NEXT}`, technical: `HTTP ${status} ${STATUS_CODES[status] ?? ''}`.trim() }));
}

/**
 * Seconds a client is asked to wait after a 503 for an unavailable database: a lock is usually
 * free within one; a server restarting or a disk being freed takes longer.
 */
const RETRY_AFTER = { busy: 1, other: 5 } as const;

/**
 * The server's error handler, also reached by errors that a route group's own handler passes
 * on. 5xx are logged with their cause; the client learns only the status. A database that is
 * unavailable (database-errors.ts: still busy after its wait, PostgreSQL unreachable or
 * restarting, SQLite's disk full or read-only) is 503 with Retry-After and a description in
 * plain words (never the driver's message): the statement that failed did nothing, and the
 * request may be sent again (unless an earlier write of it was the spending of a single-use
 * code: see the README). Logged once per request, naming the cause.
 */
export function errorHandler(sides: readonly Side[], branding: Branding) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    // Only an error without a client-error status: a client that drops its connection while
    // sending a body ends the read with ECONNRESET too, which is its 400, not a database outage.
    const unavailable = error.statusCode === undefined || error.statusCode >= 500 ? unavailabilityOf(error) : undefined;
    if (unavailable) {
      if (unavailable === 'busy') request.log.warn({ err: error }, 'database busy');
      else request.log.error({ err: error }, `database unavailable: ${describeUnavailability(unavailable)}`);
      reply.header('Retry-After', String(unavailable === 'busy' ? RETRY_AFTER.busy : RETRY_AFTER.other));
      return sendErrorAt(request, reply, 503, sides, branding, describeUnavailability(unavailable));
    }
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    return sendErrorAt(request, reply, status, sides, branding);
  };
}

/** The error answer for a request's path: its route group's format, and on a page its side's brand. */
export function sendErrorAt(request: FastifyRequest, reply: FastifyReply, status: number, sides: readonly Side[], branding: Branding, detail?: string): FastifyReply {
  return sendErrorInFormat(errorFormatOf(request.url, sides), reply, status, branding.of(pageSideOf(request.url, sides).name), detail);
}
