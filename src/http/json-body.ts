/**
 * application/json bodies, parsed so that a repeated key is seen, as form-body.ts does for
 * forms. JSON.parse keeps the last of two equal keys, so a proxy or firewall that reads the
 * first would judge another request than the one Grantry serves. A key repeated at the top
 * level becomes the array of its values, the shape a repeated form field has, which the
 * protocol core refuses as "must not be repeated" (RFC 6749 §3.1) in each endpoint's own
 * error format; a key repeated inside a nested object is refused outright.
 */
import type { FastifyInstance } from 'fastify';

export class RepeatedNestedKeyError extends Error {
  readonly statusCode = 400;
  constructor() {
    // Fixed wording: the key is request text, not something to repeat back.
    super('the JSON body repeats a key inside a nested object');
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/**
 * The keys repeated in the top-level object of `text`, each with the [start, end) offsets of all
 * its values; undefined when none is. `text` must be valid JSON (parse it first): one pass, so
 * linear in its length. Keys are compared decoded ("a" and "\u0061" are the same key).
 */
export function repeatedTopLevelKeys(text: string): Map<string, [number, number][]> | undefined {
  // One frame per open object or array: an object's keys so far, and whether a key comes next.
  const frames: { keys: Set<string> | undefined; keyNext: boolean }[] = [];
  const topValues = new Map<string, [number, number][]>();
  let repeated: Set<string> | undefined;
  let topKey: string | undefined;
  let valueStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let end = i + 1;
      while (text.charCodeAt(end) !== QUOTE) end += text.charCodeAt(end) === BACKSLASH ? 2 : 1;
      const frame = frames[frames.length - 1];
      if (frame?.keys && frame.keyNext) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        if (frame.keys.has(key)) {
          if (frames.length > 1) throw new RepeatedNestedKeyError();
          (repeated ??= new Set()).add(key);
        } else frame.keys.add(key);
        frame.keyNext = false;
        if (frames.length === 1) topKey = key;
      }
      i = end;
    } else if (c === OPEN_OBJECT) frames.push({ keys: new Set(), keyNext: true });
    else if (c === OPEN_ARRAY) frames.push({ keys: undefined, keyNext: false });
    else if (c === COLON && frames.length === 1) valueStart = i + 1;
    else if (c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      // The end of a top-level member's value.
      if (frames.length === 1 && topKey !== undefined) {
        const spans = topValues.get(topKey);
        if (spans) spans.push([valueStart, i]);
        else topValues.set(topKey, [[valueStart, i]]);
        topKey = undefined;
      }
      if (c === COMMA) {
        const frame = frames[frames.length - 1];
        if (frame?.keys) frame.keyNext = true;
      } else frames.pop();
    }
  }
  if (!repeated) return undefined;
  return new Map([...repeated].map((key) => [key, topValues.get(key) ?? []]));
}

/** `value` (the parsed `text`) with each repeated top-level key holding the array of its values. */
export function withRepeatedKeys(text: string, value: unknown): unknown {
  const repeated = repeatedTopLevelKeys(text);
  if (!repeated) return value;
  for (const [key, spans] of repeated) {
    // defineProperty, not assignment: no key can reach a prototype (though __proto__ is refused before).
    Object.defineProperty(value, key, { value: spans.map(([start, end]) => JSON.parse(text.slice(start, end)) as unknown), enumerable: true, writable: true, configurable: true });
  }
  return value;
}

export function registerJsonParser(app: FastifyInstance): void {
  // Fastify's own parser first: its answers to malformed and empty bodies, and its refusal of
  // __proto__ and constructor.prototype keys (prototype poisoning).
  const parseSafely = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // JSON:API documents are JSON, read the same way (the API checks which media type it takes).
  app.addContentTypeParser(['application/json', 'application/vnd.api+json'], { parseAs: 'string', bodyLimit: 64 * 1024 }, (request, body, done) => {
    // JSON:API clients name their media type on every request, a DELETE or a body-less action
    // too: an empty body there is no body, not malformed JSON (the API says what it needed).
    if (body === '' && request.headers['content-type']?.toLowerCase().startsWith('application/vnd.api+json')) return done(null, undefined);
    parseSafely(request, body as string, (error, value) => {
      if (error) return done(error, undefined);
      try {
        done(null, withRepeatedKeys(body as string, value));
      } catch (e) {
        done(e as Error, undefined);
      }
    });
  });
}
