/**
 * The socket timeouts of every HTTP listener Grantry opens (the main server and the metrics
 * listener): no socket is ever held without a deadline.
 */
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
