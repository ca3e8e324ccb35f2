/**
 * Helpers for the token-lifecycle tests (refresh tokens, client credentials, password grant,
 * scopes): issuing a code-grant pair with an optional scope, refreshing, reading the stored
 * refresh-token rows, and asserting what the APIs say about a token.
 */
import { expect } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { REFRESH_TOKEN_PURPOSE } from '../../src/oauth/token-issuer.js';
import { apiGet, type TokenCall, tokenRequest } from './oauth.js';
import type { TestServer } from './server.js';
import { API_PATH, clientAuth, exchangeCode, expectTokenError, expectTokenSuccess, type SideUser, type TestClient } from './tokens.js';

/** A client of `side` that may use the code grant and refresh tokens (confidential unless told). */
export function refreshClient(server: TestServer, side: SideName, options: { type?: 'confidential' | 'public'; scopes?: string[] } = {}): Promise<TestClient> {
  return server.createClient({ side, type: options.type ?? 'confidential', grants: ['authorization_code', 'refresh_token'], ...(options.scopes ? { scopes: options.scopes } : {}) });
}

export interface Pair {
  call: TokenCall;
  accessToken: string;
  refreshToken: string;
}

/** Reads the access and refresh tokens of a successful response (asserting the success). */
export function pairOf(call: TokenCall): Pair {
  const accessToken = expectTokenSuccess(call);
  expect(typeof call.json.refresh_token, JSON.stringify(call.json)).toBe('string');
  return { call, accessToken, refreshToken: call.json.refresh_token as string };
}

/** The first pair of a new authorization of `user` for `client`. */
export async function firstPair(server: TestServer, user: SideUser, client: TestClient, scope?: string): Promise<Pair> {
  return pairOf(await exchangeCode(user, client, server, scope === undefined ? {} : { scope }));
}

/** grant_type=refresh_token for `client`. */
export function refresh(server: TestServer, client: TestClient, refreshToken: string, extra: Record<string, string | undefined> = {}): Promise<TokenCall> {
  return tokenRequest(server.url, { grant_type: 'refresh_token', ...clientAuth(client), refresh_token: refreshToken, ...extra });
}

export const refreshHash = (server: TestServer, token: string) => server.grantry.hasher.storageKey(REFRESH_TOKEN_PURPOSE, token);

/** The stored row of a refresh token (looked up by its keyed hash). */
export function refreshRow(server: TestServer, token: string) {
  return server.grantry.database.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', refreshHash(server, token)).executeTakeFirst();
}

/** Every stored refresh token of a grant (a family). */
export function familyRows(server: TestServer, grantId: string) {
  return server.grantry.database.db.selectFrom('refresh_tokens').selectAll().where('grant_id', '=', grantId).execute();
}

export function grantRow(server: TestServer, grantId: string) {
  return server.grantry.database.db.selectFrom('grants').selectAll().where('id', '=', grantId).executeTakeFirstOrThrow();
}

/** Changes columns of a stored refresh token, as a clock moving on would. */
export async function updateRefreshRow(server: TestServer, token: string, values: { used_at?: number | null; expires_at?: number }): Promise<void> {
  const result = await server.grantry.database.db.updateTable('refresh_tokens').set(values).where('token_hash', '=', refreshHash(server, token)).executeTakeFirst();
  expect(Number(result.numUpdatedRows)).toBe(1);
}

/** The API of `side` accepts the token (and, on the storefront, acts for `userId`; on the back office, `userId` can be read with it). */
export async function expectApiAccepts(server: TestServer, side: SideName, token: string, userId?: number): Promise<void> {
  const api = await apiGet(server.url, API_PATH[side], token);
  expect(api.status, JSON.stringify(api.json)).toBe(200);
  expect(api.headers.get('content-type')).toBe('application/vnd.api+json');
  if (userId !== undefined) {
    if (side === 'storefront') {
      expect(api.json).toMatchObject({ data: { type: 'customerusers', id: String(userId) } });
    } else {
      const one = await apiGet(server.url, `${API_PATH[side]}/${userId}`, token);
      expect(one.status).toBe(200);
      expect(one.json).toMatchObject({ data: { type: 'users', id: String(userId) } });
    }
  }
}

/** The API of `side` refuses the token: 401 with an invalid_token challenge. */
export async function expectApiRefuses(server: TestServer, side: SideName, token: string): Promise<void> {
  const api = await apiGet(server.url, API_PATH[side], token);
  expect(api.status, JSON.stringify(api.json)).toBe(401);
  expect(api.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
  expect(api.json).toMatchObject({ errors: [{ status: '401', code: 'invalid_token' }] });
}

/** A refresh that must be refused with invalid_grant (400, no-store, JSON error body). */
export async function expectRefreshRefused(server: TestServer, client: TestClient, refreshToken: string, extra: Record<string, string | undefined> = {}): Promise<TokenCall> {
  const call = await refresh(server, client, refreshToken, extra);
  expectTokenError(call, 400, 'invalid_grant');
  expect(call.json).not.toHaveProperty('access_token');
  expect(call.json).not.toHaveProperty('refresh_token');
  return call;
}

/** The grant id a refresh token belongs to. */
export async function grantIdOf(server: TestServer, refreshToken: string): Promise<string> {
  const row = await refreshRow(server, refreshToken);
  expect(row, 'refresh token row').toBeDefined();
  return (row as { grant_id: string }).grant_id;
}
