/**
 * fast-check generators for the fuzzing of every endpoint: hostile values (NUL and control
 * characters, lone surrogates, invalid UTF-8, very long text, numbers around 2^31 and 2^53,
 * markup that would show an echo, JSON values of the wrong type), re-spellings of real tokens,
 * case and Unicode variants of real names, and the wire encodings of generated parameters
 * (forms, query strings and JSON written as raw text, so that repeated keys really are sent).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { SideName } from '../../src/oauth/sides.js';
import { basicHeader } from '../helpers/oauth.js';
import { ADMIN_PASSWORD } from '../helpers/server.js';
import type { FuzzFixture, FuzzRequest, SideFixture } from './harness.js';

/** Text no response may echo back in an error_description or as live markup in a page. */
export const MARKER = 'FZQ';

/**
 * A value already in wire form, inserted as is: `form` into a query string or form body,
 * `json` into a JSON body (both binary strings: one character per byte, so invalid UTF-8 stays).
 */
export class Raw {
  constructor(
    readonly form: string,
    readonly json: string,
  ) {}

  toString() {
    return `Raw(${JSON.stringify(this.form)})`;
  }
}

/** What a parameter can be given: text, or (in JSON bodies) any JSON value, or raw bytes. */
export type Value = string | number | boolean | null | Raw | Value[] | { [key: string]: Value };
/** A parameter as sent: names may repeat, in this order. */
export type Field = readonly [name: string, value: Value];

const CONTROL = ['\0', '\x01', '\x08', '\t', '\n', '\r', '\x1b', '\x7f', '\x85', '\xa0', '\u2028', '\u200b', '\u202e', '\ufeff', '\ufffe', '\uffff'];
const LONE_SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff'];

/** Bytes that are not (valid) UTF-8 once decoded, and broken percent-escapes. */
const RAW_FRAGMENTS: Raw[] = [
  new Raw('%00', '"\\u0000"'),
  new Raw('%ED%A0%80', '"\\ud800"'), // a lone surrogate, WTF-8 encoded
  new Raw('%ED%BF%BF', '"\\udfff"'),
  new Raw('%C0%80', '"\xc0\x80"'), // overlong NUL
  new Raw('%FF', '"\xff"'), // never valid in UTF-8
  new Raw('%F4%90%80%80', '"\xf4\x90\x80\x80"'), // beyond U+10FFFF
  new Raw('%E0%A4%A', '"\xe0\xa4"'), // truncated sequence
  new Raw('a%00b', '"a\\u0000b"'),
  new Raw('%', '"\\'),
  new Raw('%zz', '"\\x41"'),
  new Raw('%u0000', '"\\u00"'),
  new Raw('%EF%BB%BF', '"\xef\xbb\xbf"'), // BOM
  new Raw('+', '"\\uD83D\\uDE00"'),
  new Raw('%0D%0ALocation:%20https://evil.example/', '"\\r\\nLocation: https://evil.example/"'),
  new Raw('\xff\xfe', '"\xff\xfe"'), // raw bytes, not even percent-encoded
];

/** Numbers as text at and beyond the limits of 32-bit and 53-bit integers, and odd spellings. */
export const NUMERIC_TEXT = [
  '0', '-0', '1', '-1', '2147483647', '2147483648', '-2147483648', '-2147483649', '4294967295', '4294967296',
  '9007199254740991', '9007199254740992', '9007199254740993', '-9007199254740993', '99999999999', '18446744073709551616',
  '1e3', '1E+2', '1e309', '-1e309', '1.5', '1.0', '0.1e1', '0x10', '0o7', '0b1', '1_000', ' 1', '1 ', '+1', '00000001', '١', '１',
  'NaN', 'Infinity', '-Infinity', '123456789012345678901234567890',
];

/** JSON numbers that JavaScript cannot hold exactly, written as raw text. */
const RAW_JSON_NUMBERS = ['1e400', '-1e400', '-0', '1.0', '2147483648', '-2147483649', '9007199254740993', '123456789012345678901234567890', '0.1e1', '1E-400'].map(
  (n) => new Raw(n, n),
);

const NASTY = ['', ' ', '  ', 'null', 'undefined', 'true', '[]', '{}', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '../../etc/passwd', '..%2f..', 'https://evil.example/', '//evil.example', 'javascript:alert(1)', 'data:text/html,x', "' OR '1'='1", '"; DROP TABLE clients; --', '${7*7}', '{{7*7}}', '\\', '%', '%%', 'S256', 'plain', 'code', 'token', 'Bearer', 'Basic'];

const MARKUP_TEMPLATES = ['#', '<b>#</b>', '"><script>#</script>', "'><img src=x onerror=#>", 'javascript:#', '+1 (555) 010-#', '\r\nX-Injected: #', '#\u202e'];

/** Builds an arbitrary once: generators are built per group, never per generated value. */
const once = <T>(make: () => T): (() => T) => {
  let value: T | undefined;
  return () => (value ??= make());
};

/** Markup carrying the MARKER: seen raw in a page or inside an error_description, it was echoed. */
export const marker = once(() => fc.tuple(fc.constantFrom(...MARKUP_TEMPLATES), fc.nat(9999)).map(([template, n]) => template.replace('#', `${MARKER}${n}`)));

const charFrom = (chars: readonly string[]) => fc.constantFrom(...chars);

