/**
 * The audit trail over real flows, on both databases: every security-relevant event is recorded
 * once (table and log line) with who, from where and what, and no secret, password, code or token
 * ever appears in it. Retention is enforced by the cleanup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCleanup } from '../../src/management/cleanup.js';
import { type ActionContext, CLI } from '../../src/management/principal.js';
import { AuditTrail } from '../../src/management/audit.js';
import { openDatabase } from '../../src/storage/database.js';
import { createRepositories } from '../../src/storage/index.js';
import type { AuditRepository, NewAuditEvent } from '../../src/storage/repositories.js';
import { startServer } from '../../src/server.js';
import { freshDataDir, testConfig } from '../helpers/server.js';
import { BACKENDS } from '../helpers/backends.js';
import { signIn, TestBrowser } from '../helpers/browser.js';
import { revoke } from '../helpers/endpoints.js';
import { firstPair, pairOf, refresh, refreshClient } from '../helpers/lifecycle.js';
import { runAuthorize, tokenRequest } from '../helpers/oauth.js';
import type { TestServer } from '../helpers/server.js';
import { clientAuth, codeFor, createSideUser, expectTokenError, startServerWithSideUsers } from '../helpers/tokens.js';

describe.each(BACKENDS)('audit trail (%s)', (backend) => {
  let server: TestServer;
  const logged: NewAuditEvent[] = [];

  beforeAll(async () => {
    ({ server } = await startServerWithSideUsers(backend, { passwordGrantEnabled: true }));
    // The same events the server's logger gets, captured here.
    server.grantry.audit.logTo((event) => logged.push(event));
  });
  afterAll(() => server?.close());

  it('records login, consent, tokens, reuse, revocation and management actions, and never a secret', async () => {
    const secrets: string[] = [];
    // Only what this test does is compared with the log (the server's start recorded some events).
    const before = (await server.grantry.audit.list(CLI, { page: 1, size: 1 })).items[0]?.id ?? 0;
    logged.length = 0;
    const user = await createSideUser(server, 'backoffice');
    secrets.push(user.password);
    const client = await refreshClient(server, 'backoffice');
    secrets.push(client.clientSecret as string);

    // A failed sign-in (wrong password), then login + consent + code exchange.
    const wrong = 'not-the-password-123';
    secrets.push(wrong);
    expect((await signIn(new TestBrowser(server.url), 'backoffice', user.login, wrong)).status).toBe(401);
    const code = await codeFor(user, client);
    secrets.push(code);
    const exchange = { grant_type: 'authorization_code', ...clientAuth(client), redirect_uri: client.redirectUri, code };
    const pair = pairOf(await tokenRequest(server.url, exchange));
    secrets.push(pair.accessToken, pair.refreshToken);
    // The code again: reuse.
    expectTokenError(await tokenRequest(server.url, exchange), 400, 'invalid_grant');

    // Refresh, then the used refresh token again: reuse.
    const second = await firstPair(server, user, client);
    const rotated = pairOf(await refresh(server, client, second.refreshToken));
    secrets.push(second.accessToken, second.refreshToken, rotated.accessToken, rotated.refreshToken);
    expectTokenError(await refresh(server, client, second.refreshToken), 400, 'invalid_grant');

    // Consent denied.
    // The client was allowed above: prompt=consent asks again.
    const denied = await runAuthorize(user.browser, 'backoffice', { response_type: 'code', client_id: client.clientId, prompt: 'consent' }, { login: user.login, password: user.password, decision: 'deny' });
    expect(denied.searchParams.get('error')).toBe('access_denied');

    // Revocation at the endpoint.
    const third = await firstPair(server, user, client);
    secrets.push(third.accessToken, third.refreshToken);
    expect((await revoke(server.url, client, third.accessToken)).status).toBe(200);
    expect((await revoke(server.url, client, third.refreshToken)).status).toBe(200);

    // The password grant.
    const pw = await server.createClient({ side: 'backoffice', grants: ['password'] });
    secrets.push(pw.clientSecret as string);
    const pwToken = await tokenRequest(server.url, { grant_type: 'password', ...clientAuth(pw), username: user.login, password: user.password });
    expect(pwToken.status).toBe(200);
    secrets.push(pwToken.json.access_token as string);

    // Management by a console admin: a client and its new secret, a user's new password.
    const admin = (await server.grantry.users.get(CLI, 'backoffice', 'admin')) as { id: number; username: string };
    const ctx: ActionContext = { principal: { kind: 'user', side: 'backoffice', userId: admin.id, isAdmin: true, label: admin.username }, address: '198.51.100.4' };
    const created = await server.grantry.clients.create(ctx, { side: 'backoffice', name: 'Audited app', type: 'confidential', grants: ['authorization_code'], redirectUris: ['https://a.example/cb'] });
    const regenerated = await server.grantry.clients.rotateSecret(ctx, created.client.clientId);
    const newPassword = 'a-brand-new-password-9';
    await server.grantry.users.setPassword(ctx, 'backoffice', user.login, newPassword);
    secrets.push(created.clientSecret as string, regenerated.clientSecret, newPassword);

    const items = (await server.grantry.audit.list(CLI, { page: 1, size: 1000 })).items.filter((e) => e.id > before);
    const kinds = items.map((e) => e.kind);
    for (const kind of [
      'signin.failed',
      'signin.succeeded',
      'consent.granted',
      'consent.denied',
      'token.issued',
      'code.reused',
      'refresh_token.reused',
      'token.revoked',
      'client.created',
      'client.secret_regenerated',
      'user.password_set',
    ]) {
      expect(kinds, kind).toContain(kind);
    }
    // Each event once in the table and once in the log.
    expect(logged.map((e) => e.kind).sort()).toEqual([...kinds].sort());

    // A failed sign-in is the guesser's, not the account holder's: the actor is anonymous, the
    // account stays in the user column. A successful one is the user's.
    const failed = items.find((e) => e.kind === 'signin.failed' && e.userId === user.id);
    expect(failed).toMatchObject({ actor: 'anonymous', side: 'backoffice', address: '127.0.0.1', details: { via: 'login_form', reason: 'wrong_password' } });
    expect(items.find((e) => e.kind === 'signin.succeeded' && e.userId === user.id)).toMatchObject({ actor: `backoffice user ${user.id}` });
    const issued = items.filter((e) => e.kind === 'token.issued' && e.clientId === client.clientId);
    expect(issued[0]).toMatchObject({ userId: user.id, address: '127.0.0.1', details: { grant_type: expect.any(String), refresh_token: true } });
    expect(issued.map((e) => e.details.grant_type)).toContain('refresh_token');
    expect(items.find((e) => e.kind === 'client.secret_regenerated')).toMatchObject({ actor: 'admin', address: '198.51.100.4', clientId: created.client.clientId });
    expect(items.find((e) => e.kind === 'code.reused')).toMatchObject({ clientId: client.clientId, userId: user.id });
    // Whose a revoked access token was comes from its grant: its sub is the client's subject, not the user id.
    const revoked = items.filter((e) => e.kind === 'token.revoked' && e.clientId === client.clientId);
    expect(revoked.map((e) => [e.details.token_type, e.userId, e.side, e.address]).sort()).toEqual([
      ['access_token', user.id, 'backoffice', '127.0.0.1'],
      ['refresh_token', user.id, 'backoffice', '127.0.0.1'],
    ]);

    const everything = JSON.stringify(items) + JSON.stringify(logged);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(8);
      expect(everything.includes(secret), `a secret of ${secret.length} characters is in the audit trail`).toBe(false);
    }
  });

  it('a block by the client-secret limit is recorded, with the address and without the guessed secrets', async () => {
    const client = await server.createClient({ side: 'backoffice', grants: ['client_credentials'], owner: 'admin' });
    // Test servers see every request from 127.0.0.1: the address-wide count is shared with the other tests.
    const guesses = Array.from({ length: 2 * server.config.bruteForceMaxFailures + 1 }, (_, i) => `wrong-secret-guess-${i}`);
    let blocked = 0;
    for (const guess of guesses) {
      const result = await tokenRequest(server.url, { grant_type: 'client_credentials', client_id: client.clientId, client_secret: guess });
      if (result.status === 429) blocked += 1;
    }
    expect(blocked).toBeGreaterThan(0);
    const { items } = await server.grantry.audit.list(CLI, { kind: 'client_authentication.blocked', page: 1, size: 50 });
    expect(items.length).toBe(blocked);
    expect(items[0]).toMatchObject({ kind: 'client_authentication.blocked', address: '127.0.0.1', clientId: null });
    const everything = JSON.stringify(items);
    for (const guess of guesses) expect(everything.includes(guess)).toBe(false);
  });

  it('events older than audit_retention days are deleted by the cleanup, newer ones kept', async () => {
    const now = Math.floor(Date.now() / 1000);
    const retention = server.config.auditRetention * 86400;
    await server.grantry.audit.flush();
    await server.grantry.repos.audit.insert([
      { at: now - retention - 10, kind: 'keys.rotated', actor: 'cli', address: null, side: null, userId: null, clientId: 'old-event', details: {} },
      { at: now - retention + 600, kind: 'keys.rotated', actor: 'cli', address: null, side: null, userId: null, clientId: 'recent-event', details: {} },
    ]);
    const deleted = await runCleanup(server.grantry, now);
    expect(deleted.audit_events).toBe(1);
    expect((await server.grantry.audit.list(CLI, { clientId: 'old-event', page: 1, size: 10 })).total).toBe(0);
    expect((await server.grantry.audit.list(CLI, { clientId: 'recent-event', page: 1, size: 10 })).total).toBe(1);
  });

  it('blocked and failed sign-ins name no actor, even when the account exists', async () => {
    const marker = `blocked-${Date.now()}`;
    server.grantry.audit.emit({ kind: 'signin.blocked', side: 'backoffice', userId: 1, clientId: marker, address: '192.0.2.7' });
    server.grantry.audit.emit({ kind: 'signin.failed', side: 'storefront', userId: 2, clientId: marker, address: '192.0.2.7' });
    server.grantry.audit.emit({ kind: 'client_authentication.blocked', clientId: marker, address: '192.0.2.7' });
    server.grantry.audit.emit({ kind: 'token.issued', side: 'backoffice', userId: 1, clientId: marker });
    const { items } = await server.grantry.audit.list(CLI, { clientId: marker, page: 1, size: 10 });
    expect(items.map((e) => [e.kind, e.actor, e.userId])).toEqual([
      ['token.issued', 'backoffice user 1', 1],
      ['client_authentication.blocked', 'anonymous', null],
      ['signin.failed', 'anonymous', 2],
      ['signin.blocked', 'anonymous', 1],
    ]);
  });

  it('an over-long address (X-Forwarded-For) is cut to its column and loses no event of its batch', async () => {
    const marker = `long-${Date.now()}`;
    const long = '2001:db8:'.repeat(12);
    for (let i = 0; i < 3; i += 1) server.grantry.audit.emit({ kind: 'signin.blocked', side: 'backoffice', clientId: marker, address: '203.0.113.9', details: { n: i } });
    server.grantry.audit.emit({ kind: 'signin.failed', side: 'backoffice', clientId: marker, address: long, details: { note: 'y'.repeat(5000) } });
    server.grantry.audit.action({ principal: { kind: 'user', side: 'backoffice', userId: 1, isAdmin: true, label: 'u'.repeat(400) }, address: long }, { kind: 'client.updated', clientId: marker });
    const { items } = await server.grantry.audit.list(CLI, { clientId: marker, page: 1, size: 10 });
    expect(items).toHaveLength(5);
    const [action, failed] = items as [(typeof items)[0], (typeof items)[0]];
    expect(action.actor.length).toBeLessThanOrEqual(255);
    expect(action.address).toBe(long.slice(0, 64));
    expect(failed.address).toBe(long.slice(0, 64));
    expect(JSON.stringify(failed.details).length).toBeLessThanOrEqual(2048);
    expect(failed.details).toMatchObject({ truncated: true });
  });

  it('a batch the database refuses is written again row by row: only the refused row is lost, and reported', async () => {
    const marker = `refused-${Date.now()}`;
    const real = server.grantry.repos.audit;
    // The real database refuses this row (kind is NOT NULL), and with it the whole multi-row insert.
    const repo: AuditRepository = {
      insert: (events) => real.insert(events.map((e) => (e.details.refuse ? { ...e, kind: null as unknown as string } : e))),
      list: (filter, offset, limit) => real.list(filter, offset, limit),
    };
    const errors: unknown[] = [];
    const trail = new AuditTrail(repo, (e) => errors.push(e));
    trail.emit({ kind: 'signin.blocked', side: 'backoffice', clientId: marker, details: { n: 1 } });
    trail.emit({ kind: 'signin.failed', side: 'backoffice', clientId: marker, details: { refuse: true } });
    trail.emit({ kind: 'signin.blocked', side: 'backoffice', clientId: marker, details: { n: 2 } });
    await trail.close();
    const { items } = await real.list({ clientId: marker }, 0, 10);
    expect(items.map((e) => e.details)).toEqual([{ n: 2 }, { n: 1 }]);
    expect(errors).toHaveLength(1);
  });
});

describe.each(BACKENDS)('audit trail when the server stops (%s)', (backend) => {
  it('close() (what SIGTERM runs) writes the buffered events before the database closes', async () => {
    const data = await freshDataDir(backend, 'grantry-audit-close-');
    try {
      const running = await startServer(testConfig(data.dir, data.databaseUrl, { cleanupInterval: 0 }), () => {});
      for (let i = 0; i < 7; i += 1) running.grantry.audit.emit({ kind: 'signin.blocked', side: 'backoffice', clientId: 'before-stop', details: { n: i } });
      await running.close();
      const database = openDatabase(data.databaseUrl);
      try {
        const { total } = await createRepositories(database.db).audit.list({ clientId: 'before-stop' }, 0, 10);
        expect(total).toBe(7);
      } finally {
        await database.close();
      }
    } finally {
      await data.remove();
    }
  });
});
