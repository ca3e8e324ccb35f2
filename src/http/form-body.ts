/**
 * application/x-www-form-urlencoded bodies, parsed so that a repeated parameter becomes an
 * array: the protocol core refuses repeated parameters (RFC 6749 §3.1) and must see them.
 */
import type { FastifyInstance } from 'fastify';

/** No form of ours has more than a dozen fields; a thousand is hostile. */
export const MAX_FORM_FIELDS = 100;

export class TooManyFieldsError extends Error {
  readonly statusCode = 400;
  constructor() {
    super(`a form body may have at most ${MAX_FORM_FIELDS} fields`);
  }
}

/** Parses a form body; linear in its size (arrays grow in place), with a bounded field count. */
export function parseForm(body: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  let fields = 0;
  for (const [name, value] of new URLSearchParams(body)) {
    if (++fields > MAX_FORM_FIELDS) throw new TooManyFieldsError();
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
  }
  return out;
}

export function registerFormParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    try {
      done(null, parseForm(body as string));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
}
