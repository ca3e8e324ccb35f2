/**
 * What every HTTP listener Grantry opens (the main server and the metrics listener) does at the
 * socket level: no socket is ever held without a deadline, and a request Node cannot parse gets
 * its status alone.
 */
import type { FastifyInstance } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config/index.js';

/**
 * The timeouts of an HTTP server, as Fastify options. requestTimeout bounds the whole request
 * (headers and body), headersTimeout the headers alone: a client past either is answered 408
 * and disconnected. connectionTimeout closes a socket silent for twice as long as a whole
 * request may take (one that does not read its response): longer than requestTimeout, so that a
 * stalled request gets its 408 first. keepAliveTimeout closes idle connections between requests.
 * Node checks the request and header deadlines only every connectionsCheckingInterval (30 s by
 * default, which would double a 30 s limit): check at least every half of the shorter one, and
 * every second at most, which costs one pass over the open connections.
 */
export function slowClientLimits(config: Pick<Config, 'requestTimeout' | 'headersTimeout' | 'keepAliveTimeout'>) {
  const requestTimeout = config.requestTimeout * 1000;
  const headersTimeout = config.headersTimeout * 1000;
  return {
    requestTimeout,
    connectionTimeout: 2 * requestTimeout,
    keepAliveTimeout: config.keepAliveTimeout * 1000,
    http: { requestTimeout, headersTimeout, connectionsCheckingInterval: Math.min(1000, Math.floor(headersTimeout / 2)) },
  };
}

/** The status Node gives each error of its HTTP parser (as its own default answer does). */
function clientErrorStatus(code: string | undefined): number {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 413;
  return 400;
}

/**
 * Answers a request that Node's HTTP parser refused before any route (request line and headers
 * over 16 KiB, text that is not HTTP, a request past request_timeout): its status alone, with no
 * body, and the connection closed. There is no route group to answer for yet, and Fastify's
 * default answer has a JSON body, which a HEAD request must never get (RFC 9110 §9.3.2: its
 * client would read the body as the next response).
 */
export function answerClientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  this.log.trace({ err: error }, 'client error');
  // As Node does: never write into a response already on its way (its headers sent).
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const status = clientErrorStatus(error.code);
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  }
  socket.destroy(error);
}
