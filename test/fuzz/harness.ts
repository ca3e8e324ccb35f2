/**
 * The fuzzing harness: a real server with every kind of client, user and token to aim at,
 * a raw HTTP sender with a timeout, the properties every response must have, and the runner
 * that checks stored data is unchanged after each batch of refused requests.
 *
 * GRANTRY_FUZZ_SEED replays a run (the seed is printed with every failure and in the summary);
 * GRANTRY_FUZZ_RUNS sets the number of generated batches per endpoint group.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import fc from 'fast-check';
import type { Side, SideName } from '../../src/oauth/sides.js';
import { unique } from '../helpers/authorize-pages.js';
import type { Backend } from '../helpers/backends.js';
import { formField, TestBrowser } from '../helpers/browser.js';
import { issueRefreshable } from '../helpers/endpoints.js';
import { tokenRequest } from '../helpers/oauth.js';
import { DEFAULT_REDIRECT_URI, startTestServer, type TestServer } from '../helpers/server.js';
import { codeFor, createSideUser, expectTokenSuccess, SIDES, type SideUser, type TestClient } from '../helpers/tokens.js';
import { CORS_ORIGIN, MARKER, withHeadAndPreflight } from './arbitraries.js';
import { CLI } from '../../src/management/principal.js';

const envInt = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return n;
};

export const FUZZ_SEED = envInt('GRANTRY_FUZZ_SEED', 20261128);
/** Batches per endpoint group; undefined keeps each group's default. */
export const FUZZ_RUNS: number | undefined = process.env.GRANTRY_FUZZ_RUNS ? envInt('GRANTRY_FUZZ_RUNS', 0) : undefined;
/**
 * GRANTRY_FUZZ_SURVEY=1 lists every distinct kind of violation with its first example instead of
 * stopping at the first one: for triage while several defects are open.
 */
const SURVEY = process.env.GRANTRY_FUZZ_SURVEY === '1';
/** A request that takes longer has hung: the server must answer everything well within this. */
export const REQUEST_TIMEOUT_MS = 5_000;

export type Kind = 'token' | 'revoke' | 'introspect' | 'api' | 'discovery' | 'page';

export interface FuzzRequest {
  method: 'GET' | 'POST' | 'HEAD' | 'OPTIONS';
  /** Path and query, already encoded (a binary string). */
  path: string;
  headers: Record<string, string>;
  /** Body bytes as a binary string. */
  body?: string;
  kind: Kind;
  side: SideName;
  /**
   * Sent from the group's fixed address, so the brute-force limits bound the Argon2 work of
   * password attempts; every other request comes from an address of its own (many clients),
   * so that failures counted against an address do not end the fuzzing of valid clients.
   */
  passwordAttempt?: boolean;
  /** Why the request must not succeed (a re-spelled credential, a repeated parameter that is read...). */
  mustRefuse?: string;
  /** Introspection of a token that is not a real one (re-spelled): the answer must be inactive. */
  foreignToken?: string;
  /** An API request with a valid token that carries no scope of the API: a 403 must be insufficient_scope (RFC 6750 §3.1). */
  lacksApiScope?: boolean;
  /** The API resource of the token's user, a non-admin who may see only their own account: a 2xx document holds it alone. */
  seesOnly?: { type: string; id: string };
}

export interface FuzzResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A short readable form of a request for failure reports. */
export function describeRequest(r: FuzzRequest): string {
  const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);
  const body = r.body === undefined ? '' : ` body=${JSON.stringify(cut(r.body, 400))}`;
  return `${r.method} ${cut(r.path, 300)} headers=${JSON.stringify(r.headers, (_k, v: unknown) => (typeof v === 'string' ? cut(v, 200) : v))}${body}${r.mustRefuse ? ` [must refuse: ${r.mustRefuse}]` : ''}`;
}

