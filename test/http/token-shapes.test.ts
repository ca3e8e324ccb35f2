/**
 * time_ordered_tokens: codes and refresh tokens that start with their time (the default), or,
 * while nodes of older builds still serve, 256 random bits alone, stored under their keyed hash
 * as those builds store them. Two servers on one database, one with the setting off, one with it
 * on (a rolling upgrade): each accepts the other's tokens, on every backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { CODE_PURPOSE } from '../../src/oauth/authorization-codes.js';
import { REFRESH_TOKEN_PURPOSE } from '../../src/oauth/token-issuer.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { BACKENDS } from '../helpers/backends.js';
import { TestBrowser } from '../helpers/browser.js';
import { pairOf, refresh, refreshClient, refreshRow } from '../helpers/lifecycle.js';
import { tokenRequest } from '../helpers/oauth.js';
import type { TestServer } from '../helpers/server.js';
import { clientAuth, codeFor, expectTokenSuccess, type SideUser, startServerWithSideUsers } from '../helpers/tokens.js';

const TIMED = /^[0-9a-f]{12}[A-Za-z0-9_-]{43}$/;
const RANDOM_ONLY = /^[A-Za-z0-9_-]{43}$/;

describe.each(BACKENDS)('code and refresh-token shapes (%s)', (backend) => {
  let older: TestServer;
  let newer: RunningServer;
  let user: SideUser;

  beforeAll(async () => {
    let users: Record<'backoffice' | 'storefront', SideUser>;
    ({ server: older, users } = await startServerWithSideUsers(backend, { timeOrderedTokens: false }));
    user = users.backoffice;
    newer = await startServer({ ...older.config, timeOrderedTokens: true }, () => {});
  });
  afterAll(async () => {
    await newer?.close();
    await older?.close();
  });

  it('is on by default', () => {
    expect(loadConfig({ env: {} }).timeOrderedTokens).toBe(true);
    expect(loadConfig({ env: { GRANTRY_TIME_ORDERED_TOKENS: 'false' } }).timeOrderedTokens).toBe(false);
  });

  it('with the setting off, codes and refresh tokens are 256 random bits stored under their keyed hash alone, as older builds store them', async () => {
    const client = await refreshClient(older, 'backoffice');
    const code = await codeFor(user, client);
    expect(code).toMatch(RANDOM_ONLY);
    const stored = await older.grantry.database.db.selectFrom('authorization_codes').select('code_hash').where('code_hash', '=', older.grantry.hasher.hash(CODE_PURPOSE, code)).executeTakeFirst();
    expect(stored).toBeDefined();
    const pair = pairOf(await tokenRequest(older.url, { grant_type: 'authorization_code', ...clientAuth(client), redirect_uri: client.redirectUri, code }));
    expect(pair.refreshToken).toMatch(RANDOM_ONLY);
    expect((await refreshRow(older, pair.refreshToken))?.token_hash).toBe(older.grantry.hasher.hash(REFRESH_TOKEN_PURPOSE, pair.refreshToken));
  });

  it("each server takes the other's codes and refresh tokens, and issues its own shape", async () => {
    const client = await refreshClient(older, 'backoffice');
    // A code of the older shape, exchanged on the newer server: its refresh token is timed.
    const oldCode = await codeFor(user, client);
    const fromNewer = pairOf(await tokenRequest(newer.url, { grant_type: 'authorization_code', ...clientAuth(client), redirect_uri: client.redirectUri, code: oldCode }));
    expect(fromNewer.refreshToken).toMatch(TIMED);
    // Refreshed on the older-shape server, and that one's refreshed on the newer again.
    const back = pairOf(await refresh(older, client, fromNewer.refreshToken));
    expect(back.refreshToken).toMatch(RANDOM_ONLY);
    const forth = pairOf(await tokenRequest(newer.url, { grant_type: 'refresh_token', ...clientAuth(client), refresh_token: back.refreshToken }));
    expect(forth.refreshToken).toMatch(TIMED);
    // A timed code, from the newer server's authorize endpoint, exchanged on the older-shape server.
    const timedCode = await codeFor({ ...user, browser: new TestBrowser(newer.url) }, client);
    expect(timedCode).toMatch(TIMED);
    const fromOlder = pairOf(await tokenRequest(older.url, { grant_type: 'authorization_code', ...clientAuth(client), redirect_uri: client.redirectUri, code: timedCode }));
    expect(fromOlder.refreshToken).toMatch(RANDOM_ONLY);
    expectTokenSuccess(await refresh(older, client, fromOlder.refreshToken));
  });
});
