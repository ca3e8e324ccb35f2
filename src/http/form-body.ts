/**
 * application/x-www-form-urlencoded bodies, parsed so that a repeated parameter becomes an
 * array: the protocol core refuses repeated parameters (RFC 6749 §3.1) and must see them.
 */
import type { FastifyInstance } from 'fastify';

export function parseForm(body: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of new URLSearchParams(body)) {
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

export function registerFormParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    done(null, parseForm(body as string));
  });
}
