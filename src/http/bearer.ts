/**
 * The bearer token of a request (RFC 6750 §2.1), for the APIs and UserInfo: in the
 * Authorization header only (RFC 9700 §2.4.3 forbids the query string: URLs end up in logs).
 */
import type { FastifyRequest } from 'fastify';
import { OAuthError } from '../oauth/errors.js';

/**
 * Our access tokens are JWTs: base64url parts joined by dots, never padded (RFC 7515 §2).
 * RFC 6750's wider b64token syntax ("~+/" and "=") cannot spell one of them.
 */
export const BEARER_TOKEN = /^[A-Za-z0-9\-_.]+$/;

/** The token; `undefined` when the request has no bearer credentials at all (RFC 6750 §3.1: a challenge without an error). */
export function bearerTokenOf(request: FastifyRequest): string | undefined {
  const query = request.query as Record<string, unknown> | undefined;
  if (query && Object.hasOwn(query, 'access_token')) throw OAuthError.invalidRequest('access tokens are accepted only in the Authorization header');
  const header = request.headers.authorization;
  if (!header || !/^bearer(\s|$)/i.test(header)) return undefined;
  const token = /^Bearer +(\S+) *$/i.exec(header)?.[1];
  if (token === undefined || !BEARER_TOKEN.test(token)) throw OAuthError.invalidToken('the Authorization header is not a well-formed bearer token');
  return token;
}
