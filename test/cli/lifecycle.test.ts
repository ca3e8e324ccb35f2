/**
 * The token-lifecycle commands against a real database, on SQLite and on PostgreSQL: client
 * create/update/rotate-secret with grants, scopes, owners, guests and the OpenID Connect settings, keys rotate/list, cleanup
 * and token revoke. The CLI runs as a child process; a server runs in this process on the same
 * database (and data folder, hence the same server secret) to issue tokens and check what the
 * token endpoint and the APIs make of the CLI's changes.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/server.js';
import { BACKENDS } from '../helpers/backends.js';
import { apiGet, tokenRequest } from '../helpers/oauth.js';
import { type DataDir, freshDataDir, PUBLIC_URL, testConfig } from '../helpers/server.js';
import { type CliResult, cliEnv, expectFailure, okJson, onlyJson, runCli } from './run.js';
import { CLI } from '../../src/management/principal.js';
import { REFRESH_TOKEN_PURPOSE } from '../../src/oauth/token-issuer.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const SCOPES = { api: 'Use the API', read: 'Read your data', write: 'Change your data' };
const OPS_PASSWORD = 'ops-password-1';
const CUSTOMER_PASSWORD = 'customer-password-1';
const BACKOFFICE_API = '/admin/api/users';
const STOREFRONT_API = '/api/customerusers/mine';

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe.each(BACKENDS)('grantry client, keys, cleanup and token commands of the token lifecycle (%s)', (backend) => {
  let data: DataDir;
  let env: Record<string, string>;
  let server: RunningServer;
  let ops: { id: number };
  let auditor: { id: number };
  let customer: { id: number };
  const cli = (args: string[], input?: string): Promise<CliResult> => runCli(args, env, input);

  /** Clients created in the first test, used by the later ones. */
  let machine: Record<string, any>; // backoffice, confidential, client_credentials
  let app: { clientId: string }; // storefront, public, code + refresh, guests
  let shop: Record<string, any>; // storefront, confidential, password + refresh

  const clientCredentials = (clientId: string, clientSecret: string) =>
    tokenRequest(server.url, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
  /** A storefront access and refresh token for the customer, through the password grant. */
  const customerPair = async () => {
    const call = await tokenRequest(server.url, { grant_type: 'password', client_id: shop.client_id, client_secret: shop.client_secret, username: 'customer@example.com', password: CUSTOMER_PASSWORD });
    expect(call.status, JSON.stringify(call.json)).toBe(200);
    return { access: call.json.access_token as string, refresh: call.json.refresh_token as string };
  };
  const machineToken = async (clientId: string, clientSecret: string) => {
    const call = await clientCredentials(clientId, clientSecret);
    expect(call.status, JSON.stringify(call.json)).toBe(200);
    return call.json.access_token as string;
  };
  const apiStatus = async (path: string, token: string) => (await apiGet(server.url, path, token)).status;

  beforeAll(async () => {
    data = await freshDataDir(backend, 'grantry-cli-lifecycle-');
    env = cliEnv(data.dir, data.databaseUrl, { GRANTRY_SCOPES: Object.keys(SCOPES).join(','), PUBLIC_URL });
    server = await startServer(testConfig(data.dir, data.databaseUrl, { scopes: SCOPES, passwordGrantEnabled: true, cleanupInterval: 0 }), () => {});
    const users = server.grantry.users;
    [ops, auditor, customer] = await Promise.all([
      users.createBackofficeUser(CLI, { username: 'ops', email: 'ops@example.com', password: OPS_PASSWORD }),
      users.createBackofficeUser(CLI, { username: 'auditor', email: 'auditor@example.com', password: OPS_PASSWORD }),
      users.createCustomerUser(CLI, { email: 'customer@example.com', password: CUSTOMER_PASSWORD }),
    ]);
  });
  afterAll(async () => {
    await server?.close();
    await data?.remove();
  });

  it('client create takes grants, --owner, --scope and --allow-guests, and shows them in create, show and list', async () => {
    const [machineRun, appRun, shopRun] = await Promise.all([
      cli(['client', 'create', '--side', 'backoffice', '--name', 'Importer', '--type', 'confidential', '--grant', 'client_credentials', '--owner', 'ops', '--scope', 'api', '--scope', 'read', '--json']),
      // Text output; no --scope: the configured default scope (api).
      cli(['client', 'create', '--side', 'storefront', '--name', 'App', '--type', 'public', '--grant', 'authorization_code', '--grant', 'refresh_token', '--redirect-uri', 'https://app.example/cb', '--allow-guests']),
      // The owner of a storefront client is named by email.
      cli(['client', 'create', '--side', 'storefront', '--name', 'Shop', '--type', 'confidential', '--grant', 'password', '--grant', 'refresh_token', '--owner', 'customer@example.com', '--json']),
    ]);
    machine = okJson(machineRun);
    expect(machine).toEqual({
      client_id: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/),
      client_secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      name: 'Importer',
      side: 'backoffice',
      type: 'confidential',
      grants: ['client_credentials'],
      redirect_uris: [],
      post_logout_redirect_uris: [],
      scopes: ['api', 'read'],
      owner_user_id: ops.id,
      allow_guests: false,
      skip_consent: false,
      id_token_signed_response_alg: null,
      subject_type: 'public',
      active: true,
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
      last_used_at: null,
    });
    expect(machineRun.stderr).toContain('the client secret is shown only this once');

    expect(appRun.code, appRun.stderr).toBe(0);
    expect(appRun.stdout).toMatch(
      /^Created public storefront client "App"\.\n  client_id\s+([A-Za-z0-9_-]{32})\n  grants\s+authorization_code, refresh_token\n  scopes\s+api\n  owner user\s+\(none\)\n  allow guests\s+yes\n$/,
    );
    app = { clientId: /client_id\s+(\S+)/.exec(appRun.stdout)?.[1] as string };

    shop = okJson(shopRun);
    expect(shop).toMatchObject({ side: 'storefront', grants: ['password', 'refresh_token'], redirect_uris: [], scopes: ['api'], owner_user_id: customer.id, allow_guests: false });

    const [show, showText, list, listText] = await Promise.all([
      cli(['client', 'show', app.clientId, '--json']),
      cli(['client', 'show', machine.client_id]),
      cli(['client', 'list', '--json']),
      cli(['client', 'list', '--side', 'storefront']),
    ]);
    expect(okJson(show)).toMatchObject({ client_id: app.clientId, grants: ['authorization_code', 'refresh_token'], scopes: ['api'], owner_user_id: null, allow_guests: true });
    expect(showText.stdout).toMatch(/^scopes\s+api read$/m);
    expect(showText.stdout).toMatch(new RegExp(`^owner user\\s+${ops.id}$`, 'm'));
    expect(showText.stdout).toMatch(/^allow guests\s+no$/m);
    const { client_secret: _secret, ...machineWithoutSecret } = machine;
    // Created concurrently, so in any order.
    const listed = okJson(list).clients as Array<Record<string, unknown>>;
    expect(listed.map((c) => c.name).sort()).toEqual(['App', 'Importer', 'Shop']);
    expect(listed.find((c) => c.client_id === machine.client_id)).toEqual(machineWithoutSecret);
    expect(listText.stdout).toMatch(/^CLIENT_ID\s+SIDE\s+TYPE\s+ACTIVE\s+SCOPES\s+OWNER\s+GUESTS\s+NAME$/m);
    expect(listText.stdout).toMatch(new RegExp(`^${app.clientId}\\s+storefront\\s+public\\s+yes\\s+api\\s+-\\s+yes\\s+App$`, 'm'));
    expect(listText.stdout).toMatch(new RegExp(`^${shop.client_id}\\s+storefront\\s+confidential\\s+yes\\s+api\\s+${customer.id}\\s+no\\s+Shop$`, 'm'));
  });

  it('client create refuses what ClientManager refuses, with exit 1: no owner for client_credentials, guests on the back office, unknown scope or owner, code grant without redirect URI', async () => {
    const confidential = (side: string, name: string) => ['client', 'create', '--side', side, '--name', name, '--type', 'confidential'];
    const [noOwner, guestsBackoffice, unknownScope, unknownOwner, noRedirect] = await Promise.all([
      cli([...confidential('backoffice', 'No owner'), '--grant', 'client_credentials', '--json']),
      cli([...confidential('backoffice', 'Guests'), '--grant', 'authorization_code', '--redirect-uri', 'https://a.example/cb', '--allow-guests']),
      cli([...confidential('backoffice', 'Admin scope'), '--grant', 'client_credentials', '--owner', 'ops', '--scope', 'api', '--scope', 'admin']),
      cli([...confidential('backoffice', 'Ghost owner'), '--grant', 'client_credentials', '--owner', 'ghost']),
      cli([...confidential('storefront', 'No redirect'), '--grant', 'authorization_code', '--grant', 'refresh_token']),
    ]);
    expectFailure(noOwner, 1, 'grantry: the client_credentials grant needs an owner user (--owner)');
    expect(onlyJson(noOwner)).toEqual({ error: 'invalid_input', message: 'the client_credentials grant needs an owner user (--owner)' });
    expectFailure(guestsBackoffice, 1, 'grantry: only storefront clients can allow guests');
    // The OpenID Connect scopes and Grantry's API scopes are always known, before the configured ones.
    expectFailure(unknownScope, 1, 'grantry: unknown scope admin; known: openid, profile, email, api, users:read, users:write, applications:read, applications:write, read, write');
    expectFailure(unknownOwner, 1, 'grantry: no backoffice user "ghost"');
    expectFailure(noRedirect, 1, 'grantry: the authorization_code grant needs at least one redirect URI');
    for (const r of [guestsBackoffice, unknownScope, unknownOwner, noRedirect]) expect(r.stdout).toBe('');
    expect((await server.grantry.clients.list(CLI, { page: 1, size: 100 })).total).toBe(3);
  });

  it('client update changes the options given, replaces repeatable lists whole and keeps the rest', async () => {
    const [renamed, app2] = await Promise.all([
      // api stays among the scopes: the machine's tokens are used at the API by the later tests.
      cli(['client', 'update', machine.client_id, '--name', 'Importer v2', '--scope', 'write', '--scope', 'api', '--owner', 'auditor@example.com', '--json']),
      cli(['client', 'update', app.clientId, '--redirect-uri', 'https://app.example/new', '--redirect-uri', 'com.example.app:/cb', '--skip-consent', '--no-allow-guests', '--json']),
    ]);
    const updated = okJson(renamed);
    const { client_secret: _secret, ...before } = machine;
    expect(updated).toEqual({ ...before, name: 'Importer v2', scopes: ['write', 'api'], owner_user_id: auditor.id, updated_at: expect.stringMatching(ISO) });
    expect(okJson(app2)).toMatchObject({
      name: 'App',
      grants: ['authorization_code', 'refresh_token'],
      redirect_uris: ['https://app.example/new', 'com.example.app:/cb'],
      scopes: ['api'],
      skip_consent: true,
      allow_guests: false,
    });

    // Text output; --no-skip-consent and --allow-guests turn them back; --grant replaces the grants.
    const text = await cli(['client', 'update', app.clientId, '--grant', 'authorization_code', '--allow-guests', '--no-skip-consent']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`Updated client ${app.clientId}.`);
    expect(text.stdout).toMatch(/^grants\s+authorization_code$/m);
    expect(text.stdout).toMatch(/^allow guests\s+yes$/m);
    expect(text.stdout).toMatch(/^skip consent\s+no$/m);
    expect(text.stdout).toMatch(/^redirect URIs\s+https:\/\/app\.example\/new\n\s+com\.example\.app:\/cb$/m);

    const [nothing, unknown, guests, codeWithoutRedirect] = await Promise.all([
      cli(['client', 'update', machine.client_id, '--json']),
      cli(['client', 'update', 'no-such-client', '--name', 'X']),
      cli(['client', 'update', machine.client_id, '--allow-guests']),
      cli(['client', 'update', machine.client_id, '--grant', 'authorization_code']),
    ]);
    expectFailure(nothing, 2, 'grantry: nothing to change');
    expect(onlyJson(nothing).error).toBe('usage');
    expectFailure(unknown, 1, 'grantry: no client with client_id "no-such-client"');
    expectFailure(guests, 1, 'grantry: only storefront clients can allow guests');
    expectFailure(codeWithoutRedirect, 1, 'grantry: the authorization_code grant needs at least one redirect URI');
    // The refused updates changed nothing.
    const stored = await server.grantry.clients.get(CLI, machine.client_id);
    expect(stored).toMatchObject({ name: 'Importer v2', grants: ['client_credentials'], allowGuests: false, scopes: ['write', 'api'], ownerUserId: auditor.id });
  });

  it('client create and update take the OpenID Connect settings: post-logout redirect URIs, the ID token algorithm and the subject type', async () => {
    const created = await cli([
      'client', 'create', '--side', 'storefront', '--name', 'OIDC app', '--type', 'confidential', '--grant', 'authorization_code', '--redirect-uri', 'https://oidc.example/cb',
      '--post-logout-redirect-uri', 'https://oidc.example/bye', '--post-logout-redirect-uri', 'com.example.oidc:/bye', '--id-token-alg', 'EdDSA', '--subject-type', 'pairwise', '--json',
    ]);
    const json = okJson(created);
    expect(json).toMatchObject({ post_logout_redirect_uris: ['https://oidc.example/bye', 'com.example.oidc:/bye'], id_token_signed_response_alg: 'EdDSA', subject_type: 'pairwise' });
    const id = json.client_id as string;
    expect(await server.grantry.clients.get(CLI, id)).toMatchObject({ postLogoutRedirectUris: ['https://oidc.example/bye', 'com.example.oidc:/bye'], idTokenSignedResponseAlg: 'EdDSA', subjectType: 'pairwise' });

    // show, as text and JSON, and list --json.
    const [showText, show, list] = await Promise.all([cli(['client', 'show', id]), cli(['client', 'show', id, '--json']), cli(['client', 'list', '--json'])]);
    expect(showText.code, showText.stderr).toBe(0);
    expect(showText.stdout).toMatch(/^post-logout URIs\s+https:\/\/oidc\.example\/bye\n\s+com\.example\.oidc:\/bye$/m);
    expect(showText.stdout).toMatch(/^ID token alg\s+EdDSA$/m);
    expect(showText.stdout).toMatch(/^subject type\s+pairwise$/m);
    const { client_secret: _secret, ...withoutSecret } = json;
    expect(okJson(show)).toEqual(withoutSecret);
    expect((okJson(list).clients as Array<Record<string, unknown>>).find((c) => c.client_id === id)).toEqual(withoutSecret);

    // An update that names none of them keeps them; the repeatable option replaces the list.
    expect(okJson(await cli(['client', 'update', id, '--name', 'OIDC app 2', '--json']))).toMatchObject({ name: 'OIDC app 2', post_logout_redirect_uris: ['https://oidc.example/bye', 'com.example.oidc:/bye'], id_token_signed_response_alg: 'EdDSA', subject_type: 'pairwise' });
    expect(okJson(await cli(['client', 'update', id, '--post-logout-redirect-uri', 'https://oidc.example/signed-out', '--id-token-alg', 'PS256', '--json']))).toMatchObject({
      post_logout_redirect_uris: ['https://oidc.example/signed-out'],
      id_token_signed_response_alg: 'PS256',
      subject_type: 'pairwise',
    });

    // Refusals: exit 1 with ClientManager's words, or exit 2 for a value outside the option's choices; nothing changes.
    const [badUri, withoutCode, unknownAlg, unknownSubject, both] = await Promise.all([
      cli(['client', 'update', id, '--post-logout-redirect-uri', 'http://oidc.example/bye', '--json']),
      cli(['client', 'create', '--side', 'backoffice', '--name', 'OIDC machine', '--type', 'confidential', '--grant', 'client_credentials', '--owner', 'ops', '--post-logout-redirect-uri', 'https://m.example/bye']),
      cli(['client', 'update', id, '--id-token-alg', 'HS256']),
      cli(['client', 'update', id, '--subject-type', 'random']),
      cli(['client', 'update', id, '--post-logout-redirect-uri', 'https://oidc.example/x', '--no-post-logout-redirect-uris']),
    ]);
    expectFailure(badUri, 1, 'grantry: post-logout redirect URI http://oidc.example/bye must use https (http is allowed only for loopback addresses)');
    expect(onlyJson(badUri)).toEqual({ error: 'invalid_input', message: 'post-logout redirect URI http://oidc.example/bye must use https (http is allowed only for loopback addresses)' });
    expectFailure(withoutCode, 1, 'grantry: post-logout redirect URIs are for clients with the authorization_code grant');
    expectFailure(unknownAlg, 2, /--id-token-alg <alg>' argument 'HS256' is invalid\. Allowed choices are RS256, PS256, ES256, EdDSA, server/);
    expectFailure(unknownSubject, 2, /--subject-type <type>' argument 'random' is invalid\. Allowed choices are public, pairwise/);
    expectFailure(both, 2, /'--no-post-logout-redirect-uris' cannot be used with option '--post-logout-redirect-uri <uri>'/);
    expect(await server.grantry.clients.get(CLI, id)).toMatchObject({ postLogoutRedirectUris: ['https://oidc.example/signed-out'], idTokenSignedResponseAlg: 'PS256', subjectType: 'pairwise' });

    // Cleared: no post-logout URIs, the server's key, public subjects.
    const cleared = await cli(['client', 'update', id, '--no-post-logout-redirect-uris', '--id-token-alg', 'server', '--subject-type', 'public']);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(cleared.stdout).toMatch(/^post-logout URIs\s+\(none\)$/m);
    expect(cleared.stdout).toMatch(/^ID token alg\s+server \(the server's signing key\)$/m);
    expect(cleared.stdout).toMatch(/^subject type\s+public$/m);
    expect(await server.grantry.clients.get(CLI, id)).toMatchObject({ name: 'OIDC app 2', postLogoutRedirectUris: [], idTokenSignedResponseAlg: null, subjectType: 'public' });
    expect(await server.grantry.clients.list(CLI, { search: 'OIDC machine', page: 1, size: 10 })).toMatchObject({ total: 0 });
    expect(okJson(await cli(['client', 'delete', id, '--json']))).toEqual({ deleted: true, client_id: id });
  });

  it('client rotate-secret prints a new secret once; the old one stops working at the token endpoint at once', async () => {
    expect((await clientCredentials(machine.client_id, machine.client_secret)).status).toBe(200);
    const rotated = await cli(['client', 'rotate-secret', machine.client_id, '--json']);
    const json = okJson(rotated);
    expect(Object.keys(json).slice(0, 2)).toEqual(['client_id', 'client_secret']);
    expect(json).toMatchObject({ client_id: machine.client_id, name: 'Importer v2', type: 'confidential', scopes: ['write', 'api'] });
    expect(json.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(json.client_secret).not.toBe(machine.client_secret);
    expect(rotated.stderr).toContain('the client secret is shown only this once');

    const [previous, fresh] = await Promise.all([clientCredentials(machine.client_id, machine.client_secret), clientCredentials(machine.client_id, json.client_secret)]);
    machine.client_secret = json.client_secret;
    expect(previous.status).toBe(401);
    expect(previous.json.error).toBe('invalid_client');
    expect(fresh.status, JSON.stringify(fresh.json)).toBe(200);

    const [publicClient, unknown] = await Promise.all([
      cli(['client', 'rotate-secret', app.clientId, '--json']),
      cli(['client', 'rotate-secret', 'no-such-client']),
    ]);
    expectFailure(publicClient, 1, 'grantry: public clients have no secret');
    expect(onlyJson(publicClient)).toEqual({ error: 'invalid_input', message: 'public clients have no secret' });
    expectFailure(unknown, 1, 'no client with client_id "no-such-client"');
  });

  it('token revoke TOKEN revokes an access token of any client: the API refuses it at once', async () => {
    const token = await machineToken(machine.client_id, machine.client_secret);
    expect(await apiStatus(BACKOFFICE_API, token)).toBe(200);
    expect(okJson(await cli(['token', 'revoke', token, '--json']))).toEqual({ revoked: 'access_token' });
    expect(await apiStatus(BACKOFFICE_API, token)).toBe(401);
  });

  it('token revoke reads the token from stdin (no argument or -): a refresh token takes its whole grant with it', async () => {
    const first = await customerPair();
    const second = await customerPair();
    expect(await apiStatus(STOREFRONT_API, first.access)).toBe(200);

    const [byStdin, byDash] = await Promise.all([cli(['token', 'revoke', '--json'], `${first.refresh}\n`), cli(['token', 'revoke', '-'], `${second.access}\r\n`)]);
    expect(okJson(byStdin)).toEqual({ revoked: 'refresh_token' });
    expect(byDash.code, byDash.stderr).toBe(0);
    expect(byDash.stdout).toBe('Revoked the access token.\n');

    // The access token issued with the revoked refresh token is refused too, and the refresh token is dead.
    expect(await apiStatus(STOREFRONT_API, first.access)).toBe(401);
    const refresh = await tokenRequest(server.url, { grant_type: 'refresh_token', client_id: shop.client_id, client_secret: shop.client_secret, refresh_token: first.refresh });
    expect(refresh.status).toBe(400);
    expect(refresh.json.error).toBe('invalid_grant');
    // Only the access token of the second pair was revoked: its refresh token still works.
    expect(await apiStatus(STOREFRONT_API, second.access)).toBe(401);
    const stillGood = await tokenRequest(server.url, { grant_type: 'refresh_token', client_id: shop.client_id, client_secret: shop.client_secret, refresh_token: second.refresh });
    expect(stillGood.status, JSON.stringify(stillGood.json)).toBe(200);

    const [unknown, forged, empty] = await Promise.all([
      cli(['token', 'revoke', '--json'], `${randomBytes(32).toString('base64url')}\n`),
      cli(['token', 'revoke', 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln']),
      cli(['token', 'revoke', '--json'], ''),
    ]);
    expectFailure(unknown, 1, 'grantry: unknown token');
    expect(onlyJson(unknown)).toEqual({ error: 'not_found', message: expect.stringContaining('unknown token') });
    expectFailure(forged, 1, 'grantry: unknown token');
    expectFailure(empty, 2, 'grantry: no token on standard input');
  });

  it('token revoke finds a refresh token of the older shape (stored under its keyed hash alone)', async () => {
    const pair = await customerPair();
    expect(pair.refresh).toMatch(/^[0-9a-f]{12}[A-Za-z0-9_-]{43}$/);
    const old = randomBytes(32).toString('base64url');
    const stored = (token: string, timed: boolean) => (timed ? server.grantry.hasher.storageKey(REFRESH_TOKEN_PURPOSE, token) : server.grantry.hasher.hash(REFRESH_TOKEN_PURPOSE, token));
    await server.grantry.database.db.updateTable('refresh_tokens').set({ token_hash: stored(old, false) }).where('token_hash', '=', stored(pair.refresh, true)).execute();
    expect(okJson(await cli(['token', 'revoke', old, '--json']))).toEqual({ revoked: 'refresh_token' });
    expect(await apiStatus(STOREFRONT_API, pair.access)).toBe(401);
  });

  it('token revoke TOKEN records token.revoked with the side, user and client of the token, never the token', async () => {
    const pair = await customerPair();
    const machineAccess = await machineToken(machine.client_id, machine.client_secret);
    okJson(await cli(['token', 'revoke', '--json'], `${pair.refresh}\n`));
    okJson(await cli(['token', 'revoke', '--json'], `${machineAccess}\n`));
    const listed = okJson(await cli(['audit', 'list', '--kind', 'token.revoked', '--size', '2', '--json']));
    expect(listed.events).toEqual([
      expect.objectContaining({ actor: 'cli', side: 'backoffice', client_id: machine.client_id, user_id: auditor.id, details: { token_type: 'access_token' } }),
      expect.objectContaining({ actor: 'cli', side: 'storefront', client_id: shop.client_id, user_id: customer.id, details: { token_type: 'refresh_token' } }),
    ]);
    const text = JSON.stringify(listed);
    for (const token of [pair.refresh, pair.access, machineAccess]) expect(text).not.toContain(token);
  });

  it('token revoke --client and --user --side revoke every grant and print how many', async () => {
    const { client: other, clientSecret } = await server.grantry.clients.create(CLI, { side: 'backoffice', name: 'Other', type: 'confidential', grants: ['client_credentials'], redirectUris: [], owner: 'ops' });
    const otherTokens = [await machineToken(other.clientId, clientSecret as string), await machineToken(other.clientId, clientSecret as string)];
    const machineTokenLeft = await machineToken(machine.client_id, machine.client_secret);
    const pairs = [await customerPair(), await customerPair()];

    const [byClient, byUser] = await Promise.all([
      cli(['token', 'revoke', '--client', other.clientId, '--json']),
      cli(['token', 'revoke', '--user', 'customer@example.com', '--side', 'storefront']),
    ]);
    expect(okJson(byClient)).toEqual({ revoked_grants: 2 });
    // The second pair of the previous test is still live: three grants of the customer.
    expect(byUser.code, byUser.stderr).toBe(0);
    expect(byUser.stdout).toBe(`Revoked 3 grant(s) of storefront user ${customer.id} with all their tokens.\n`);
    for (const token of otherTokens) expect(await apiStatus(BACKOFFICE_API, token)).toBe(401);
    for (const pair of pairs) expect(await apiStatus(STOREFRONT_API, pair.access)).toBe(401);
    // Another client's tokens are untouched.
    expect(await apiStatus(BACKOFFICE_API, machineTokenLeft)).toBe(200);

    const [again, byId, unknownClient, unknownUser] = await Promise.all([
      cli(['token', 'revoke', '--client', other.clientId, '--json']),
      cli(['token', 'revoke', '--user', String(customer.id), '--side', 'storefront', '--json']),
      cli(['token', 'revoke', '--client', 'no-such-client', '--json']),
      cli(['token', 'revoke', '--user', 'nobody@example.com', '--side', 'storefront']),
    ]);
    expect(okJson(again)).toEqual({ revoked_grants: 0 });
    expect(okJson(byId)).toEqual({ revoked_grants: 0 });
    expectFailure(unknownClient, 1, 'grantry: no client with client_id "no-such-client"');
    expect(onlyJson(unknownClient).error).toBe('not_found');
    expectFailure(unknownUser, 1, 'grantry: no storefront user "nobody@example.com"');
  });

  it('keys rotate adds a key (signing at once with --delay 0, pending with a delay); keys list shows every state', async () => {
    const [seed] = server.grantry.keys.all();
    const now = okJson(await cli(['keys', 'rotate', '--delay', '0', '--json']));
    expect(now).toEqual({ kid: expect.any(String), alg: 'RS256', activates_at: expect.stringMatching(ISO), keys: expect.any(Array) });
    expect(Math.abs(Date.parse(now.activates_at) / 1000 - nowSeconds())).toBeLessThanOrEqual(2);
    expect(now.keys).toEqual([
      { kid: seed?.kid, alg: 'RS256', created_at: expect.stringMatching(ISO), activates_at: expect.stringMatching(ISO), published_until: expect.stringMatching(ISO), state: 'retiring' },
      { kid: now.kid, alg: 'RS256', created_at: expect.stringMatching(ISO), activates_at: now.activates_at, published_until: null, state: 'signing' },
    ]);
    // The replaced key stays published until its last token has expired: TTL + delay + a minute.
    expect(Date.parse(now.keys[0].published_until) / 1000 - Date.parse(now.activates_at) / 1000).toBe(3600 + 60);

    const later = okJson(await cli(['keys', 'rotate', '--delay', '86400', '--algorithm', 'es256', '--json']));
    expect(later).toMatchObject({ alg: 'ES256' });
    expect(Date.parse(later.activates_at) / 1000 - Date.parse(now.activates_at) / 1000).toBeGreaterThanOrEqual(86400);
    expect(later.keys.map((k: { kid: string; state: string }) => [k.kid, k.state])).toEqual([
      [seed?.kid, 'retiring'],
      [now.kid, 'signing'],
      [later.kid, 'pending'],
    ]);

    // The server picks the keys up (within key_refresh_interval; here at once): the JWKS shows all
    // three, and its new tokens are signed with the key rotated in with --delay 0.
    await server.grantry.keys.load();
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual([seed?.kid, now.kid, later.kid].sort());
    const token = await machineToken(machine.client_id, machine.client_secret);
    expect(JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString())).toMatchObject({ kid: now.kid, alg: 'RS256' });

    // A key whose publication has ended is 'expired' until the cleanup deletes it.
    await server.grantry.database.db.updateTable('signing_keys').set({ published_until: nowSeconds() - 10 }).where('kid', '=', seed?.kid as string).execute();
    const [list, listText] = await Promise.all([cli(['keys', 'list', '--json']), cli(['keys', 'list'])]);
    expect(okJson(list).keys.map((k: { kid: string; state: string }) => [k.kid, k.state])).toEqual([
      [seed?.kid, 'expired'],
      [now.kid, 'signing'],
      [later.kid, 'pending'],
    ]);
    expect(listText.stdout).toMatch(/^KID\s+ALG\s+STATE\s+CREATED\s+ACTIVATES\s+PUBLISHED_UNTIL$/m);
    expect(listText.stdout).toMatch(new RegExp(`^${later.kid}\\s+ES256\\s+pending\\s+\\S+Z\\s+\\S+Z\\s+-$`, 'm'));
  });

  it('cleanup deletes what has expired (an old code, an expired key) and keeps what is live, printing the counts per table', async () => {
    const now = nowSeconds();
    const shopClient = await server.grantry.clients.get(CLI, shop.client_id);
    const grant = (id: string) => ({ id, clientPk: shopClient.pk, side: 'storefront' as const, userId: customer.id, subject: null, scope: 'api', createdAt: now, expiresAt: now + 600 });
    const code = (codeHash: string, expiresAt: number) => ({ codeHash, clientPk: shopClient.pk, redirectUri: 'https://shop.example/cb', redirectUriRequested: true, codeChallenge: null, expiresAt });
    await server.grantry.repos.grants.createWithCode(grant('cleanup-expired'), code('expired-code-hash', now - 60));
    await server.grantry.repos.grants.createWithCode(grant('cleanup-live'), code('live-code-hash', now + 600));

    expect(okJson(await cli(['cleanup', '--json']))).toEqual({
      deleted: { authorization_codes: 1, access_tokens: 0, refresh_tokens: 0, grants: 0, sessions: 0, signing_keys: 1, failed_attempts: 0, audit_events: 0 },
    });
    expect(await server.grantry.repos.grants.findCode('expired-code-hash')).toBeUndefined();
    expect(await server.grantry.repos.grants.findCode('live-code-hash')).toMatchObject({ grantId: 'cleanup-live' });
    expect(await server.grantry.repos.grants.findGrant('cleanup-expired')).toBeDefined();
    expect((await server.grantry.repos.signingKeys.list()).map((k) => k.kid)).toHaveLength(2);

    const again = await cli(['cleanup']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^TABLE\s+DELETED$/m);
    expect(again.stdout).toMatch(/^authorization_codes\s+0$/m);
    expect(again.stdout).toContain('Deleted 0 expired row(s).');
  });
});
