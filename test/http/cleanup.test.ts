/**
 * The cleanup of expired state (runCleanup) against real servers, on every backend: expired
 * codes, access tokens, refresh tokens, grants, sessions and unpublished keys go, in batches
 * smaller than the data; live state keeps working; two processes cleaning one database at
 * once neither fail nor double-count. Expired state comes from real flows whose expiry is then
 * moved into the past in the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCleanup } from '../../src/management/cleanup.js';
import { CODE_PURPOSE } from '../../src/oauth/authorization-codes.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { BACKENDS } from '../helpers/backends.js';
import { signIn, TestBrowser } from '../helpers/browser.js';
import { issueRefreshable } from '../helpers/endpoints.js';
import { refresh } from '../helpers/lifecycle.js';
import { apiGet, tokenRequest } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { API_PATH, codeFor, createSideUser, decodeJwt, expectTokenError, expectTokenSuccess, issueToken, type SideUser, type TestClient } from '../helpers/tokens.js';

const BATCH = 2;
const TABLES = ['authorization_codes', 'access_tokens', 'refresh_tokens', 'grants', 'sessions', 'signing_keys'] as const;
type Table = (typeof TABLES)[number];
type Counts = Record<Table, number>;

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe.each(BACKENDS)('cleanup of expired state (%s)', (backend) => {
  let server: TestServer;
  let twin: RunningServer | undefined;
  let user: SideUser;
  /** Confidential, skip consent, no refresh tokens. */
  let client: TestClient;
  /** Confidential, skip consent, with refresh tokens. */
  let refreshClient: TestClient;
  let sessionUsers = 0;

  beforeAll(async () => {
    server = await startTestServer(backend, { cleanupBatchSize: BATCH, cleanupInterval: 0 });
    user = await createSideUser(server, 'storefront');
    client = await server.createClient({ side: 'storefront', skipConsent: true });
    refreshClient = await server.createClient({ side: 'storefront', skipConsent: true, grants: ['authorization_code', 'refresh_token'] });
  });
  afterAll(async () => {
    await twin?.close();
    await server?.close();
  });

  const db = () => server.grantry.database.db;
  const exchange = (c: TestClient, code: string) =>
    tokenRequest(server.url, { grant_type: 'authorization_code', client_id: c.clientId, client_secret: c.clientSecret, redirect_uri: c.redirectUri, code });
  const grantOf = async (accessToken: string) =>
    (await db().selectFrom('access_tokens').select('grant_id').where('jti', '=', decodeJwt(accessToken).payload.jti as string).executeTakeFirstOrThrow()).grant_id;

  /** Rows whose expiry is in the past, per table: what cleanup should leave at zero. */
  async function expiredRows(now: number): Promise<Counts> {
    const count = async (table: Table, column: 'expires_at' | 'published_until') => {
      const row = await db().selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where(column, '<', now).executeTakeFirstOrThrow();
      return Number(row.n);
    };
    return {
      authorization_codes: await count('authorization_codes', 'expires_at'),
      access_tokens: await count('access_tokens', 'expires_at'),
      refresh_tokens: await count('refresh_tokens', 'expires_at'),
      grants: await count('grants', 'expires_at'),
      sessions: await count('sessions', 'expires_at'),
      signing_keys: await count('signing_keys', 'published_until'),
    };
  }

  interface Expired {
    counts: Counts;
    codeHashes: string[];
    accessJtis: string[];
    refreshGrantIds: string[];
    expiredRefresh: Array<{ client: TestClient; token: string }>;
    grantIds: string[];
    sessionUserIds: number[];
    kids: string[];
  }

  /**
   * Runs real flows and moves their expiry into the past. Each kind lives on its own grants so
   * that the per-table counts are exact (a deleted grant takes its children along uncounted).
   */
  async function makeExpired(n: Counts): Promise<Expired> {
    const past = nowSeconds() - 60;

    // Keys first, so that every token issued below is signed with the newest key, which stays.
    for (let i = 0; i < n.signing_keys; i++) await server.grantry.keys.rotate('ES256', 0);
    const signing = server.grantry.keys.signingKey().kid;
    const kids = (await db().selectFrom('signing_keys').select('kid').where('kid', '!=', signing).where('published_until', 'is not', null).execute()).map((r) => r.kid);
    expect(kids).toHaveLength(n.signing_keys);
    if (kids.length) await db().updateTable('signing_keys').set({ published_until: past }).where('kid', 'in', kids).execute();
    await server.grantry.keys.load();
    await twin?.grantry.keys.load();

    const codeHashes: string[] = [];
    for (let i = 0; i < n.authorization_codes; i++) codeHashes.push(server.grantry.hasher.storageKey(CODE_PURPOSE, await codeFor(user, client)));
    if (codeHashes.length) await db().updateTable('authorization_codes').set({ expires_at: past }).where('code_hash', 'in', codeHashes).execute();

    const accessJtis: string[] = [];
    for (let i = 0; i < n.access_tokens; i++) accessJtis.push(decodeJwt((await issueToken(server, 'storefront', { user, client })).accessToken).payload.jti as string);
    if (accessJtis.length) await db().updateTable('access_tokens').set({ expires_at: past }).where('jti', 'in', accessJtis).execute();

    const refreshGrantIds: string[] = [];
    const expiredRefresh: Array<{ client: TestClient; token: string }> = [];
    for (let i = 0; i < n.refresh_tokens; i++) {
      const t = await issueRefreshable(server, 'storefront', { user, client: refreshClient });
      refreshGrantIds.push(await grantOf(t.accessToken));
      expiredRefresh.push({ client: refreshClient, token: t.refreshToken });
    }
    if (refreshGrantIds.length) await db().updateTable('refresh_tokens').set({ expires_at: past }).where('grant_id', 'in', refreshGrantIds).execute();

    const grantIds: string[] = [];
    for (let i = 0; i < n.grants; i++) grantIds.push(await grantOf((await issueToken(server, 'storefront', { user, client })).accessToken));
    if (grantIds.length) await db().updateTable('grants').set({ expires_at: past }).where('id', 'in', grantIds).execute();

    const sessionUserIds: number[] = [];
    for (let i = 0; i < n.sessions; i++) {
      const u = await server.createCustomerUser(`session-${backend}-${++sessionUsers}@example.com`);
      const login = await signIn(new TestBrowser(server.url), 'storefront', u.email, u.password);
      expect(login.status).toBe(303);
      sessionUserIds.push(u.id);
    }
    if (sessionUserIds.length) await db().updateTable('sessions').set({ expires_at: past }).where('side', '=', 'storefront').where('user_id', 'in', sessionUserIds).execute();

    return { counts: n, codeHashes, accessJtis, refreshGrantIds, expiredRefresh, grantIds, sessionUserIds, kids };
  }

  /** None of the expired rows is left. */
  async function expectGone(e: Expired): Promise<void> {
    const left = async (table: Table, column: string, values: Array<string | number>) =>
      values.length ? (await db().selectFrom(table).selectAll().where(column as never, 'in', values as never).execute()).length : 0;
    expect(await left('authorization_codes', 'code_hash', e.codeHashes)).toBe(0);
    expect(await left('access_tokens', 'jti', e.accessJtis)).toBe(0);
    expect(await left('refresh_tokens', 'grant_id', e.refreshGrantIds)).toBe(0);
    expect(await left('grants', 'id', e.grantIds)).toBe(0);
    expect(await left('signing_keys', 'kid', e.kids)).toBe(0);
    const sessions = e.sessionUserIds.length
      ? await db().selectFrom('sessions').selectAll().where('side', '=', 'storefront').where('user_id', 'in', e.sessionUserIds).execute()
      : [];
    expect(sessions).toHaveLength(0);
    // Cascade: the children of deleted grants are gone too.
    if (e.grantIds.length) {
      expect(await db().selectFrom('access_tokens').selectAll().where('grant_id', 'in', e.grantIds).execute()).toHaveLength(0);
      expect(await db().selectFrom('authorization_codes').selectAll().where('grant_id', 'in', e.grantIds).execute()).toHaveLength(0);
    }
    expect(await expiredRows(nowSeconds())).toEqual({ authorization_codes: 0, access_tokens: 0, refresh_tokens: 0, grants: 0, sessions: 0, signing_keys: 0 });
  }

  interface Live {
    code: string;
    accessToken: string;
    refreshable: Awaited<ReturnType<typeof issueRefreshable>>;
    /** A refresh token already rotated: kept until it expires, for reuse detection. */
    used: { old: string; successorAccess: string; successorRefresh: string };
  }

  async function makeLive(): Promise<Live> {
    const code = await codeFor(user, client);
    const { accessToken } = await issueToken(server, 'storefront', { user, client });
    const refreshable = await issueRefreshable(server, 'storefront', { user, client: refreshClient });
    const rotating = await issueRefreshable(server, 'storefront', { user, client: refreshClient });
    const rotated = await refresh(server, refreshClient, rotating.refreshToken);
    const successorAccess = expectTokenSuccess(rotated);
    return { code, accessToken, refreshable, used: { old: rotating.refreshToken, successorAccess, successorRefresh: rotated.json.refresh_token as string } };
  }

  /** Everything live still works after the cleanup, on `baseUrl` (this server or its twin). */
  async function expectLiveWorks(live: Live, baseUrl = server.url): Promise<void> {
    expect((await apiGet(baseUrl, API_PATH.storefront, live.accessToken)).status).toBe(200);
    expect((await apiGet(baseUrl, API_PATH.storefront, live.refreshable.accessToken)).status).toBe(200);
    expect((await apiGet(baseUrl, API_PATH.storefront, live.used.successorAccess)).status).toBe(200);
    expectTokenSuccess(await exchange(client, live.code));
    expectTokenSuccess(await refresh(server, refreshClient, live.refreshable.refreshToken));
    // The session survived: authorize goes straight back to the client, without a login page.
    const again = await user.browser.get(`/oauth2-token/authorize?${new URLSearchParams({ response_type: 'code', client_id: client.clientId })}`);
    expect(again.status).toBe(302);
    expect(new URL(again.location as string).searchParams.get('code')).toBeTruthy();
    // The used refresh token was kept: presenting it again is detected as reuse and kills its family.
    expectTokenError(await refresh(server, refreshClient, live.used.old), 400, 'invalid_grant');
    expect((await apiGet(baseUrl, API_PATH.storefront, live.used.successorAccess)).status).toBe(401);
    expectTokenError(await refresh(server, refreshClient, live.used.successorRefresh), 400, 'invalid_grant');
  }

  /** The effects seen by clients of what was deleted. */
  async function expectExpiredRefused(e: Expired): Promise<void> {
    for (const { client: c, token } of e.expiredRefresh) expectTokenError(await refresh(server, c, token), 400, 'invalid_grant');
  }

  it(`deletes exactly the expired codes, tokens, grants, sessions and keys in batches of ${BATCH}, and live state keeps working`, async () => {
    const counts: Counts = { authorization_codes: 5, access_tokens: 5, refresh_tokens: 3, grants: 3, sessions: 3, signing_keys: 3 };
    const expired = await makeExpired(counts);
    // Live state comes after the key rotations, so it is signed with the key that stays.
    const live = await makeLive();
    const now = nowSeconds();
    expect(await expiredRows(now)).toEqual(counts);
    // Every kind has more rows than one batch holds, or as many: the loop must go on.
    for (const table of TABLES) expect(counts[table]).toBeGreaterThan(BATCH);

    const deleted = await runCleanup(server.grantry);
    expect(deleted).toEqual({ ...counts, failed_attempts: 0, audit_events: 0 });
    await expectGone(expired);
    await expectExpiredRefused(expired);
    // The JWKS no longer shows the deleted keys; the signing key is still there.
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    const kids = jwks.keys.map((k) => k.kid);
    for (const kid of expired.kids) expect(kids).not.toContain(kid);
    expect(kids).toContain(server.grantry.keys.signingKey().kid);
    await expectLiveWorks(live);

    // A second run finds nothing left to do.
    expect(await runCleanup(server.grantry)).toEqual({ authorization_codes: 0, access_tokens: 0, refresh_tokens: 0, grants: 0, sessions: 0, signing_keys: 0, failed_attempts: 0, audit_events: 0 });
  });

  it('exactly at the expiry second nothing is deleted; one second later it is', async () => {
    const t = await issueToken(server, 'storefront', { user, client });
    const jti = decodeJwt(t.accessToken).payload.jti as string;
    const row = await db().selectFrom('access_tokens').selectAll().where('jti', '=', jti).executeTakeFirstOrThrow();
    // Tokens issued in earlier seconds may go; this one, expiring exactly now, stays.
    await runCleanup(server.grantry, row.expires_at);
    expect(await db().selectFrom('access_tokens').select('jti').where('jti', '=', jti).executeTakeFirst()).toBeDefined();
    const after = await runCleanup(server.grantry, row.expires_at + 1);
    expect(after.access_tokens).toBeGreaterThanOrEqual(1);
    expect(await db().selectFrom('access_tokens').select('jti').where('jti', '=', jti).executeTakeFirst()).toBeUndefined();
  });

  it('two processes cleaning one database at once: no error, and together they delete each expired row once', async () => {
    twin = await startServer(server.config, () => {});
    expect(twin.grantry.config.cleanupBatchSize).toBe(BATCH);
    // Start from a clean slate, whatever the previous test left behind.
    await runCleanup(server.grantry);
    for (let round = 0; round < 3; round++) {
      const counts: Counts = { authorization_codes: 9, access_tokens: 8, refresh_tokens: 5, grants: 5, sessions: 3, signing_keys: 3 };
      const expired = await makeExpired(counts);
      const live = await makeLive();
      expect(await expiredRows(nowSeconds())).toEqual(counts);
      const results = await Promise.all([runCleanup(server.grantry), runCleanup(twin.grantry)]);
      const total = Object.fromEntries(TABLES.map((table) => [table, results.reduce((sum, r) => sum + (r[table] ?? 0), 0)]));
      expect(total, `round ${round}`).toEqual(counts);
      await expectGone(expired);
      await expectLiveWorks(live, round % 2 === 0 ? server.url : twin.url);
    }
  }, 60_000);

  it('authorizations that expired as a whole (grant, code, access and refresh tokens) are cleaned up by three concurrent runs without error', async () => {
    twin ??= await startServer(server.config, () => {});
    await runCleanup(server.grantry);
    const grantIds: string[] = [];
    for (let i = 0; i < 12; i++) grantIds.push(await grantOf((await issueRefreshable(server, 'storefront', { user, client: refreshClient })).accessToken));
    const past = nowSeconds() - 60;
    await db().updateTable('grants').set({ expires_at: past }).where('id', 'in', grantIds).execute();
    await db().updateTable('authorization_codes').set({ expires_at: past }).where('grant_id', 'in', grantIds).execute();
    await db().updateTable('access_tokens').set({ expires_at: past }).where('grant_id', 'in', grantIds).execute();
    await db().updateTable('refresh_tokens').set({ expires_at: past }).where('grant_id', 'in', grantIds).execute();
    const before = await expiredRows(nowSeconds());
    expect(before).toMatchObject({ authorization_codes: 12, access_tokens: 12, refresh_tokens: 12, grants: 12 });

    const results = await Promise.all([runCleanup(server.grantry), runCleanup(twin.grantry), runCleanup(server.grantry)]);
    const sum = (table: Table) => results.reduce((total, r) => total + (r[table] ?? 0), 0);
    // Grants are deleted only by their own step; the children either directly or by cascade.
    expect(sum('grants')).toBe(12);
    for (const table of ['authorization_codes', 'access_tokens', 'refresh_tokens'] as const) expect(sum(table)).toBeLessThanOrEqual(12);
    expect(await expiredRows(nowSeconds())).toEqual({ authorization_codes: 0, access_tokens: 0, refresh_tokens: 0, grants: 0, sessions: 0, signing_keys: 0 });
    expect(await db().selectFrom('grants').selectAll().where('id', 'in', grantIds).execute()).toHaveLength(0);
  }, 60_000);
});
