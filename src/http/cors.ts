/**
 * CORS for the endpoints browsers' apps call directly: token, revocation, introspection,
 * metadata, JWKS and the APIs; never the authorize endpoints (RFC 9700 §2.6). No credentials
 * are allowed: these endpoints take tokens and client credentials, not cookies.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';

const BASE_HEADERS = ['Authorization', 'Content-Type', 'Accept'];

export class CorsPolicy {
  private readonly anyOrigin: boolean;
  private readonly origins: Set<string>;
  private readonly allowHeaders: string;

  constructor(private readonly config: Pick<Config, 'corsAllowedOrigins' | 'corsAllowedHeaders' | 'corsMaxAge'>) {
    this.anyOrigin = config.corsAllowedOrigins.includes('*');
    this.origins = new Set(config.corsAllowedOrigins);
    this.allowHeaders = [...new Set([...BASE_HEADERS, ...config.corsAllowedHeaders])].join(', ');
  }

  private allowedOrigin(request: FastifyRequest): string | undefined {
    const origin = request.headers.origin;
    if (!origin) return undefined;
    if (this.anyOrigin) return '*';
    return this.origins.has(origin) ? origin : undefined;
  }

  /** Adds CORS to every route of `app` (a plugin scope) and answers preflights for `paths`. */
  apply(app: FastifyInstance, paths: string[], methods: string): void {
    app.addHook('onRequest', async (request, reply) => {
      if (request.method === 'OPTIONS') return;
      const origin = this.allowedOrigin(request);
      reply.header('Vary', 'Origin');
      if (origin) reply.header('Access-Control-Allow-Origin', origin).header('Access-Control-Expose-Headers', 'WWW-Authenticate');
    });
    const preflight = async (request: FastifyRequest, reply: FastifyReply) => {
      const origin = this.allowedOrigin(request);
      reply.code(204).header('Vary', 'Origin');
      if (origin) {
        reply
          .header('Access-Control-Allow-Origin', origin)
          .header('Access-Control-Allow-Methods', methods)
          .header('Access-Control-Allow-Headers', this.allowHeaders)
          .header('Access-Control-Max-Age', String(this.config.corsMaxAge));
      }
      return reply.send();
    };
    for (const path of paths) app.options(path, preflight);
  }
}