/** Gives a generated request a readable form in fast-check's counterexamples. */
export function printable(r: FuzzRequest): FuzzRequest {
  Object.defineProperty(r, fc.toStringMethod, { value: () => describeRequest(r), enumerable: false });
  return r;
}

/**
 * Whether the whole 127/8 is usable as source addresses (Linux); elsewhere every request comes
 * from 127.0.0.1, and the brute-force limits answer more of them with 429 (a documented answer).
 */
let loopbackAliases = true;

/** One request over a new connection from `localAddress`; rejects when it takes longer than REQUEST_TIMEOUT_MS. */
export async function send(baseUrl: string, r: FuzzRequest, localAddress: string): Promise<FuzzResponse> {
  try {
    return await sendFrom(baseUrl, r, loopbackAliases ? localAddress : undefined);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRNOTAVAIL' || !loopbackAliases) throw e;
    loopbackAliases = false;
    return sendFrom(baseUrl, r, undefined);
  }
}

function sendFrom(baseUrl: string, r: FuzzRequest, localAddress: string | undefined): Promise<FuzzResponse> {
  const url = new URL(baseUrl);
  const body = r.body === undefined ? undefined : Buffer.from(r.body, 'latin1');
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: r.method,
        path: r.path,
        headers: { ...r.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        localAddress,
        agent: false,
        // See whatever the server sends: a redirect echoing a 16 KiB state has a Location beyond node's 16 KiB default.
        maxHeaderSize: 1024 * 1024,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('error', (e: Error) =>
      reject(e.name === 'AbortError' || e.name === 'TimeoutError' ? new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms (hung after ${Date.now() - started} ms)`) : e),
    );
    request.end(body);
  });
}

export interface SideFixture {
  side: Side;
  user: SideUser;
  /** The side's other account (an admin on the back office), locked on the back office. */
  otherLogins: string[];
  /** authorization_code, refresh_token, client_credentials (owner: user) and password. */
  confidential: TestClient;
  /** authorization_code, refresh_token and password; loopback and private-use redirects. */
  public: TestClient;
  skipConsent: TestClient;
  /** Storefront only: a client that allows guests. */
  guest?: TestClient;
  /** The user's access token (confidential client) and a client-credentials one. */
  accessTokens: string[];
  /** The user's access token with only a deployment scope (read), none of the API's: the API refuses it. */
  tokenWithoutApiScope: string;
  /** Never sent as is (a reuse would legitimately revoke its family): only re-spelled. */
  refreshToken: string;
  /**
   * An access and a refresh token of their own for the revocation fuzzing, only ever re-spelled
   * there: a revocation that wrongly accepts one must not take the other groups' tokens with it.
   */
  revocable: string[];
  /** An unused code of the confidential client; never sent as is either. */
  code: string;
  /** Cookie header of the signed-in user's browser (session and CSRF cookies) and its CSRF token. */
  signedIn: { cookie: string; csrf: string; sessionId: string };
}

export interface FuzzFixture {
  server: TestServer;
  sides: Record<SideName, SideFixture>;
  /** A browser without session: its CSRF cookie header and token. */
  anonymous: { cookie: string; csrf: string };
  /** Every registered redirect URI. */
  redirectUris: string[];
  /** Real, reusable identifiers (client ids, logins, URIs, scopes...): never a single-use credential or a token. */
  pool: string[];
}

/** Redirect URIs of the public clients: loopback (any port, RFC 8252) and a private-use scheme. */
const NATIVE_REDIRECT_URIS = ['http://127.0.0.1/callback', 'com.example.app:/callback'];

const cookieHeader = (browser: TestBrowser) => [...browser.cookies].map(([n, v]) => `${n}=${v}`).join('; ');

/** A server with the password grant on, and on each side: users, clients of every kind, tokens and a signed-in browser. */
export async function startFuzzServer(backend: Backend): Promise<FuzzFixture> {
  // No periodic cleanup: it would change stored data between snapshots.
  // One allowed CORS origin, so that preflights are answered both ways.
  const server = await startTestServer(backend, { passwordGrantEnabled: true, defaultScope: 'api', cleanupInterval: 0, corsAllowedOrigins: [CORS_ORIGIN] });
  try {
    const sides = {} as Record<SideName, SideFixture>;
    for (const name of SIDES) {
      const side = server.grantry.sides.require(name);
      const user = await createSideUser(server, name);
      const confidential = await server.createClient({ side: name, grants: ['authorization_code', 'refresh_token', 'client_credentials', 'password'], owner: user.login });
      const publicClient = await server.createClient({
        side: name,
        type: 'public',
        grants: ['authorization_code', 'refresh_token', 'password'],
        redirectUris: NATIVE_REDIRECT_URIS,
      });
      const skipConsent = await server.createClient({ side: name, skipConsent: true });
      const guest = name === 'storefront' ? await server.createClient({ side: name, allowGuests: true }) : undefined;
      const issued = await issueRefreshable(server, name, { user, client: confidential, scope: 'api read' });
      const revocable = await issueRefreshable(server, name, { user, client: confidential });
      const withoutApiScope = await issueRefreshable(server, name, { user, client: confidential, scope: 'read' });
      const code = await codeFor(user, confidential);
      const cc = await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: confidential.clientId, client_secret: confidential.clientSecret });
      const page = await user.browser.get(side.loginPath);
      // The side's other accounts: the first admin and a locked user, or another customer.
      let otherLogins: string[];
      if (name === 'backoffice') {
        const locked = await server.createBackofficeUser(unique('locked'));
        await server.grantry.users.setFlag(CLI, name, String(locked.id), 'locked', true);
        otherLogins = ['admin', 'admin@example.com', locked.username];
      } else {
        otherLogins = [(await server.createCustomerUser(`${unique('other')}@example.com`)).email];
      }
      sides[name] = {
        side,
        user,
        otherLogins,
        confidential,
        public: publicClient,
        skipConsent,
        guest,
        accessTokens: [issued.accessToken, expectTokenSuccess(cc)],
        tokenWithoutApiScope: withoutApiScope.accessToken,
        refreshToken: issued.refreshToken,
        revocable: [revocable.accessToken, revocable.refreshToken],
        code,
        signedIn: { cookie: cookieHeader(user.browser), csrf: formField(page.body, 'csrf_token') ?? '', sessionId: user.browser.cookies.get(side.sessionCookie) ?? '' },
      };
    }
    const anonymousBrowser = new TestBrowser(server.url);
    const loginPage = await anonymousBrowser.get(sides.backoffice.side.loginPath);
    const clients = SIDES.flatMap((n) => [sides[n].confidential, sides[n].public, sides[n].skipConsent, ...(sides[n].guest ? [sides[n].guest] : [])]);
    const redirectUris = [DEFAULT_REDIRECT_URI, ...NATIVE_REDIRECT_URIS];
    const pool = [
      ...clients.map((c) => c.clientId),
      ...redirectUris,
      ...SIDES.flatMap((n) => [sides[n].user.login, ...sides[n].otherLogins]),
      ...Object.keys(server.config.scopes),
      'api read',
      'code',
      'S256',
      'authorization_code',
      'refresh_token',
      'client_credentials',
      'password',
      'access_token',
      'allow',
      'deny',
    ];
    return { server, sides, anonymous: { cookie: cookieHeader(anonymousBrowser), csrf: formField(loginPage.body, 'csrf_token') ?? '' }, redirectUris, pool };
  } catch (e) {
    await server.close();
    throw e;
  }
}

/** Error codes of RFC 6749 §5.2, RFC 7009 §2.2.1 (and the 429 answers, which reuse them). */
const TOKEN_ERRORS = ['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope', 'unsupported_token_type'];
/** Error codes of RFC 6749 §4.1.2.1 an authorization response may carry (server_error would be a failure). */
const AUTHORIZE_ERRORS = ['invalid_request', 'unauthorized_client', 'access_denied', 'unsupported_response_type', 'invalid_scope', 'temporarily_unavailable'];

class Violation extends Error {}

function fail(message: string, r: FuzzRequest, res: FuzzResponse): never {
  throw new Violation(`${message}\n  request:  ${describeRequest(r)}\n  response: ${res.status} ${JSON.stringify(res.headers)} ${JSON.stringify(res.body.slice(0, 500))}`);
}

/** RFC 6749 §5.2: error_description is printable ASCII without '"' and '\'; and it must not echo the request. */
function checkDescription(description: unknown, r: FuzzRequest, res: FuzzResponse) {
  if (description === undefined || description === null) return;
  if (typeof description !== 'string') fail('error_description is not a string', r, res);
  if (!/^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(description)) fail('error_description has characters RFC 6749 §5.2 forbids (only printable ASCII, without " and \\)', r, res);
  if (description.includes(MARKER)) fail('error_description echoes a value of the request', r, res);
}

const header = (res: FuzzResponse, name: string) => {
  const v = res.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

function parseJson(r: FuzzRequest, res: FuzzResponse): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(res.body);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  return fail('the body is not a JSON object', r, res);
}

/** The token endpoint and its siblings: RFC 6749 §5.2 JSON errors, no-store always. */
function checkTokenFamily(r: FuzzRequest, res: FuzzResponse): boolean {
  if (header(res, 'cache-control') !== 'no-store') fail('Cache-Control: no-store is missing', r, res);
  const success = res.status === 200;
  if (r.kind === 'revoke' && success) {
    if (r.mustRefuse) fail(`the request succeeded although it must be refused (${r.mustRefuse})`, r, res);
    if (res.body !== '' && 'error' in parseJson(r, res)) fail('a 200 revocation answer carries an error', r, res);
    // Every token sent to revocation is re-spelled, foreign or made up: nothing may be revoked.
    return false;
  }
  if (!/^application\/json(;|$)/.test(header(res, 'content-type') ?? '')) fail('not application/json', r, res);
  const json = parseJson(r, res);
  if (success) {
    if (r.kind === 'introspect') {
      if (typeof json.active !== 'boolean') fail('introspection answer without a boolean active', r, res);
      if (r.mustRefuse) fail(`the request succeeded although it must be refused (${r.mustRefuse})`, r, res);
      if (r.foreignToken && json.active !== false) fail(`introspection said active for ${r.foreignToken}`, r, res);
      return false;
    }
    if (r.mustRefuse) fail(`the request succeeded although it must be refused (${r.mustRefuse})`, r, res);
    if (typeof json.access_token !== 'string' || json.token_type !== 'Bearer') fail('a 200 token answer without access_token and token_type Bearer', r, res);
    return true;
  }
  if (!TOKEN_ERRORS.includes(json.error as string)) fail(`error ${JSON.stringify(json.error)} is not an RFC 6749/7009/7662 code`, r, res);
  if (![400, 401, 413, 429].includes(res.status)) fail(`unexpected status for a token-endpoint error`, r, res);
  if (res.status === 401 && !header(res, 'www-authenticate')) fail('401 without WWW-Authenticate', r, res);
  if (res.status === 429 && !header(res, 'retry-after')) fail('429 without Retry-After', r, res);
  checkDescription(json.error_description, r, res);
  return false;
}

/** The JSON:API: its media type, an errors[] document or a 2xx document with data. */
function checkApi(r: FuzzRequest, res: FuzzResponse): boolean {
  if (header(res, 'content-type') !== 'application/vnd.api+json') fail('not application/vnd.api+json', r, res);
  const json = parseJson(r, res);
  if (res.status >= 200 && res.status < 300) {
    if (r.mustRefuse) fail(`the API accepted ${r.mustRefuse}`, r, res);
    if (!('data' in json)) fail('a 2xx JSON:API document without data', r, res);
    const only = r.seesOnly;
    if (only) {
      const resources = (Array.isArray(json.data) ? json.data : [json.data]) as Array<{ type?: unknown; id?: unknown } | null>;
      if (resources.some((d) => d?.type !== only.type || d?.id !== only.id)) fail(`the API showed a non-admin more than their own ${only.type} ${only.id}`, r, res);
    }
    return false;
  }
  const errors = json.errors;
  if (!Array.isArray(errors) || errors.length === 0) fail('an error without errors[]', r, res);
  if ((errors[0] as { status?: unknown }).status !== String(res.status)) fail('errors[0].status differs from the HTTP status', r, res);
  if (res.status === 403) {
    // The scope check comes before any rule of the user's role: a token without an API scope gets no further.
    const code = (errors[0] as { code?: unknown }).code;
    if (r.lacksApiScope && code !== 'insufficient_scope') fail('a token without an API scope refused with another code than insufficient_scope', r, res);
    if (code === 'insufficient_scope') {
      if (!r.lacksApiScope) fail('insufficient_scope for a token that carries api', r, res);
      if (!/^Bearer .*error="insufficient_scope".*scope="[^"]+"/.test(header(res, 'www-authenticate') ?? '')) fail('403 insufficient_scope without a Bearer challenge naming the scope it needs', r, res);
    }
  }
  if (res.status === 401) {
    const challenge = header(res, 'www-authenticate') ?? '';
    if (!/^Bearer /.test(challenge)) fail('401 without a Bearer challenge', r, res);
    const description = /error_description="([^"]*)"/.exec(challenge)?.[1];
    checkDescription(description, r, res);
  }
  return false;
}

/** Discovery documents and the JWKS: always 200 JSON (or the documented CORS answers). */
function checkDiscovery(r: FuzzRequest, res: FuzzResponse): boolean {
  if (res.status !== 200) fail('a discovery document did not answer 200', r, res);
  if (!/^application\/json(;|$)/.test(header(res, 'content-type') ?? '')) fail('not application/json', r, res);
  parseJson(r, res);
  return false;
}

/** Whether `location` goes to a registered redirect URI (any port on a loopback one, RFC 8252). */
function isRegisteredRedirect(fx: FuzzFixture, location: URL): boolean {
  return fx.redirectUris.some((uri) => {
    const registered = new URL(uri);
    const loopback = registered.hostname === '127.0.0.1' || registered.hostname === '[::1]';
    return location.protocol === registered.protocol && location.hostname === registered.hostname && location.pathname === registered.pathname && (loopback || location.port === registered.port);
  });
}

/** Authorize, login and logout: an HTML page, or a redirect to this site or to the client with error+iss or code+iss. */
function checkPage(fx: FuzzFixture, r: FuzzRequest, res: FuzzResponse): boolean {
  if (res.status === 302 || res.status === 303) {
    const location = header(res, 'location') ?? fail('a redirect without Location', r, res);
    // A path of this site: the login page, or after a successful login (a new session) the authorize request.
    if (/^\/(?![/\\])/.test(location)) return r.method === 'POST' && res.status === 303 && r.path.startsWith(fx.sides[r.side].side.loginPath);
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      return fail('Location is neither a path of this site nor an absolute URL', r, res);
    }
    if (!isRegisteredRedirect(fx, url)) fail('a redirect to an unregistered URI', r, res);
    const iss = url.searchParams.getAll('iss');
    if (iss.length !== 1 || iss[0] !== fx.sides[r.side].side.issuer) fail("a redirect to the client without this side's iss", r, res);
    const error = url.searchParams.getAll('error');
    const code = url.searchParams.getAll('code');
    if (error.length + code.length !== 1) fail('a redirect to the client needs exactly one error or one code', r, res);
    if (error.length === 1) {
      if (!AUTHORIZE_ERRORS.includes(error[0] as string)) fail(`error ${JSON.stringify(error[0])} is not an RFC 6749 §4.1.2.1 code`, r, res);
      checkDescription(url.searchParams.get('error_description') ?? undefined, r, res);
      return false;
    }
    if (r.mustRefuse) fail(`a code was issued although ${r.mustRefuse}`, r, res);
    return true;
  }
  if (!/^text\/html(;|$)/.test(header(res, 'content-type') ?? '')) fail('neither an HTML page nor a redirect', r, res);
  if (!(header(res, 'content-security-policy') ?? '').includes("frame-ancestors 'none'")) fail('a page that may be framed', r, res);
  if (res.status >= 300 && res.status < 400) fail('a 3xx page without redirect', r, res);
  if (new RegExp(`<(b|script|img)[ >][^<]*${MARKER}`).test(res.body)) fail('request markup echoed into the page unescaped', r, res);
  return false;
}

/**
 * The endpoints that answer CORS preflights (README "CORS"), with the methods they allow; never
 * the pages. The JSON:API writes too (create, update, delete), so its preflight allows them.
 */
const CORS_METHODS: Partial<Record<Kind, string>> = { token: 'POST', revoke: 'POST', introspect: 'POST', api: 'GET, POST, PATCH, DELETE', discovery: 'GET' };

/**
 * An answer no route gave (HEAD, which no route takes, so that a HEAD can never run a handler
 * that writes; OPTIONS where there is no preflight): a 4xx in the error format of the group the
 * path belongs to. RFC 6749 JSON with no-store for the token endpoints, JSON:API for the APIs, an
 * HTML page that may not be framed everywhere else (discovery included). A HEAD answer has no body.
 */
function checkRoutelessError(r: FuzzRequest, res: FuzzResponse): false {
  if (res.status < 400) fail(`a ${r.method} answered ${res.status}, not an error`, r, res);
  if (r.method === 'HEAD' && res.body !== '') fail('a HEAD answer with a body', r, res);
  const type = header(res, 'content-type') ?? '';
  if (CORS_METHODS[r.kind] === 'POST') {
    if (!/^application\/json(;|$)/.test(type)) fail('not application/json', r, res);
    if (header(res, 'cache-control') !== 'no-store') fail('Cache-Control: no-store is missing', r, res);
    if (res.body === '') return false;
    const json = parseJson(r, res);
    if (!TOKEN_ERRORS.includes(json.error as string)) fail(`error ${JSON.stringify(json.error)} is not an RFC 6749/7009/7662 code`, r, res);
    checkDescription(json.error_description, r, res);
  } else if (r.kind === 'api') {
    if (type !== 'application/vnd.api+json') fail('not application/vnd.api+json', r, res);
    if (res.body === '') return false;
    const errors = parseJson(r, res).errors;
    if (!Array.isArray(errors) || (errors[0] as { status?: unknown } | undefined)?.status !== String(res.status)) fail('an error without errors[] of its status', r, res);
  } else {
    if (!/^text\/html(;|$)/.test(type)) fail('not an HTML page', r, res);
    if (!(header(res, 'content-security-policy') ?? '').includes("frame-ancestors 'none'")) fail('a page that may be framed', r, res);
  }
  return false;
}

/**
 * A CORS preflight: 204 without a body where the endpoint takes them, allowing exactly the
 * configured origin (no near miss, never with credentials) and only the endpoint's method; the
 * authorize, login and logout pages never answer one. Otherwise a 4xx in the group's format.
 */
function checkPreflight(r: FuzzRequest, res: FuzzResponse): false {
  const methods = CORS_METHODS[r.kind];
  const allowOrigin = header(res, 'access-control-allow-origin');
  if (methods === undefined && Object.keys(res.headers).some((name) => name.startsWith('access-control-'))) fail('CORS headers on a page endpoint', r, res);
  if (res.status !== 204) return checkRoutelessError(r, res);
  if (methods === undefined) fail('a page endpoint answered a preflight', r, res);
  if (res.body !== '') fail('a preflight answer with a body', r, res);
  if (!/(^|,\s*)Origin(\s*,|$)/i.test(header(res, 'vary') ?? '')) fail('a preflight answer without Vary: Origin', r, res);
  if (header(res, 'access-control-allow-credentials') !== undefined) fail('a preflight answer allowing credentials', r, res);
  if (allowOrigin === undefined) {
    if (r.headers.origin === CORS_ORIGIN) fail('the allowed origin was not allowed', r, res);
    if (header(res, 'access-control-allow-methods') !== undefined || header(res, 'access-control-allow-headers') !== undefined) fail('CORS methods or headers without an allowed origin', r, res);
    return false;
  }
  if (r.headers.origin !== CORS_ORIGIN || allowOrigin !== CORS_ORIGIN) fail(`origin ${JSON.stringify(allowOrigin)} allowed for ${JSON.stringify(r.headers.origin)}`, r, res);
  if (header(res, 'access-control-allow-methods') !== methods) fail(`allowed methods other than ${methods}`, r, res);
  return false;
}

/**
 * Checks the properties every response has: never a 5xx or a stack trace, always the
 * endpoint's documented format. Returns whether the request may have changed stored data
 * (it succeeded: a token, a code, a session).
 */
export function checkResponse(fx: FuzzFixture, r: FuzzRequest, res: FuzzResponse): boolean {
  if (res.status >= 500) fail('a 5xx answer', r, res);
  // Node's HTTP server refuses a request line and headers over 16 KiB before any route sees them.
  if (res.status === 431) return false;
  if (/\bat [\w$.<>[\] ]+ \(?[^)\s]*:\d+:\d+\)?|node_modules|\/src\/\w+\/\w+\.[jt]s/.test(res.body)) fail('a stack trace or a source path in the body', r, res);
  // Neither writes: a batch of them is compared with the stored data like any refused one.
  if (r.method === 'HEAD') return checkRoutelessError(r, res);
  if (r.method === 'OPTIONS') return checkPreflight(r, res);
  switch (r.kind) {
    case 'token':
    case 'revoke':
    case 'introspect':
      return checkTokenFamily(r, res);
    case 'api':
      return checkApi(r, res);
    case 'discovery':
      return checkDiscovery(r, res);
    case 'page':
      return checkPage(fx, r, res);
  }
}

/** Tables a refused request must leave alone (the failed-attempt counters are meant to change). */
const SNAPSHOT_TABLES = ['backoffice_users', 'customer_users', 'clients', 'grants', 'authorization_codes', 'access_tokens', 'refresh_tokens', 'signing_keys', 'sessions'] as const;

/** A digest of every row of each table, through the server's own Kysely handle (the reads in parallel). */
export async function snapshot(fx: FuzzFixture): Promise<Map<string, string>> {
  const { db } = fx.server.grantry.database;
  const digests = await Promise.all(
    SNAPSHOT_TABLES.map(async (table) => {
      const rows = await db.selectFrom(table).selectAll().execute();
      const lines = rows.map((row) => JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).sort();
      return [table, createHash('sha256').update(lines.join('\n')).digest('hex')] as const;
    }),
  );
  return new Map(digests);
}

/** Counts and timing of one backend's fuzzing, for the summary line. */
export class FuzzStats {
  requests = 0;
  batches = 0;
  /** Batches whose snapshot was compared (every request refused). */
  compared = 0;
  readonly started = Date.now();
  private nextAddress = 0;

  /** A fresh loopback source address per request; the fixed 127.0.<group>.1 for password attempts. */
  addressFor(group: number, r: FuzzRequest): string {
    if (r.passwordAttempt) return `127.0.${group}.1`;
    const n = this.nextAddress++ % (200 * 250);
    return `127.${10 + group}.${Math.floor(n / 250)}.${(n % 250) + 2}`;
  }

  /** Milliseconds spent per kind of request (and on snapshots), for the survey. */
  private readonly timings = new Map<string, { n: number; ms: number }>();

  time(what: string, ms: number): void {
    const t = this.timings.get(what) ?? { n: 0, ms: 0 };
    t.n += 1;
    t.ms += ms;
    this.timings.set(what, t);
  }

  /** Distinct violations seen in survey mode: first line → first full report. */
  readonly violations = new Map<string, string>();

  /**
   * Runs a check; in survey mode a violation is recorded (once per kind) instead of thrown, and
   * counts as a possible write, so that it does not show again as a change of stored data.
   */
  survey(check: () => boolean): boolean {
    try {
      return check();
    } catch (e) {
      if (!SURVEY || !(e instanceof Violation)) throw e;
      const kind = e.message.split('\n')[0] as string;
      if (!this.violations.has(kind)) this.violations.set(kind, e.message);
      return true;
    }
  }

  summary(backend: Backend): string {
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
    const timings = [...this.timings].map(([what, t]) => `${what}: ${t.n} in ${(t.ms / 1000).toFixed(1)} s`).join(', ');
    const survey = SURVEY ? `\ntime per kind: ${timings}\n${this.violations.size} kinds of violation:\n${[...this.violations.values()].map((v) => `- ${v}`).join('\n')}` : '';
    return `fuzz ${backend}: ${this.requests} requests in ${this.batches} batches (${this.compared} snapshot-compared) in ${seconds} s, seed ${FUZZ_SEED} (GRANTRY_FUZZ_SEED), ${FUZZ_RUNS ?? 'default'} runs per group (GRANTRY_FUZZ_RUNS)${survey}`;
  }
}

/**
 * Runs one endpoint group: `runs` batches of 1 to 6 generated requests (fixed seed), one in six
 * of them sent as HEAD or as a CORS preflight. After each batch in which every request was
 * refused, the stored data must be what it was before it.
 */
export async function fuzzGroup(fx: FuzzFixture, stats: FuzzStats, group: number, requests: fc.Arbitrary<FuzzRequest>, defaultRuns: number): Promise<void> {
  // The stored data before the next batch; unknown after a batch that failed (and may have written) halfway.
  let before: Map<string, string> | undefined;
  const property = fc.asyncProperty(fc.array(withHeadAndPreflight(requests).map(printable), { minLength: 1, maxLength: 6 }), async (batch) => {
    const start = before ?? (await snapshot(fx));
    before = undefined;
    let mayHaveWritten = false;
    for (const r of batch) {
      const started = performance.now();
      const res = await send(fx.server.url, r, stats.addressFor(group, r)).catch((e: Error) => {
        throw new Violation(`${e.message}\n  request:  ${describeRequest(r)}`);
      });
      stats.requests += 1;
      stats.time(`${r.method === 'HEAD' || r.method === 'OPTIONS' ? `${r.method} ` : ''}${r.kind}${r.passwordAttempt ? ' (password)' : ''}`, performance.now() - started);
      if (stats.survey(() => checkResponse(fx, r, res))) mayHaveWritten = true;
    }
    stats.batches += 1;
    const snapshotStarted = performance.now();
    const after = await snapshot(fx);
    stats.time('snapshot', performance.now() - snapshotStarted);
    before = after;
    const changed = SNAPSHOT_TABLES.filter((t) => start.get(t) !== after.get(t));
    if (!mayHaveWritten) {
      stats.compared += 1;
      if (changed.length > 0) {
        stats.survey((): boolean => {
          throw new Violation(`refused requests changed stored data in ${changed.join(', ')}:\n${batch.map((r) => `  ${describeRequest(r)}`).join('\n')}`);
        });
      }
    }
  });
  await fc.assert(property, { seed: FUZZ_SEED, numRuns: FUZZ_RUNS ?? defaultRuns, includeErrorInReport: true });
}