/** Any hostile text: control characters, lone surrogates, long, numeric, markup, Unicode. */
export const hostileText = once((): fc.Arbitrary<string> => {
  const mixed = fc.string({ unit: fc.oneof(charFrom(CONTROL), charFrom(LONE_SURROGATES), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), charFrom(['a', 'Z', '0', '-', '.', '%', '+', '='])), maxLength: 40 });
  // 10k to 20k characters, and now and then more than a body may hold (64 KiB).
  const long = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom('a', 'é', '𝕏', '\0', '\ud800', '<b>', '%', ' '), fc.integer({ min: 10_000, max: 20_000 })).map(([unit, n]) => unit.repeat(Math.ceil(n / unit.length))) },
    { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 70_000 }).map((n) => 'a'.repeat(n)) },
  );
  return fc.oneof(
    { weight: 4, arbitrary: mixed },
    { weight: 2, arbitrary: charFrom(CONTROL.flatMap((c) => [c, `a${c}`, `${c}a`, `admin${c}`])) },
    { weight: 2, arbitrary: charFrom(LONE_SURROGATES.flatMap((c) => [c, `a${c}b`, `${c}${c}`])) },
    { weight: 1, arbitrary: long },
    { weight: 2, arbitrary: fc.oneof(charFrom(NUMERIC_TEXT), fc.integer().map(String), fc.double().map(String), fc.bigInt().map(String)) },
    { weight: 3, arbitrary: marker() },
    { weight: 2, arbitrary: charFrom(NASTY) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  );
});

/** JSON values where text is expected: numbers (huge ones as raw text), booleans, null, arrays, objects. */
export const wrongJsonType = once(
  (): fc.Arbitrary<Value> =>
    fc.oneof(
      fc.constantFrom<Value>(null, true, false, 0, -1, 2147483648, 9007199254740992, 1.5, [], {}, [''], { toString: 'x' }),
      fc.constantFrom(...RAW_JSON_NUMBERS, new Raw('', '{"__proto__":{"admin":true}}')),
      fc.integer().map((n): Value => n),
      fc.double({ noNaN: true }).map((n): Value => n),
      fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('a', 'constructor', ''), fc.string({ maxLength: 5 })),
    ),
);

/** Fullwidth forms of ASCII letters, digits and punctuation (NFKC folds them back). */
export const fullwidth = (s: string) => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));

/** Case and Unicode variants of a real username or email: what a look-alike account would be. */
export function nameVariants(name: string): string[] {
  const at = name.indexOf('@');
  const variants = [
    name.toUpperCase(),
    name.charAt(0).toUpperCase() + name.slice(1),
    fullwidth(name),
    fullwidth(name.slice(0, 1)) + name.slice(1),
    `${name}.`,
    ` ${name}`,
    `${name} `,
    `${name}\0`,
    `${name}\u200b`,
    name.normalize('NFD').replace(/a/, 'a\u0301'),
    name.replace(/i/, 'İ').replace(/k/, '\u212a'),
    name.replace(/a/, 'а'), // Cyrillic a
    at > 0 ? `${name.slice(0, at)}@${name.slice(at + 1).toUpperCase()}` : `${name}@example.com`,
    at > 0 ? `${name.slice(0, at)}＠${name.slice(at + 1)}` : name.repeat(2),
  ];
  return [...new Set(variants.filter((v) => v !== name))];
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Changes bits of the last character that decoding drops: same bytes, non-canonical text. */
function withTrailingBits(part: string): string | undefined {
  const unused = part.length % 4 === 2 ? 4 : part.length % 4 === 3 ? 2 : 0;
  const last = B64URL.indexOf(part.slice(-1));
  if (unused === 0 || last < 0) return undefined;
  return part.slice(0, -1) + B64URL.charAt(last ^ 1);
}

/**
 * Other spellings of a real token (a JWT or an opaque one) that must not be accepted: padding,
 * `~`, `+/` for `-_`, changed unused trailing bits in any part, case and whitespace changes,
 * truncation and extension. Never the token itself.
 */
export function tokenRespellings(token: string): string[] {
  const parts = token.split('.');
  const respell = (i: number, f: (p: string) => string | undefined) => {
    const p = parts[i];
    const changed = p === undefined ? undefined : f(p);
    return changed === undefined ? undefined : parts.map((q, j) => (j === i ? changed : q)).join('.');
  };
  const candidates: (string | undefined)[] = [
    `${token}=`,
    `${token}==`,
    `${token}~`,
    `${token}.`,
    `${token}%20`,
    token.replace(/-/g, '+').replace(/_/g, '/'),
    token.replace(/-/, '+'),
    token.replace(/_/, '/'),
    token.toUpperCase(),
    token.toLowerCase(),
    token.slice(0, -1),
    `${token}A`,
    `.${token}`,
    parts.slice(0, 2).join('.'),
    `${token}\0`,
    fullwidth(token.slice(0, 1)) + token.slice(1),
  ];
  for (let i = 0; i < parts.length; i++) {
    candidates.push(respell(i, withTrailingBits), respell(i, (p) => `${p}=`), respell(i, (p) => `${p}==`), respell(i, (p) => (p.length % 4 === 0 ? undefined : `${p}${'='.repeat(4 - (p.length % 4))}`)));
  }
  return [...new Set(candidates.filter((c): c is string => c !== undefined && c !== token))];
}

/** One of the re-spellings of one of `tokens`. */
export const respelledFrom = (tokens: readonly string[]) => fc.constantFrom(...tokens.flatMap(tokenRespellings));

/** Header values must be Latin-1 without CR, LF or NUL (node refuses to send others). */
export const headerSafe = (value: string) => value.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');

/** The one origin the fuzzing server lets call its CORS endpoints from a browser. */
export const CORS_ORIGIN = 'https://app.example';

/**
 * The headers of a CORS preflight, each present or not: the allowed origin, near misses of it
 * (which must not be allowed), other origins and hostile text; any method; any header names.
 */
const preflightHeaders = once(() => {
  const hostileHeader = hostileText().map((h) => headerSafe(h.slice(0, 300)));
  const origin = fc.oneof(
    { weight: 3, arbitrary: fc.constant(CORS_ORIGIN) },
    {
      weight: 3,
      arbitrary: fc.constantFrom('https://APP.example', 'https://app.example.', 'https://app.example:443', `${CORS_ORIGIN}/`, 'http://app.example', 'https://app.example.evil.example', 'https://evil.example', 'null', '*', '', `${CORS_ORIGIN}, https://evil.example`),
    },
    { weight: 2, arbitrary: hostileHeader },
  );
  const method = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'post', 'TRACE', '') }, { weight: 1, arbitrary: hostileHeader });
  const headerNames = fc.oneof(
    { weight: 3, arbitrary: fc.subarray(['authorization', 'content-type', 'accept', 'x-requested-with', 'cookie', 'dpop', '*']).map((names) => names.join(', ')) },
    { weight: 1, arbitrary: hostileHeader },
  );
  return fc.record({ origin, 'access-control-request-method': method, 'access-control-request-headers': headerNames }, { requiredKeys: [] });
});

