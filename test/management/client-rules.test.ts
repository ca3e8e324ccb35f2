/**
 * The rules ClientManager applies to a client's settings, whoever asks (CLI, console, later the
 * JSON:API), on both databases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewClientInput } from '../../src/management/clients.js';
import { type ActionContext, CLI } from '../../src/management/principal.js';
import { BACKENDS } from '../helpers/backends.js';
import { asUser, refusal } from '../helpers/management.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe.each(BACKENDS)('client rules (%s)', (backend) => {
  let server: TestServer;
  let alice: ActionContext;
  let admin: ActionContext;
  const app = (name: string, more: Partial<NewClientInput> = {}): NewClientInput => ({
    side: 'backoffice',
    name,
    type: 'confidential',
    grants: ['authorization_code'],
    redirectUris: ['https://alice.example/cb'],
    ...more,
  });

  beforeAll(async () => {
    server = await startTestServer(backend);
    alice = asUser(await server.createBackofficeUser('alice-rules'), false);
    admin = asUser(await server.createBackofficeUser('admin-rules', undefined, { isAdmin: true }), true);
  });
  afterAll(() => server?.close());

  // Skip consent and the password grant hand the application tokens for whoever signs in (or
  // whose password it collects), admins included: only an administrator may allow that.
  it('a non-admin cannot create an application that skips consent or uses the password grant', async () => {
    const skip = await refusal(server.grantry.clients.create(alice, app('Sneaky skip', { skipConsent: true })));
    expect(skip).toMatchObject({ code: 'forbidden', message: 'only administrators may let an application skip the consent page' });
    const password = await refusal(server.grantry.clients.create(alice, app('Sneaky password', { grants: ['password'], redirectUris: [] })));
    expect(password).toMatchObject({ code: 'forbidden', message: 'only administrators may allow the password grant' });
    expect((await server.grantry.clients.list(alice, { page: 1, size: 10 })).total).toBe(0);
    // Admins and the CLI may.
    expect((await server.grantry.clients.create(admin, app('Admin skip', { skipConsent: true }))).client.skipConsent).toBe(true);
    expect((await server.grantry.clients.create(CLI, app('CLI password', { grants: ['password'], redirectUris: [] }))).client.grants).toEqual(['password']);
  });

  it('a non-admin cannot turn them on later; what an admin set on their application stays', async () => {
    const { client } = await server.grantry.clients.create(alice, app('Alice plain'));
    expect(await refusal(server.grantry.clients.update(alice, client.clientId, { skipConsent: true }))).toMatchObject({ code: 'forbidden' });
    expect(await refusal(server.grantry.clients.update(alice, client.clientId, { grants: ['authorization_code', 'password'] }))).toMatchObject({ code: 'forbidden' });
    expect(await server.grantry.clients.get(alice, client.clientId)).toMatchObject({ skipConsent: false, grants: ['authorization_code'] });

    // An admin allows both on Alice's application: her later edits keep them (the form sends them back).
    await server.grantry.clients.update(admin, client.clientId, { skipConsent: true, grants: ['authorization_code', 'password'] });
    const edited = await server.grantry.clients.update(alice, client.clientId, { name: 'Alice renamed', skipConsent: true, grants: ['authorization_code', 'password'] });
    expect(edited).toMatchObject({ name: 'Alice renamed', skipConsent: true, grants: ['authorization_code', 'password'] });
    // She may turn them off, and then not on again.
    const off = await server.grantry.clients.update(alice, client.clientId, { skipConsent: false, grants: ['authorization_code'] });
    expect(off).toMatchObject({ skipConsent: false, grants: ['authorization_code'] });
    expect(await refusal(server.grantry.clients.update(alice, client.clientId, { skipConsent: true }))).toMatchObject({ code: 'forbidden' });
  });

  // A client's tokens act for a role: its users' (customers on the storefront) or its owner's.
  // It may be registered only with the API scopes that role may hold, whoever registers it.
  it('the API scopes a client may hold are those of the role it acts for, through every entry point', async () => {
    const beyond = async (ctx: ActionContext, input: NewClientInput, scope: string, role: string) => {
      const error = await refusal(server.grantry.clients.create(ctx, input));
      expect(error).toMatchObject({ code: 'invalid_input', field: 'scopes' });
      expect(error.message).toMatch(new RegExp(`^the ${role} role may not hold the scope ${scope}, `));
    };
    const machine = (name: string, owner: string, scopes: string[]): NewClientInput => app(name, { grants: ['client_credentials'], redirectUris: [], owner, scopes });
    // Storefront: customers' scopes only, even from the CLI.
    await beyond(CLI, app('Shop tool', { side: 'storefront', scopes: ['users:read', 'applications:read'] }), 'applications:read', 'customer');
    // Back office owned or registered by a non-admin: staff scopes only.
    await beyond(CLI, machine('Alice machine', 'alice-rules', ['users:write']), 'users:write', 'staff');
    await beyond(admin, machine('Alice machine', 'alice-rules', ['applications:read', 'users:write']), 'users:write', 'staff');
    await beyond(alice, app('Alice writer', { scopes: ['users:write'] }), 'users:write', 'staff');
    // An admin's own, or an unowned back-office client: anything; a deployment's own scopes are never limited.
    await server.grantry.clients.create(CLI, machine('Admin machine', 'admin-rules', ['users:write', 'applications:write']));
    await server.grantry.clients.create(admin, app('Unowned writer', { scopes: ['users:write'] }));
    await server.grantry.clients.create(CLI, app('Shop profile', { side: 'storefront', scopes: ['users:read', 'users:write', 'api', 'profile'] }));
    const { client } = await server.grantry.clients.create(alice, app('Alice reader', { scopes: ['applications:read', 'read'] }));
    // Updates follow the same rule: Alice's client cannot gain users:write, nor be given to her with it.
    expect(await refusal(server.grantry.clients.update(admin, client.clientId, { scopes: ['users:write'] }))).toMatchObject({ code: 'invalid_input', field: 'scopes' });
    const { client: unowned } = await server.grantry.clients.create(CLI, app('Unowned admin tool', { scopes: ['users:write'] }));
    expect(await refusal(server.grantry.clients.update(CLI, unowned.clientId, { owner: 'alice-rules' }))).toMatchObject({ code: 'invalid_input', field: 'scopes' });
    expect((await server.grantry.clients.get(CLI, unowned.clientId)).ownerUserId).toBeNull();
  });

  it('every refusal of a setting names the setting', async () => {
    const cases: [Partial<NewClientInput>, string][] = [
      [{ name: ' ' }, 'name'],
      [{ grants: [] }, 'grants'],
      [{ grants: ['implicit'] }, 'grants'],
      [{ type: 'public', grants: ['client_credentials'], redirectUris: [] }, 'grants'],
      [{ grants: ['refresh_token'] }, 'grants'],
      [{ redirectUris: ['not a uri'] }, 'redirectUris'],
      [{ redirectUris: [] }, 'redirectUris'],
      [{ scopes: ['nope'] }, 'scopes'],
      [{ grants: ['client_credentials'], redirectUris: [] }, 'owner'],
      [{ allowGuests: true }, 'allowGuests'],
      [{ type: 'secret' as 'public' }, 'type'],
      [{ side: 'elsewhere' as 'backoffice' }, 'side'],
      [{ postLogoutRedirectUris: ['http://evil.example/bye'] }, 'postLogoutRedirectUris'],
      [{ grants: ['client_credentials'], redirectUris: [], owner: 'admin-rules', postLogoutRedirectUris: ['https://alice.example/bye'] }, 'postLogoutRedirectUris'],
      [{ idTokenSignedResponseAlg: 'none' }, 'idTokenSignedResponseAlg'],
      [{ subjectType: 'random' }, 'subjectType'],
    ];
    for (const [change, field] of cases) {
      expect(await refusal(server.grantry.clients.create(CLI, app('Fielded', change))), JSON.stringify(change)).toMatchObject({ code: 'invalid_input', field });
    }
    expect(await refusal(server.grantry.clients.create(alice, app('Fielded', { skipConsent: true })))).toMatchObject({ code: 'forbidden', field: 'skipConsent' });
    await server.grantry.clients.create(CLI, app('Fielded twice'));
    expect(await refusal(server.grantry.clients.create(CLI, app('Fielded twice')))).toMatchObject({ code: 'conflict', field: 'name' });
  });

  it('the OpenID Connect settings: stored as given, checked like the redirect URIs, kept by updates that do not name them', async () => {
    const { client } = await server.grantry.clients.create(
      CLI,
      app('OIDC rules', { postLogoutRedirectUris: ['https://alice.example/bye', 'com.example.app:/bye', 'https://alice.example/bye'], idTokenSignedResponseAlg: 'ES256', subjectType: 'pairwise' }),
    );
    // Deduplicated, in the order given.
    expect(client).toMatchObject({ postLogoutRedirectUris: ['https://alice.example/bye', 'com.example.app:/bye'], idTokenSignedResponseAlg: 'ES256', subjectType: 'pairwise' });
    // Left out: none, the server's key, public.
    expect((await server.grantry.clients.create(CLI, app('OIDC defaults'))).client).toMatchObject({ postLogoutRedirectUris: [], idTokenSignedResponseAlg: null, subjectType: 'public' });

    // The exact redirect URI rule, with the words of the setting.
    const cases: [string, string][] = [
      ['http://alice.example/bye', 'post-logout redirect URI http://alice.example/bye must use https (http is allowed only for loopback addresses)'],
      ['https://alice.example/bye#top', 'post-logout redirect URI https://alice.example/bye#top must not contain a fragment'],
      ['/bye', 'post-logout redirect URI /bye is not an absolute URI'],
    ];
    for (const [uri, message] of cases) {
      expect(await refusal(server.grantry.clients.update(CLI, client.clientId, { postLogoutRedirectUris: [uri] }))).toMatchObject({ code: 'invalid_input', field: 'postLogoutRedirectUris', message });
    }
    expect(await refusal(server.grantry.clients.update(CLI, client.clientId, { idTokenSignedResponseAlg: 'HS256' }))).toMatchObject({
      code: 'invalid_input',
      field: 'idTokenSignedResponseAlg',
      message: 'unknown ID token signing algorithm "HS256"; known: RS256, PS256, ES256, EdDSA',
    });
    expect(await refusal(server.grantry.clients.update(CLI, client.clientId, { subjectType: 'Pairwise' }))).toMatchObject({ code: 'invalid_input', field: 'subjectType', message: 'unknown subject type "Pairwise"; known: public, pairwise' });
    // Dropping the code grant while sign-out destinations remain is refused at them.
    expect(await refusal(server.grantry.clients.update(CLI, client.clientId, { grants: ['password'] }))).toMatchObject({
      code: 'invalid_input',
      field: 'postLogoutRedirectUris',
      message: 'post-logout redirect URIs are for clients with the authorization_code grant, through which users sign in',
    });
    expect(await server.grantry.clients.get(CLI, client.clientId)).toMatchObject({ grants: ['authorization_code'], postLogoutRedirectUris: ['https://alice.example/bye', 'com.example.app:/bye'], idTokenSignedResponseAlg: 'ES256', subjectType: 'pairwise' });

    // An update that names none of them keeps them; a non-admin may set them on their own application.
    expect(await server.grantry.clients.update(CLI, client.clientId, { name: 'OIDC rules 2' })).toMatchObject({ postLogoutRedirectUris: ['https://alice.example/bye', 'com.example.app:/bye'], idTokenSignedResponseAlg: 'ES256', subjectType: 'pairwise' });
    const { client: alices } = await server.grantry.clients.create(alice, app('Alice OIDC', { postLogoutRedirectUris: ['https://alice.example/bye'], subjectType: 'pairwise' }));
    expect(alices).toMatchObject({ postLogoutRedirectUris: ['https://alice.example/bye'], subjectType: 'pairwise', idTokenSignedResponseAlg: null });
    // Cleared: an empty list, null for the server's key, public again.
    const cleared = await server.grantry.clients.update(CLI, client.clientId, { postLogoutRedirectUris: [], idTokenSignedResponseAlg: null, subjectType: 'public' });
    expect(cleared).toMatchObject({ name: 'OIDC rules 2', postLogoutRedirectUris: [], idTokenSignedResponseAlg: null, subjectType: 'public' });
    expect(await server.grantry.clients.get(CLI, client.clientId)).toMatchObject({ postLogoutRedirectUris: [], idTokenSignedResponseAlg: null, subjectType: 'public' });
    // Without sign-out destinations, the code grant may go.
    expect(await server.grantry.clients.update(CLI, client.clientId, { grants: ['password'] })).toMatchObject({ grants: ['password'] });
  });

  // Terminal escapes in a name would recolour or rewrite what `grantry client list` or
  // `audit list` print; the console already refused them, the CLI did not.
  it('names, emails and searches with control characters are refused, whoever asks', async () => {
    const evil = 'Evil\x1b[31mRED\x07';
    for (const ctx of [CLI, admin]) {
      expect(await refusal(server.grantry.clients.create(ctx, app(evil)))).toMatchObject({ code: 'invalid_input', message: 'the client name contains characters that are not allowed' });
    }
    const { client } = await server.grantry.clients.create(CLI, app('Plain name'));
    expect(await refusal(server.grantry.clients.update(CLI, client.clientId, { name: evil }))).toMatchObject({ code: 'invalid_input' });
    expect(await refusal(server.grantry.clients.update(CLI, client.clientId, { name: 'Lone \ud800 surrogate' }))).toMatchObject({ code: 'invalid_input' });
    expect((await server.grantry.clients.get(CLI, client.clientId)).name).toBe('Plain name');
    expect(await refusal(server.grantry.clients.list(CLI, { search: 'Evil\x1b', page: 1, size: 10 }))).toMatchObject({ code: 'invalid_input' });
    // Emails: \s does not cover escapes or bells, so the address pattern let them through.
    expect(await refusal(server.grantry.users.createCustomerUser(CLI, { email: 'evil\x1b[31m@example.com', password: 'long-enough-pw-1' }))).toMatchObject({ code: 'invalid_input' });
    expect(await refusal(server.grantry.users.createBackofficeUser(CLI, { username: 'evil-mail', email: 'evil@exa\x07mple.com', password: 'long-enough-pw-1' }))).toMatchObject({ code: 'invalid_input' });
  });
});

describe.each(BACKENDS)('client edits in the audit trail (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  const updates = async (clientId: string) => (await server.grantry.audit.list(CLI, { kind: 'client.updated', clientId, page: 1, size: 50 })).items.map((e) => e.details).reverse();

  it('an edit records only the settings whose value changed, and the redirect URIs (and OpenID Connect settings) before and after', async () => {
    const { client } = await server.grantry.clients.create(CLI, {
      side: 'storefront',
      name: 'Audited edits',
      type: 'confidential',
      grants: ['authorization_code', 'refresh_token'],
      redirectUris: ['https://shop.example/cb', 'https://shop.example/cb2'],
      scopes: ['api'],
    });
    // The console's form sends every field back, changed or not.
    const everything = { name: client.name, grants: client.grants, redirectUris: client.redirectUris, skipConsent: false, scopes: client.scopes, allowGuests: false };
    await server.grantry.clients.update(CLI, client.clientId, everything);
    // The same values in another order or spelling are no change either.
    await server.grantry.clients.update(CLI, client.clientId, { ...everything, name: ` ${client.name} `, grants: ['refresh_token', 'authorization_code', 'refresh_token'] });
    expect(await updates(client.clientId)).toEqual([]);

    await server.grantry.clients.update(CLI, client.clientId, { ...everything, name: 'Audited edits 2' });
    await server.grantry.clients.update(CLI, client.clientId, { ...everything, name: 'Audited edits 2', redirectUris: ['https://shop.example/cb', 'https://shop.example/new'], skipConsent: true });
    expect(await updates(client.clientId)).toEqual([
      { changed: 'name' },
      {
        changed: 'redirectUris,skipConsent',
        redirect_uris_before: 'https://shop.example/cb https://shop.example/cb2',
        redirect_uris_after: 'https://shop.example/cb https://shop.example/new',
      },
    ]);

    // The OpenID Connect settings, before and after; the same values again are no change.
    const oidc = { postLogoutRedirectUris: ['https://shop.example/bye'], idTokenSignedResponseAlg: 'PS256', subjectType: 'pairwise' };
    await server.grantry.clients.update(CLI, client.clientId, oidc);
    await server.grantry.clients.update(CLI, client.clientId, { ...oidc, postLogoutRedirectUris: ['https://shop.example/bye', 'https://shop.example/bye'] });
    await server.grantry.clients.update(CLI, client.clientId, { idTokenSignedResponseAlg: null });
    expect((await updates(client.clientId)).slice(2)).toEqual([
      {
        changed: 'postLogoutRedirectUris,idTokenSignedResponseAlg,subjectType',
        post_logout_redirect_uris_before: '',
        post_logout_redirect_uris_after: 'https://shop.example/bye',
        id_token_alg_before: 'server',
        id_token_alg_after: 'PS256',
        subject_type_before: 'public',
        subject_type_after: 'pairwise',
      },
      { changed: 'idTokenSignedResponseAlg', id_token_alg_before: 'PS256', id_token_alg_after: 'server' },
    ]);
  });
});
