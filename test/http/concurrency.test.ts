/**
 * Authorization codes are consumed atomically: of any number of concurrent exchanges of one
 * code exactly one succeeds, on every backend and across server instances sharing a database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { BACKENDS } from '../helpers/backends.js';
import { apiGet, pkcePair, type TokenCall, tokenRequest } from '../helpers/oauth.js';
import type { TestServer } from '../helpers/server.js';
import { API_PATH, codeFor, expectTokenError, expectTokenSuccess, SIDES, type SideUser, startServerWithSideUsers, type TestClient } from '../helpers/tokens.js';

const RACERS = 50;

/** Exactly one 200 and RACERS - 1 invalid_grant; returns the winner's access token. */
function expectOneWinner(calls: TokenCall[]): string {
  const statuses = calls.map((c) => c.status);
  const winners = calls.filter((c) => c.status === 200);
  expect(winners, `statuses: ${JSON.stringify(statuses)}`).toHaveLength(1);
  const losers = calls.filter((c) => c.status !== 200);
  expect(losers).toHaveLength(calls.length - 1);
  for (const loser of losers) expectTokenError(loser, 400, 'invalid_grant');
  return expectTokenSuccess(winners[0] as TokenCall);
}

describe.each(BACKENDS)('concurrent code exchanges (%s)', (backend) => {
  let server: TestServer;
  /** A second server instance on the same database, secret and signing key. */
  let twin: RunningServer;
  let users: Record<SideName, SideUser>;

  beforeAll(async () => {
    ({ server, users } = await startServerWithSideUsers(backend));
    twin = await startServer(server.config, () => {});
  });
  afterAll(async () => {
    await twin?.close();
    await server?.close();
  });

  const body = (client: TestClient, code: string, verifier?: string) => ({
    grant_type: 'authorization_code',
    client_id: client.clientId,
    client_secret: client.clientSecret,
    redirect_uri: client.redirectUri,
    code,
    code_verifier: verifier,
  });

  describe.each(SIDES)('%s', (side) => {
    it(`${RACERS} concurrent exchanges of one code on one server: exactly one 200, the rest invalid_grant`, async () => {
      const client = await server.createClient({ side });
      const code = await codeFor(users[side], client);
      const calls = await Promise.all(
        Array.from({ length: RACERS }, (_, i) => tokenRequest(server.url, body(client, code), { format: i % 2 ? 'form' : 'json' })),
      );
      const token = expectOneWinner(calls);
      // Every loser presented an already used code, so the token issued from it is revoked.
      const api = await apiGet(server.url, API_PATH[side], token);
      expect(api.status).toBe(401);
      expect(api.headers.get('www-authenticate')).toContain('error="invalid_token"');
    });

    it(`${RACERS} concurrent exchanges of one public-client code (PKCE): exactly one 200`, async () => {
      const client = await server.createClient({ side, type: 'public' });
      const { verifier, challenge } = pkcePair();
      const code = await codeFor(users[side], client, { code_challenge: challenge, code_challenge_method: 'S256' });
      const calls = await Promise.all(Array.from({ length: RACERS }, () => tokenRequest(server.url, body(client, code, verifier))));
      expectOneWinner(calls);
    });

    it(`${RACERS} concurrent exchanges of one code split between two servers on one database: exactly one 200`, async () => {
      const client = await server.createClient({ side });
      const code = await codeFor(users[side], client);
      const calls = await Promise.all(
        Array.from({ length: RACERS }, (_, i) => tokenRequest(i % 2 ? twin.url : server.url, body(client, code), { format: i % 3 ? 'json' : 'form' })),
      );
      expectOneWinner(calls);
    });

    it('concurrent exchanges of different codes all succeed, on both servers', async () => {
      const client = await server.createClient({ side });
      const codes: string[] = [];
      for (let i = 0; i < 10; i += 1) codes.push(await codeFor(users[side], client));
      const calls = await Promise.all(codes.map((code, i) => tokenRequest(i % 2 ? twin.url : server.url, body(client, code))));
      expect(calls.map((c) => c.status)).toEqual(codes.map(() => 200));
      const tokens = calls.map((c) => expectTokenSuccess(c));
      expect(new Set(tokens).size).toBe(tokens.length);
      // A token minted by one server is accepted by the other.
      expect((await apiGet(twin.url, API_PATH[side], tokens[0])).status).toBe(200);
      expect((await apiGet(server.url, API_PATH[side], tokens[1])).status).toBe(200);
    });
  });

  it('the second server shares the database, the secret and the signing key', () => {
    expect(twin.url).not.toBe(server.url);
    expect(twin.grantry.keys.signingKey().kid).toBe(server.grantry.keys.signingKey().kid);
    expect(twin.grantry.hasher.hash('x', 'y')).toBe(server.grantry.hasher.hash('x', 'y'));
  });
});