/** A request's headers without those that describe a body. */
const withoutBody = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'content-type'));

/**
 * A group's requests, one in six of them sent as HEAD (the same path and headers, no body) or as
 * a CORS preflight to the same path (OPTIONS with Origin and Access-Control-Request-Method and
 * -Headers, now and then with the request's cookies and Authorization too).
 */
export function withHeadAndPreflight(requests: fc.Arbitrary<FuzzRequest>): fc.Arbitrary<FuzzRequest> {
  const head = requests.map((r): FuzzRequest => ({ method: 'HEAD', path: r.path, headers: withoutBody(r.headers), kind: r.kind, side: r.side }));
  const preflight = fc
    .tuple(requests, preflightHeaders(), fc.boolean())
    .map(([r, headers, credentials]): FuzzRequest => ({ method: 'OPTIONS', path: r.path, headers: { ...(credentials ? withoutBody(r.headers) : {}), ...headers }, kind: r.kind, side: r.side }));
  return fc.oneof({ weight: 10, arbitrary: requests }, { weight: 1, arbitrary: head }, { weight: 1, arbitrary: preflight });
}

/** A parameter value: usually a real one (or a variant of it), often hostile, sometimes raw bytes or (JSON) the wrong type. */
export function valueArb(pool: readonly string[], options: { json?: boolean } = {}): fc.Arbitrary<Value> {
  const real = pool.length > 0 ? charFrom(pool) : fc.constant('');
  const variants = pool.flatMap((v) => [...nameVariants(v), ...tokenRespellings(v)]);
  return fc.oneof(
    { weight: 2, arbitrary: real },
    { weight: variants.length ? 2 : 0, arbitrary: variants.length ? charFrom(variants) : real },
    { weight: 5, arbitrary: hostileText() },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_FRAGMENTS) },
    { weight: options.json ? 2 : 0, arbitrary: wrongJsonType() },
  );
}

/** Parameter names: the endpoint's own, re-spelled ones, and names that poison naive objects. */
function nameArb(names: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: charFrom(names) },
    { weight: 2, arbitrary: charFrom(names.flatMap((n) => [n.toUpperCase(), `${n} `, ` ${n}`, `${n}[]`, `${n}\0`, fullwidth(n), `${n}\ud800`])) },
    { weight: 2, arbitrary: charFrom(['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', '[]', 'a'.repeat(300)]) },
    { weight: 1, arbitrary: hostileText().map((s) => s.slice(0, 300)) },
  );
}

type Mutation =
  | { op: 'set'; at: number; value: Value }
  | { op: 'delete'; at: number }
  | { op: 'repeat'; at: number; value: Value | null }
  | { op: 'add'; name: string; value: Value }
  | { op: 'rename'; at: number; name: string };

/**
 * A valid request (its `fields`) with up to `max` mutations: a value replaced, a parameter
 * dropped, repeated (with the same or another value), added or renamed. Starting from valid
 * requests lets the hostile part reach storage instead of failing the first check.
 */
export function mutated<T extends { fields: Field[] }>(base: fc.Arbitrary<T>, names: readonly string[], pool: readonly string[], options: { json?: boolean; max?: number } = {}): fc.Arbitrary<T> {
  const value = valueArb(pool, options);
  const name = nameArb(names);
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), at: fc.nat(), value }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('repeat' as const), at: fc.nat(), value: fc.option(value, { nil: null }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('add' as const), name, value }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('rename' as const), at: fc.nat(), name }) },
  );
  return fc.tuple(base, fc.array(mutation, { maxLength: options.max ?? 3 })).map(([request, mutations]) => {
    const out: Field[] = [...request.fields];
    for (const m of mutations) {
      if (m.op === 'add') {
        out.push([m.name, m.value]);
        continue;
      }
      if (out.length === 0) continue;
      const i = m.at % out.length;
      const [fieldName, current] = out[i] as Field;
      if (m.op === 'set') out[i] = [fieldName, m.value];
      else if (m.op === 'delete') out.splice(i, 1);
      else if (m.op === 'repeat') out.push([fieldName, m.value ?? current]);
      else out[i] = [m.name, current];
    }
    return { ...request, fields: out };
  });
}

/** Plain parameter lists with mutations. */
export const mutatedFields = (base: fc.Arbitrary<Field[]>, names: readonly string[], pool: readonly string[], options: { json?: boolean; max?: number } = {}) =>
  mutated(base.map((fields) => ({ fields })), names, pool, options).map((r) => r.fields);

/** Names that appear more than once. */
export function repeatedNames(fields: readonly Field[]): Set<string> {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const [name] of fields) (seen.has(name) ? repeated : seen).add(name);
  return repeated;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Percent-encodes text as UTF-8, and lone surrogates as their WTF-8 bytes (as a hostile client would). */
export function percentEncode(text: string): string {
  let out = '';
  let last = 0;
  for (const match of text.matchAll(LONE_SURROGATE)) {
    const c = match[0].charCodeAt(0);
    const bytes = [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)];
    out += encodeURIComponent(text.slice(last, match.index)) + bytes.map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    last = match.index + 1;
  }
  return out + encodeURIComponent(text.slice(last));
}

