/**
 * Helpers for token-endpoint and API tests: raw HTTP calls (for bodies the tidy helpers cannot
 * send), JWT decoding, a server with one user per side, and a one-call "user + client + code +
 * token" fixture per side.
 */
import { expect } from 'vitest';
import type { Config } from '../../src/config/index.js';
import { CODE_PURPOSE } from '../../src/oauth/authorization-codes.js';
import type { SideName } from '../../src/oauth/sides.js';
import type { Backend } from './backends.js';
import { TestBrowser } from './browser.js';
import { obtainCode, pkcePair, type TokenCall, tokenRequest } from './oauth.js';
import { startTestServer, type TestServer } from './server.js';

export const SIDES: readonly SideName[] = ['backoffice', 'storefront'];
export const otherSide = (side: SideName): SideName => (side === 'backoffice' ? 'storefront' : 'backoffice');

/** The issuer and the API audience of each side on a test server (public URL http://grantry.test). */
export const ISSUER: Record<SideName, string> = { backoffice: 'http://grantry.test/admin', storefront: 'http://grantry.test' };
export const API_PATH: Record<SideName, string> = { backoffice: '/admin/api/users', storefront: '/api/customerusers/mine' };

/** Status, headers and text of a response, and its body parsed as JSON when possible. */
async function readRawResponse(response: Response): Promise<TokenCall & { text: string }> {
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Leave json empty: the assertions on it will fail and show the text.
  }
  return { status: response.status, headers: response.headers, json, text };
}

/** POST /oauth2-token with an exact body and headers; the body is parsed as JSON when possible. */
export async function rawTokenPost(baseUrl: string, body: string | Uint8Array | undefined, headers: Record<string, string> = {}): Promise<TokenCall & { text: string }> {
  return readRawResponse(await fetch(`${baseUrl}/oauth2-token`, { method: 'POST', headers, body }));
}

/** Asserts an RFC 6749 §5.2 error response from the token endpoint. */
export function expectTokenError(call: TokenCall, status: number, error: string): void {
  expect({ status: call.status, json: call.json }).toMatchObject({ status, json: { error } });
  expect(typeof call.json.error_description).toBe('string');
  expect((call.json.error_description as string).length).toBeGreaterThan(0);
  expect(call.headers.get('cache-control')).toBe('no-store');
  expect(call.headers.get('content-type')).toMatch(/^application\/json(;|$)/);
  // RFC 7235 §3.1: every 401 carries a challenge (Basic is checked where Basic was used).
  if (status === 401) expect(call.headers.get('www-authenticate')).toBeTruthy();
}

/** Asserts a successful token response and returns the access token. */
export function expectTokenSuccess(call: TokenCall, expiresIn = 3600): string {
  expect({ status: call.status, json: call.json }).toMatchObject({ status: 200, json: { token_type: 'Bearer', expires_in: expiresIn } });
  expect(call.headers.get('cache-control')).toBe('no-store');
  expect(call.headers.get('content-type')).toMatch(/^application\/json(;|$)/);
  expect(typeof call.json.access_token).toBe('string');
  return call.json.access_token as string;
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signature: string;
}

export function decodeJwt(token: string): DecodedJwt {
  const parts = token.split('.');
  expect(parts).toHaveLength(3);
  const [h, p, s] = parts as [string, string, string];
  const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: decode(h), payload: decode(p), signature: s };
}

/** Replaces the payload of a JWT and keeps its header and signature (a forgery). */
export function withPayload(token: string, payload: Record<string, unknown>): string {
  const [h, , s] = token.split('.') as [string, string, string];
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
}

