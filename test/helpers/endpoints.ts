/**
 * Helpers for the revocation (RFC 7009), introspection (RFC 7662), discovery and CORS tests:
 * raw calls that return status, headers and the parsed body, and small fixtures (refreshable
 * tokens, guest codes) built from the real flows.
 */
import { expect } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { basicHeader } from './oauth.js';
import type { TestServer } from './server.js';
import { createSideUser, exchangeCode, expectTokenSuccess, type SideUser, type TestClient } from './tokens.js';

export const REVOCATION_PATH = '/oauth2-token/revoke';
export const INTROSPECTION_PATH = '/oauth2-token/introspect';
export const VISITOR_PATH = '/oauth2-token/authorize-visitor';

export interface HttpCall {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

const parse = (text: string): Record<string, unknown> => {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
};

/** Any request with exact headers; never follows redirects. */
export async function call(baseUrl: string, method: string, path: string, options: { headers?: Record<string, string>; body?: string } = {}): Promise<HttpCall> {
  const response = await fetch(baseUrl + path, { method, headers: options.headers ?? {}, body: options.body, redirect: 'manual' });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: parse(text) };
}

export interface ClientAuth {
  clientId: string;
  clientSecret?: string | undefined;
}

/**
 * POST to the token endpoint's siblings with client authentication: the secret in the body
 * (default), HTTP Basic, or only client_id (public clients). Form body unless `format: 'json'`.
 */
export async function postWithClient(
  baseUrl: string,
  path: string,
  client: ClientAuth | undefined,
  params: Record<string, string | undefined>,
  options: { auth?: 'post' | 'basic'; format?: 'form' | 'json'; headers?: Record<string, string> } = {},
): Promise<HttpCall> {
  const body: Record<string, string> = {};
  const headers: Record<string, string> = { ...options.headers };
  if (client) {
    if (options.auth === 'basic') headers.authorization = basicHeader(client.clientId, client.clientSecret ?? '');
    else {
      body.client_id = client.clientId;
      if (client.clientSecret !== undefined) body.client_secret = client.clientSecret;
    }
  }
  for (const [k, v] of Object.entries(params)) if (v !== undefined) body[k] = v;
  let payload: string;
  if (options.format === 'json') {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  } else {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    payload = new URLSearchParams(body).toString();
  }
  return call(baseUrl, 'POST', path, { headers, body: payload });
}

export const revoke = (baseUrl: string, client: ClientAuth | undefined, token: string | undefined, options: Parameters<typeof postWithClient>[4] & { hint?: string } = {}) =>
  postWithClient(baseUrl, REVOCATION_PATH, client, { token, token_type_hint: options.hint }, options);

export const introspect = (baseUrl: string, client: ClientAuth | undefined, token: string | undefined, options: Parameters<typeof postWithClient>[4] & { hint?: string } = {}) =>
  postWithClient(baseUrl, INTROSPECTION_PATH, client, { token, token_type_hint: options.hint }, options);

/** An RFC 6749 §5.2 error with Cache-Control: no-store (and a challenge on 401). */
export function expectOAuthError(result: HttpCall, status: number, error: string): void {
  expect({ status: result.status, error: result.json.error }).toEqual({ status, error });
  expect(typeof result.json.error_description).toBe('string');
  expect(result.headers.get('cache-control')).toBe('no-store');
  expect(result.headers.get('content-type')).toMatch(/^application\/json(;|$)/);
  if (status === 401) expect(result.headers.get('www-authenticate')).toBeTruthy();
}

/** RFC 7009 §2.2: 200, and the response carries nothing the client must read. */
export function expectRevoked(result: HttpCall): void {
  expect(result.status).toBe(200);
  expect(result.headers.get('cache-control')).toBe('no-store');
  expect(result.json).not.toHaveProperty('error');
}

/** RFC 7662 §2.2: exactly {"active": false}. */
export function expectInactive(result: HttpCall): void {
  expect(result.status).toBe(200);
  expect(result.headers.get('cache-control')).toBe('no-store');
  expect(result.headers.get('content-type')).toMatch(/^application\/json(;|$)/);
  expect(JSON.parse(result.text)).toEqual({ active: false });
}

export interface RefreshableToken {
  user: SideUser;
  client: TestClient;
  accessToken: string;
  refreshToken: string;
}

/**
 * A user and a client with the refresh_token grant (confidential by default) on `side`, and
 * the access and refresh tokens of one authorization.
 */
export async function issueRefreshable(
  server: TestServer,
  side: SideName,
  options: { user?: SideUser; client?: TestClient; type?: 'confidential' | 'public'; scope?: string } = {},
): Promise<RefreshableToken> {
  const user = options.user ?? (await createSideUser(server, side));
  const client = options.client ?? (await server.createClient({ side, type: options.type ?? 'confidential', grants: ['authorization_code', 'refresh_token'] }));
  const result = await exchangeCode(user, client, server, { scope: options.scope });
  const accessToken = expectTokenSuccess(result, server.config.accessTokenTtl);
  expect(typeof result.json.refresh_token).toBe('string');
  return { user, client, accessToken, refreshToken: result.json.refresh_token as string };
}

/** The query of a redirect's Location, or fails when the response is no redirect. */
export function redirectQuery(result: { status: number; headers: Headers }, expectedStatus = 302): URL {
  expect(result.status).toBe(expectedStatus);
  const location = result.headers.get('location');
  expect(location).toBeTruthy();
  return new URL(location as string);
}