/** A value as form or query text (a binary string): raw fragments as they are, JSON-only values as their text. */
function formText(value: Value): string {
  if (value instanceof Raw) return value.form;
  if (typeof value === 'string') return percentEncode(value);
  return percentEncode(JSON.stringify(value) ?? String(value));
}

/** `a=1&a=2&b=...` in order, repeats included; a binary string. */
export function encodeForm(fields: readonly Field[]): string {
  return fields.map(([name, value]) => `${percentEncode(name)}=${formText(value)}`).join('&');
}

/**
 * Parameters as a query string. A request target is ASCII (RFC 9112 §3.2): raw bytes of the
 * fragments are percent-encoded there, or the HTTP parser would refuse the request line itself.
 */
export const encodeQuery = (fields: readonly Field[]) => asciiTarget(encodeForm(fields));
const asciiTarget = (text: string) => text.replace(/[\x80-\xff]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** A JSON value as raw text (a binary string): strings as JSON.stringify escapes them (lone surrogates as \ud800). */
function jsonText(value: Value): string {
  if (value instanceof Raw) return value.json;
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  if (value !== null && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${utf8(JSON.stringify(k))}:${jsonText(v)}`).join(',')}}`;
  return utf8(JSON.stringify(value) ?? 'null');
}

/** UTF-8 bytes of text, as a binary string. */
const utf8 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

/** A JSON object written as text, so repeated names stay repeated on the wire; a binary string. */
export function encodeJson(fields: readonly Field[]): string {
  return `{${fields.map(([name, value]) => `${utf8(JSON.stringify(name))}:${jsonText(value)}`).join(',')}}`;
}

/** A random-looking but valid JSON document that is not an object, or broken JSON. */
export const oddJsonBody = once(() =>
  fc.oneof(
    fc.constantFrom('', 'null', '[]', '"grant_type"', '1', 'true', '{', '{"grant_type":', '{"a":1}}', '{"a":1,}', "{'a':1}", '{"a":NaN}', '{"__proto__":{"grant_type":"client_credentials"}}', '\xef\xbb\xbf{}', '{"a":"\\ud800"}', `{"a":${'['.repeat(5000)}`),
    fc.json().map(utf8),
  ),
);

// ---------------------------------------------------------------------------------------------
// Requests per endpoint group, aimed at a fixture's real clients, users and tokens.
// ---------------------------------------------------------------------------------------------

const SIDE_NAMES: readonly SideName[] = ['backoffice', 'storefront'];
const otherSideOf = (side: SideName): SideName => (side === 'backoffice' ? 'storefront' : 'backoffice');

const TOKEN_NAMES = ['grant_type', 'client_id', 'client_secret', 'code', 'redirect_uri', 'code_verifier', 'refresh_token', 'scope', 'username', 'password'];
const SIBLING_NAMES = ['token', 'token_type_hint', 'client_id', 'client_secret'];
const AUTHORIZE_NAMES = ['response_type', 'client_id', 'redirect_uri', 'state', 'scope', 'code_challenge', 'code_challenge_method', 'decision', 'csrf_token'];
const LOGIN_NAMES = ['csrf_token', 'login', 'password', 'return_to'];
/** Parameters the token endpoint always reads, and those each grant reads: a repeat of any must be refused (RFC 6749 §3.2). */
const TOKEN_READS = ['grant_type', 'client_id', 'client_secret'];
const GRANT_READS = new Map<string | undefined, string[]>([
  ['authorization_code', ['code', 'redirect_uri', 'code_verifier']],
  ['refresh_token', ['refresh_token', 'scope']],
  ['client_credentials', ['scope']],
  ['password', ['username', 'password', 'scope']],
]);
/**
 * The OAuth parameters authorize reads before it issues any code. (decision and csrf_token are
 * the consent form's own, read only on a POST with a decision: a skip-consent client never needs them.)
 */
const AUTHORIZE_READS = ['response_type', 'client_id', 'redirect_uri', 'state', 'scope', 'code_challenge', 'code_challenge_method'];

const SCOPES = ['api', 'api read', 'read write', 'profile', 'orders:read', 'admin', 'api api'];
const scopeField = (): fc.Arbitrary<Field[]> => fc.option(fc.constantFrom(...SCOPES).map((s): Field[] => [['scope', s]]), { nil: [] }).map((f) => f ?? []);
const verifierArb = () => fc.string({ unit: fc.constantFrom(...B64URL), minLength: 43, maxLength: 43 });

/** The single text value of a parameter, or undefined when absent, repeated or not text. */
function single(fields: readonly Field[], name: string): string | undefined {
  const values = fields.filter(([n]) => n === name).map(([, v]) => v);
  return values.length === 1 && typeof values[0] === 'string' ? values[0] : undefined;
}

function repeatedRead(fields: readonly Field[], reads: readonly string[]): string | undefined {
  const repeated = repeatedNames(fields);
  const name = reads.find((n) => repeated.has(n));
  return name === undefined ? undefined : `the ${name} parameter is repeated`;
}

type Encoding = { contentType: string | undefined; body: (fields: readonly Field[]) => string; odd: boolean };

/** How a POST body is sent: mostly forms and JSON (spelled variously), sometimes neither. */
function encodingArb(weights: { form: number; json: number; odd: number }): fc.Arbitrary<Encoding> {
  const form = fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'APPLICATION/X-WWW-FORM-URLENCODED', 'application/x-www-form-urlencoded; charset=iso-8859-1');
  const json = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'Application/JSON');
  return fc.oneof(
    { weight: weights.form, arbitrary: form.map((contentType): Encoding => ({ contentType, body: encodeForm, odd: false })) },
    { weight: weights.json, arbitrary: json.map((contentType): Encoding => ({ contentType, body: encodeJson, odd: false })) },
    {
      weight: weights.odd,
      arbitrary: fc
        .tuple(fc.constantFrom(undefined, 'text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/json', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', '*/*'), oddJsonBody())
        .map(([contentType, text]): Encoding => ({ contentType, body: () => text, odd: true })),
    },
  );
}

const withHeaders = (contentType: string | undefined, extra: Record<string, string>) => ({ ...(contentType === undefined ? {} : { 'content-type': contentType }), ...extra });

interface ClientAuth {
  fields: Field[];
  headers: Record<string, string>;
}

/** Client authentication of a confidential client: in the body, HTTP Basic (exact or mangled), both, or none. */
function confidentialAuth(client: { clientId: string; clientSecret: string | undefined }): fc.Arbitrary<ClientAuth> {
  const id = client.clientId;
  const secret = client.clientSecret ?? '';
  const mangledBasic = fc.oneof(
    respelledFrom([Buffer.from(`${id}:${secret}`).toString('base64')]).map((b) => `Basic ${b}`),
    fc.constantFrom('Basic', 'Basic ', 'Basic %%%', 'Basic Og==', 'Bearer x', `Bearer ${secret}`, `basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, `Basic ${Buffer.from(`${id}%00:${secret}`).toString('base64')}`, `Basic ${Buffer.from(`${id}:%ZZ`).toString('base64')}`),
    hostileText().map((h) => `Basic ${Buffer.from(`${h.slice(0, 2000)}:${h.slice(0, 2000)}`, 'utf8').toString('base64')}`),
  );
  return fc.oneof(
    { weight: 5, arbitrary: fc.constant<ClientAuth>({ fields: [['client_id', id], ['client_secret', secret]], headers: {} }) },
    { weight: 3, arbitrary: fc.constant<ClientAuth>({ fields: [], headers: { authorization: basicHeader(id, secret) } }) },
    { weight: 1, arbitrary: mangledBasic.map((h): ClientAuth => ({ fields: [], headers: { authorization: headerSafe(h) } })) },
    { weight: 1, arbitrary: fc.constant<ClientAuth>({ fields: [['client_id', id], ['client_secret', secret]], headers: { authorization: basicHeader(id, secret) } }) },
    { weight: 1, arbitrary: fc.constant<ClientAuth>({ fields: [['client_id', id]], headers: {} }) },
  );
}

function publicAuth(client: { clientId: string }): fc.Arbitrary<ClientAuth> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant<ClientAuth>({ fields: [['client_id', client.clientId]], headers: {} }) },
    { weight: 1, arbitrary: fc.constant<ClientAuth>({ fields: [], headers: { authorization: basicHeader(client.clientId, '') } }) },
    { weight: 1, arbitrary: fc.constant<ClientAuth>({ fields: [['client_id', client.clientId], ['client_secret', 'x']], headers: {} }) },
  );
}

interface Scenario {
  fields: Field[];
  headers: Record<string, string>;
  passwordAttempt?: boolean;
  /** A token that is not a real one (re-spelled), for introspection. */
  foreign?: string;
}

/** POST /oauth2-token: every grant type (and unknown ones), form and JSON bodies, Basic headers. */
export function tokenRequests(fx: FuzzFixture): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(
    ...SIDE_NAMES.map((sideName) => {
      const s = fx.sides[sideName];
      const conf = confidentialAuth(s.confidential);
      const anyClient = fc.oneof(conf, publicAuth(s.public));
      const logins = [s.user.login, ...s.otherLogins];
      const grant = (auth: ClientAuth, fields: Field[], passwordAttempt = false): Scenario => ({ fields: [...auth.fields, ...fields], headers: auth.headers, passwordAttempt });
      const scenario: fc.Arbitrary<Scenario> = fc.oneof(
        fc.tuple(conf, scopeField()).map(([auth, scope]) => grant(auth, [['grant_type', 'client_credentials'], ...scope])),
        fc
          .tuple(
            anyClient,
            fc.oneof({ weight: 2, arbitrary: charFrom(logins) }, { weight: 3, arbitrary: charFrom(logins.flatMap(nameVariants)) }, { weight: 2, arbitrary: hostileText() }),
            fc.oneof({ weight: 1, arbitrary: charFrom([s.user.password, ADMIN_PASSWORD]) }, { weight: 3, arbitrary: hostileText() }),
            scopeField(),
          )
          .map(([auth, username, password, scope]) => grant(auth, [['grant_type', 'password'], ['username', username], ['password', password], ...scope], true)),
        fc
          .tuple(anyClient, fc.oneof({ weight: 3, arbitrary: respelledFrom([s.code]) }, { weight: 1, arbitrary: hostileText() }), fc.boolean(), fc.option(verifierArb(), { nil: undefined }))
          .map(([auth, code, withRedirect, verifier]) =>
            grant(auth, [
              ['grant_type', 'authorization_code'],
              ['code', code],
              ...(withRedirect ? [['redirect_uri', s.confidential.redirectUri] as Field] : []),
              ...(verifier ? [['code_verifier', verifier] as Field] : []),
            ]),
          ),
        fc
          .tuple(conf, fc.oneof({ weight: 3, arbitrary: respelledFrom([s.refreshToken]) }, { weight: 1, arbitrary: hostileText() }), scopeField())
          .map(([auth, token, scope]) => grant(auth, [['grant_type', 'refresh_token'], ['refresh_token', token], ...scope])),
        fc
          .tuple(conf, fc.oneof(hostileText(), charFrom(['implicit', 'token', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'CLIENT_CREDENTIALS', 'client_credentials ', 'client_credentials\0', 'Password'])))
          .map(([auth, grantType]) => grant(auth, [['grant_type', grantType]])),
      );
      return fc.tuple(mutated(scenario, TOKEN_NAMES, fx.pool, { json: true }), encodingArb({ form: 5, json: 4, odd: 1 })).map(([sc, encoding]): FuzzRequest => {
        const grantType = single(sc.fields, 'grant_type');
        const refusal = encoding.odd
          ? 'the body is not a form or a JSON object of parameters'
          : (repeatedRead(sc.fields, [...TOKEN_READS, ...(GRANT_READS.get(grantType) ?? [])]) ??
            (grantType === 'authorization_code' ? 'the code is re-spelled or made up' : grantType === 'refresh_token' ? 'the refresh token is re-spelled or made up' : undefined));
        return {
          method: 'POST',
          path: '/oauth2-token',
          headers: withHeaders(encoding.contentType, sc.headers),
          body: encoding.body(sc.fields),
          kind: 'token',
          side: sideName,
          passwordAttempt: sc.passwordAttempt,
          mustRefuse: refusal,
        };
      });
    }),
  );
}

/** POST /oauth2-token/revoke and /introspect with a valid confidential client, so the token reaches storage. */
export function tokenSiblingRequests(fx: FuzzFixture): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(
    ...SIDE_NAMES.flatMap((sideName) =>
      (['revoke', 'introspect'] as const).map((kind) => {
        const s = fx.sides[sideName];
        const other = fx.sides[otherSideOf(sideName)];
        // Exact tokens only for introspection: revoking one would be a legitimate change.
        const token = fc.oneof(
          { weight: 4, arbitrary: respelledFrom(s.revocable).map((t) => ({ value: t, foreign: true })) },
          { weight: kind === 'introspect' ? 2 : 0, arbitrary: charFrom([...s.accessTokens, ...other.accessTokens]).map((t) => ({ value: t, foreign: false })) },
          { weight: 2, arbitrary: hostileText().map((t) => ({ value: t, foreign: false })) },
        );
        const hint = fc.option(fc.oneof(charFrom(['access_token', 'refresh_token', 'id_token']), hostileText()), { nil: undefined });
        const scenario = fc.tuple(confidentialAuth(s.confidential), token, hint).map(
          ([auth, t, h]): Scenario => ({
            fields: [...auth.fields, ['token', t.value], ...(h === undefined ? [] : [['token_type_hint', h] as Field])],
            headers: auth.headers,
            foreign: t.foreign ? t.value : undefined,
          }),
        );
        return fc.tuple(mutated(scenario, SIBLING_NAMES, fx.pool, { json: true }), encodingArb({ form: 6, json: 3, odd: 1 })).map(
          ([sc, encoding]): FuzzRequest => ({
            method: 'POST',
            path: kind === 'revoke' ? '/oauth2-token/revoke' : '/oauth2-token/introspect',
            headers: withHeaders(encoding.contentType, sc.headers),
            body: encoding.body(sc.fields),
            kind,
            side: sideName,
            mustRefuse: encoding.odd ? 'the body is not a form or a JSON object of parameters' : repeatedRead(sc.fields, SIBLING_NAMES),
            foreignToken: sc.foreign !== undefined && single(sc.fields, 'token') === sc.foreign ? 'a re-spelled token' : undefined,
          }),
        );
      }),
    ),
  );
}

/** A percent-encoded path segment: real ids, ids at and beyond 2^31 and 2^53, and hostile text. */
function idSegment(realIds: number[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: charFrom(realIds.map(String)) },
    { weight: 3, arbitrary: charFrom(NUMERIC_TEXT.map(percentEncode)) },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), fc.double()).map((n) => percentEncode(String(n))) },
    { weight: 2, arbitrary: hostileText().map((t) => percentEncode(t.slice(0, 300))) },
    { weight: 1, arbitrary: charFrom([...RAW_FRAGMENTS.map((r) => asciiTarget(r.form)), '..', '%2e%2e', '%2F', '', '1%2F2', '1;x=y', '1.json']) },
  );
}

/** Authorization headers with the exact token: the scheme is case-insensitive (RFC 7235 §2.1), so these may be accepted. */
const MAY_ACCEPT = (token: string) => [`Bearer ${token}`, `bearer ${token}`, `BEARER ${token}`, `Bearer  ${token}`, `Bearer ${token} `, `Bearer\t${token}`];
/** Malformed Authorization headers around the exact token: never accepted. */
const MALFORMED = (token: string) => ['Bearer', 'Bearer ', `Basic ${token}`, token, `Bearer "${token}"`, `Bearer ${token} x`, `Bearer ${token}, Bearer ${token}`, `Bearer ${token},`];

/** The APIs with valid, mangled and re-spelled bearer tokens and hostile paths and queries; the discovery documents. */
export function apiRequests(fx: FuzzFixture): fc.Arbitrary<FuzzRequest> {
  const api = SIDE_NAMES.map((sideName) => {
    const s = fx.sides[sideName];
    const other = fx.sides[otherSideOf(sideName)];
    const base = s.side.apiPath;
    const query = mutatedFields(fc.constantFrom<Field[]>([], [['page[number]', '1'], ['page[size]', '10']]), ['page[number]', 'page[size]', 'access_token', 'include', 'filter[id]'], [...NUMERIC_TEXT.slice(0, 12), ...s.accessTokens], { max: 2 }).map(
      (fields) => (fields.length ? `?${encodeQuery(fields)}` : ''),
    );
    const realIds = [s.user.id, 1, 2];
    const path =
      sideName === 'backoffice'
        ? fc.oneof(
            { weight: 3, arbitrary: query.map((q) => `${base}/users${q}`) },
            { weight: 4, arbitrary: fc.tuple(idSegment(realIds), query).map(([id, q]) => `${base}/users/${id}${q}`) },
            { weight: 1, arbitrary: charFrom([`${base}/`, `${base}/users/`, `${base}/users/1/x`, `${base}/Users`, `${base}/customerusers/mine`, `${base}/users?page%5Bnumber%5D=2`]) },
          )
        : fc.oneof(
            { weight: 4, arbitrary: query.map((q) => `${base}/customerusers/mine${q}`) },
            { weight: 1, arbitrary: fc.tuple(idSegment(realIds), query).map(([id, q]) => `${base}/customerusers/${id}${q}`) },
            { weight: 1, arbitrary: charFrom([`${base}/`, `${base}/users`, `${base}/nothing`, `${base}/customerusers/mine/`, `${base}/CUSTOMERUSERS/mine`]) },
          );
    const authorization: fc.Arbitrary<{ header: string | undefined; refusal: string | undefined; lacksApiScope?: boolean }> = fc.oneof(
      { weight: 3, arbitrary: charFrom(s.accessTokens.flatMap(MAY_ACCEPT)).map((header) => ({ header, refusal: undefined })) },
      { weight: 1, arbitrary: charFrom(MAY_ACCEPT(s.tokenWithoutApiScope)).map((header) => ({ header, refusal: 'a token without an API scope', lacksApiScope: true })) },
      { weight: 5, arbitrary: respelledFrom(s.accessTokens).map((t) => ({ header: headerSafe(`Bearer ${t}`), refusal: 'a re-spelled bearer token' })) },
      { weight: 1, arbitrary: charFrom(s.accessTokens.flatMap(MALFORMED)).map((header) => ({ header, refusal: 'a malformed Authorization header' })) },
      { weight: 1, arbitrary: charFrom(other.accessTokens).map((t) => ({ header: `Bearer ${t}`, refusal: "the other side's token" })) },
      { weight: 2, arbitrary: hostileText().map((h) => ({ header: headerSafe(`Bearer ${h.slice(0, 2000)}`), refusal: 'a made-up token' })) },
      { weight: 1, arbitrary: fc.constant({ header: undefined, refusal: 'no token' }) },
    );
    const extra = fc.option(fc.constantFrom<Record<string, string>>({ origin: 'https://evil.example' }, { accept: 'text/html' }, { accept: 'application/json;q=0, */*;q=2' }, { cookie: '__proto__=1; a' }), { nil: {} });
    return fc.tuple(path, authorization, extra).map(
      ([p, auth, headers]): FuzzRequest => ({
        method: 'GET',
        path: p,
        headers: { accept: 'application/vnd.api+json', ...headers, ...(auth.header === undefined ? {} : { authorization: auth.header }) },
        kind: 'api',
        side: sideName,
        mustRefuse: auth.refusal ?? (/[?&]access_token=/.test(p) ? 'an access token in the query string' : undefined),
        lacksApiScope: auth.lacksApiScope,
        // Both sides' users are non-admins (staff, a customer): whatever the path, they see only themselves.
        seesOnly: { type: sideName === 'backoffice' ? 'users' : 'customerusers', id: String(s.user.id) },
      }),
    );
  });
  const discoveryPaths = ['/.well-known/oauth-authorization-server', '/.well-known/oauth-authorization-server/admin', '/.well-known/oauth-protected-resource/api', '/.well-known/oauth-protected-resource/admin/api', '/.well-known/jwks.json'];
  const discovery = fc
    .tuple(charFrom(discoveryPaths), mutatedFields(fc.constant<Field[]>([]), ['x', 'format', 'kid'], [], { max: 2 }), fc.option(fc.constantFrom<Record<string, string>>({ origin: 'https://evil.example' }, { origin: 'null' }, { 'if-none-match': '*' }), { nil: {} }))
    .map(([p, fields, headers]): FuzzRequest => ({ method: 'GET', path: fields.length ? `${p}?${encodeQuery(fields)}` : p, headers, kind: 'discovery', side: 'storefront' }));
  return fc.oneof({ weight: 9, arbitrary: fc.oneof(...api) }, { weight: 1, arbitrary: discovery });
}

/** The cookies a browser request carries: the signed-in session, a CSRF cookie only, a mangled session, or none. */
function browserCookies(fx: FuzzFixture, s: SideFixture, signedInWeight: number): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: signedInWeight, arbitrary: fc.constant(s.signedIn.cookie) },
    { weight: 2, arbitrary: fc.constant(fx.anonymous.cookie) },
    { weight: 1, arbitrary: respelledFrom([s.signedIn.sessionId]).map((id) => headerSafe(`${fx.anonymous.cookie}; ${s.side.sessionCookie}=${id}`)) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: hostileText().map((h) => headerSafe(`${s.side.sessionCookie}=${h.slice(0, 200)}; grantry_csrf=${h.slice(0, 50)}`)) },
  );
}

/** A valid authorization request of one of the side's clients (PKCE for the public one), before mutation. */
function authorizeBase(clients: { clientId: string; redirectUri: string; public?: boolean }[]): fc.Arbitrary<Field[]> {
  return fc
    .tuple(charFrom(clients.map((_, i) => String(i))), fc.boolean(), fc.option(fc.oneof(fc.string({ maxLength: 20 }), marker()), { nil: undefined }), scopeField(), fc.integer({ min: 1, max: 65535 }), verifierArb())
    .map(([index, withRedirect, state, scope, port, verifier]) => {
      const client = clients[Number(index)] as (typeof clients)[number];
      const redirect = client.redirectUri.startsWith('http://127.0.0.1/') && port % 2 === 0 ? client.redirectUri.replace('127.0.0.1/', `127.0.0.1:${port}/`) : client.redirectUri;
      const pkce = client.public || port % 3 === 0;
      return [
        ['response_type', 'code'],
        ['client_id', client.clientId],
        ...(withRedirect || client.public ? [['redirect_uri', redirect]] : []),
        ...(state === undefined ? [] : [['state', state]]),
        ...scope,
        ...(pkce ? [['code_challenge', s256(verifier)], ['code_challenge_method', 'S256']] : []),
      ] as Field[];
    });
}

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

/** Authorize (GET/POST, with and without a session, consent with a valid CSRF token), the guest endpoint, login and logout. */
export function pageRequests(fx: FuzzFixture): fc.Arbitrary<FuzzRequest> {
  const perSide = SIDE_NAMES.map((sideName) => {
    const s = fx.sides[sideName];
    const clients = [
      { clientId: s.confidential.clientId, redirectUri: s.confidential.redirectUri },
      { clientId: s.public.clientId, redirectUri: s.public.redirectUri, public: true },
      { clientId: s.skipConsent.clientId, redirectUri: s.skipConsent.redirectUri },
    ];
    const form = encodingArb({ form: 8, json: 1, odd: 1 });
    const post = (path: string, encoding: Encoding, cookie: string | undefined, fields: Field[], extra: Partial<FuzzRequest> = {}): FuzzRequest => ({
      method: 'POST',
      path,
      headers: withHeaders(encoding.contentType, cookie === undefined ? {} : { cookie }),
      body: encoding.body(fields),
      kind: 'page',
      side: sideName,
      ...extra,
      ...(encoding.odd ? { mustRefuse: 'the body is not a form or a JSON object of parameters' } : {}),
    });
    const get = (path: string, cookie: string | undefined, fields: Field[], extra: Partial<FuzzRequest> = {}): FuzzRequest => ({
      method: 'GET',
      path: fields.length ? `${path}?${encodeQuery(fields)}` : path,
      headers: cookie === undefined ? {} : { cookie },
      kind: 'page',
      side: sideName,
      ...extra,
    });
    // A repeated parameter that authorize reads must never end in a code.
    const noCodeIf = (fields: Field[]) => ({ mustRefuse: repeatedRead(fields, AUTHORIZE_READS) });

    const authorize = fc
      .tuple(fc.boolean(), browserCookies(fx, s, 3), form, mutatedFields(authorizeBase(clients), AUTHORIZE_NAMES, fx.pool))
      .map(([isPost, cookie, encoding, fields]) => (isPost ? post(s.side.authorizePath, encoding, cookie, fields, noCodeIf(fields)) : get(s.side.authorizePath, cookie, fields, noCodeIf(fields))));
    const consent = fc
      .tuple(form, mutatedFields(fc.tuple(authorizeBase(clients), charFrom(['allow', 'deny'])).map(([f, decision]) => [...f, ['decision', decision], ['csrf_token', s.signedIn.csrf]] as Field[]), AUTHORIZE_NAMES, fx.pool))
      .map(([encoding, fields]) => post(s.side.authorizePath, encoding, s.signedIn.cookie, fields, noCodeIf(fields)));
    const returnTo = fc.oneof(
      { weight: 2, arbitrary: authorizeBase(clients).map((f) => `${s.side.authorizePath}?${encodeQuery(f)}`) },
      { weight: 2, arbitrary: hostileText() },
      { weight: 1, arbitrary: charFrom(['https://evil.example/', '//evil.example/', '/\\evil.example', `${s.side.authorizePath}/../../x`, `${s.side.authorizePath}?\r\nSet-Cookie: a=b`, `${fx.sides[otherSideOf(sideName)].side.authorizePath}?x=1`]) },
    );
    const loginGet = fc
      .tuple(browserCookies(fx, s, 1), mutatedFields(returnTo.map((to): Field[] => [['return_to', to]]), ['return_to'], fx.pool, { max: 2 }))
      .map(([cookie, fields]) => get(s.side.loginPath, cookie, fields));
    const logins = [s.user.login, ...s.otherLogins];
    const loginFields = fc
      .tuple(
        fc.oneof({ weight: 1, arbitrary: charFrom(logins) }, { weight: 3, arbitrary: charFrom(logins.flatMap(nameVariants)) }, { weight: 2, arbitrary: hostileText() }),
        fc.oneof({ weight: 1, arbitrary: charFrom([s.user.password, ADMIN_PASSWORD]) }, { weight: 3, arbitrary: hostileText() }),
        fc.option(returnTo, { nil: undefined }),
      )
      .map(([login, password, to]): Field[] => [['csrf_token', fx.anonymous.csrf], ['login', login], ['password', password], ...(to === undefined ? [] : [['return_to', to] as Field])]);
    const loginPost = fc
      .tuple(form, mutatedFields(loginFields, LOGIN_NAMES, fx.pool, { max: 2 }))
      .map(([encoding, fields]) => post(s.side.loginPath, encoding, fx.anonymous.cookie, fields, { passwordAttempt: true }));
    // Never the real session: logging it out would be a legitimate change.
    const logout = fc
      .tuple(respelledFrom([s.signedIn.sessionId]), form, mutatedFields(fc.constant<Field[]>([['csrf_token', fx.anonymous.csrf]]), ['csrf_token'], fx.pool, { max: 2 }))
      .map(([session, encoding, fields]) => post(s.side.logoutPath, encoding, headerSafe(`${fx.anonymous.cookie}; ${s.side.sessionCookie}=${session}`), fields));
    return fc.oneof({ weight: 5, arbitrary: authorize }, { weight: 2, arbitrary: consent }, { weight: 1, arbitrary: loginGet }, { weight: 3, arbitrary: loginPost }, { weight: 1, arbitrary: logout });
  });
  const guest = fx.sides.storefront.guest;
  const sf = fx.sides.storefront;
  const visitor = guest
    ? fc
        .tuple(browserCookies(fx, sf, 1), mutatedFields(authorizeBase([{ clientId: guest.clientId, redirectUri: guest.redirectUri }, { clientId: sf.confidential.clientId, redirectUri: sf.confidential.redirectUri }]), AUTHORIZE_NAMES, fx.pool))
        .map(
          ([cookie, fields]): FuzzRequest => ({
            method: 'GET',
            path: `/oauth2-token/authorize-visitor?${encodeQuery(fields)}`,
            headers: cookie === undefined ? {} : { cookie },
            kind: 'page',
            side: 'storefront',
            mustRefuse: repeatedRead(fields, AUTHORIZE_READS),
          }),
        )
    : undefined;
  return fc.oneof({ weight: 12, arbitrary: fc.oneof(...perSide) }, ...(visitor ? [{ weight: 1, arbitrary: visitor }] : []));
}