/** Changes one character of a base64url string at `index` to another base64url character. */
export function flipChar(text: string, index: number): string {
  const c = text[index];
  const replacement = c === 'A' ? 'B' : 'A';
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

/** The stored row of an authorization code (looked up by its keyed hash). */
export async function codeRow(server: TestServer, code: string) {
  return server.grantry.database.db
    .selectFrom('authorization_codes')
    .selectAll()
    .where('code_hash', '=', server.grantry.hasher.storageKey(CODE_PURPOSE, code))
    .executeTakeFirst();
}

let counter = 0;
const unique = () => `${process.pid}-${Date.now().toString(36)}-${++counter}`;

export interface SideUser {
  side: SideName;
  id: number;
  /** Username (back office) or email (storefront): what the login form takes. */
  login: string;
  password: string;
  /** A browser signed in as this user after the first authorize. */
  browser: TestBrowser;
}

export async function createSideUser(server: TestServer, side: SideName): Promise<SideUser> {
  const tag = unique();
  if (side === 'backoffice') {
    const u = await server.createBackofficeUser(`staff-${tag}`);
    return { side, id: u.id, login: u.username, password: u.password, browser: new TestBrowser(server.url) };
  }
  const u = await server.createCustomerUser(`customer-${tag}@example.com`);
  return { side, id: u.id, login: u.email, password: u.password, browser: new TestBrowser(server.url) };
}

/** A test server for `backend` with one new user per side (created in SIDES order). */
export async function startServerWithSideUsers(backend: Backend, overrides: Partial<Config> = {}): Promise<{ server: TestServer; users: Record<SideName, SideUser> }> {
  const server = await startTestServer(backend, overrides);
  const users = {} as Record<SideName, SideUser>;
  try {
    for (const side of SIDES) users[side] = await createSideUser(server, side);
  } catch (e) {
    await server.close();
    throw e;
  }
  return { server, users };
}

export type TestClient = Awaited<ReturnType<TestServer['createClient']>>;

/** Runs authorize for `user` and `client` (consent allowed) and returns the code. */
export function codeFor(user: SideUser, client: TestClient, params: Record<string, string | undefined> = {}): Promise<string> {
  return obtainCode(user.browser, user.side, { response_type: 'code', client_id: client.clientId, ...params }, { login: user.login, password: user.password });
}

/** The client authentication part of a token request body (client_secret_post, or client_id alone for public clients). */
export const clientAuth = (client: TestClient) => ({ client_id: client.clientId, client_secret: client.clientSecret });

/** Runs authorize (with PKCE for public clients) and exchanges the code; returns the raw token response. */
export async function exchangeCode(user: SideUser, client: TestClient, server: TestServer, params: Record<string, string | undefined> = {}): Promise<TokenCall> {
  const pkce = client.clientSecret === undefined ? pkcePair() : undefined;
  const code = await codeFor(user, client, { ...params, ...(pkce ? { code_challenge: pkce.challenge, code_challenge_method: 'S256' } : {}) });
  return tokenRequest(server.url, {
    grant_type: 'authorization_code',
    ...clientAuth(client),
    redirect_uri: client.redirectUri,
    code,
    code_verifier: pkce?.verifier,
  });
}

export interface IssuedToken {
  user: SideUser;
  client: TestClient;
  accessToken: string;
  call: TokenCall;
}

/**
 * Creates (or reuses) a user and a client on `side`, runs the whole flow and returns the token.
 * Confidential clients authenticate with client_secret_post; public ones use PKCE.
 */
export async function issueToken(
  server: TestServer,
  side: SideName,
  options: { user?: SideUser; client?: TestClient; type?: 'confidential' | 'public' } = {},
): Promise<IssuedToken> {
  const user = options.user ?? (await createSideUser(server, side));
  const client = options.client ?? (await server.createClient({ side, type: options.type ?? 'confidential' }));
  const call = await exchangeCode(user, client, server);
  const accessToken = expectTokenSuccess(call, server.config.accessTokenTtl);
  return { user, client, accessToken, call };
}

/** GET with exact headers, for the API's guard. */
export async function rawGet(baseUrl: string, path: string, headers: Record<string, string> = {}) {
  return readRawResponse(await fetch(baseUrl + path, { headers }));
}
