/**
 * The authorize endpoint over HTTP, on both sides and every backend: redirect URI rules,
 * client checks, error pages versus error redirects, PKCE, duplicate parameters, login
 * redirects, approval, CORS and escaping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { signIn, TestBrowser } from '../helpers/browser.js';
import { authorizePath, authorizeUrl, obtainCode, pkcePair, tokenRequest } from '../helpers/oauth.js';
import { DEFAULT_REDIRECT_URI as REGISTERED, startTestServer, type TestServer } from '../helpers/server.js';
import {
  createUser,
  expectCodeRedirect,
  expectConsentPage,
  expectErrorPage,
  expectErrorRedirect,
  expectLoginRedirect,
  issuerOf,
  rawRequest,
  signedInBrowser,
} from '../helpers/authorize-pages.js';
import { otherSide, SIDES } from '../helpers/tokens.js';
import { CLI } from '../../src/management/principal.js';

describe.each(BACKENDS)('authorize endpoint (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  /** A fresh, signed-out browser. */
  const anonymous = () => new TestBrowser(server.url);

  describe.each(SIDES)('%s', (side) => {
    const iss = issuerOf(side);

    describe('redirect_uri selection', () => {
      it('redirect_uri omitted with one registered URI: the code goes to that URI', async () => {
        const user = await createUser(server, side);
        const client = await server.createClient({ side });
        const browser = anonymous();
        const code = await obtainCode(browser, side, { response_type: 'code', client_id: client.clientId, state: 'one-uri' }, { login: user.login, password: user.password });
        expect(code.length).toBeGreaterThanOrEqual(22);
        // Driving the dance by hand to check where the code went.
        // prompt=consent: the first authorization was remembered, which would skip the page.
        const again = await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'one-uri-2', prompt: 'consent' }));
        const fields = expectConsentPage(again);
        expect(fields.redirect_uri).toBeUndefined();
        const approved = await browser.post(authorizePath(side), { ...fields, decision: 'allow' });
        expectCodeRedirect(approved, { target: REGISTERED, state: 'one-uri-2', iss, status: 303 });
        expect(new URL(approved.location as string).href.startsWith(`${REGISTERED}?`)).toBe(true);
        // The code is bound to the registered URI, which the token request then names.
        const token = await tokenRequest(server.url, {
          grant_type: 'authorization_code',
          client_id: client.clientId,
          client_secret: client.clientSecret,
          redirect_uri: REGISTERED,
          code,
        });
        expect(token.status).toBe(200);
      });

      it('redirect_uri omitted with two registered URIs: 400 error page, no redirect', async () => {
        const client = await server.createClient({ side, redirectUris: [REGISTERED, 'https://app.example/other'] });
        const response = await anonymous().get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 's' }));
        expectErrorPage(response, 400, 'Invalid redirect URI');
        expect(response.body).toContain('several redirect URIs');
        expect(response.body).not.toContain('app.example');
      });

      it('with two registered URIs, the one named is used', async () => {
        const second = 'https://app.example/other';
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side, redirectUris: [REGISTERED, second], skipConsent: true });
        const response = await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, redirect_uri: second, state: 'two' }));
        expectCodeRedirect(response, { target: second, state: 'two', iss, status: 302 });
      });
    });

    describe('loopback redirect URIs (RFC 8252)', () => {
      const registered = ['http://127.0.0.1/callback', 'http://[::1]/callback'];

      it.each([
        ['http://127.0.0.1:53124/callback', '127.0.0.1:53124'],
        ['http://[::1]:61000/callback', '[::1]:61000'],
      ])('a port on a registered loopback URI is accepted: %s', async (requested, host) => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side, type: 'public', redirectUris: registered, skipConsent: true });
        const { verifier, challenge } = pkcePair();
        const response = await browser.get(
          authorizeUrl(side, { response_type: 'code', client_id: client.clientId, redirect_uri: requested, state: 'lb', code_challenge: challenge, code_challenge_method: 'S256' }),
        );
        const code = expectCodeRedirect(response, { target: requested, state: 'lb', iss, status: 302 });
        const location = new URL(response.location as string);
        expect(location.protocol).toBe('http:');
        expect(location.host).toBe(host);
        expect(location.pathname).toBe('/callback');
        // The code is bound to the URI with its port.
        const wrongUri = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: client.clientId, redirect_uri: registered[0], code, code_verifier: verifier });
        expect(wrongUri.status).toBe(400);
        expect(wrongUri.json.error).toBe('invalid_grant');
      });

      it('the code can be exchanged with the requested loopback URI, port included', async () => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side, type: 'public', redirectUris: registered, skipConsent: true });
        const { verifier, challenge } = pkcePair();
        const requested = 'http://127.0.0.1:49152/callback';
        const response = await browser.get(
          authorizeUrl(side, { response_type: 'code', client_id: client.clientId, redirect_uri: requested, code_challenge: challenge, code_challenge_method: 'S256' }),
        );
        const code = expectCodeRedirect(response, { target: requested, state: null, iss, status: 302 });
        const token = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: client.clientId, redirect_uri: requested, code, code_verifier: verifier });
        expect(token.status).toBe(200);
        expect(typeof token.json.access_token).toBe('string');
      });

      it.each([
        'http://127.0.0.1:53124/other',
        'http://127.0.0.1:53124/callback/extra',
        'http://127.0.0.1:53124/callback/',
        'http://127.0.0.1:53124/Callback',
        'http://127.0.0.1:53124/callback?x=1',
        'http://127.0.0.1:53124/callback#frag',
        'http://127.0.0.2:53124/callback',
        'http://localhost:53124/callback',
        'http://localhost/callback',
        'http://[::2]:53124/callback',
        'https://127.0.0.1:53124/callback',
        'http://user@127.0.0.1:53124/callback',
        'http://127.0.0.1:53124@evil.example/callback',
        'http://127.0.0.1:99999/callback',
        'http://127.0.0.1.evil.example:53124/callback',
      ])('a different path, host or form on loopback is refused with an error page: %s', async (requested) => {
        const client = await server.createClient({ side, redirectUris: registered });
        // The same request with an accepted URI goes on to the login page.
        const ok = await anonymous().get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, redirect_uri: 'http://127.0.0.1:53124/callback' }));
        expectLoginRedirect(ok, side);
        const response = await anonymous().get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, redirect_uri: requested, state: 's' }));
        expectErrorPage(response, 400, 'Invalid redirect URI');
      });

      it('a port is not accepted on a registered non-loopback URI', async () => {
        const client = await server.createClient({ side });
        const response = await anonymous().get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, redirect_uri: 'https://app.example:8443/callback' }));
        expectErrorPage(response, 400, 'Invalid redirect URI');
      });
    });

    describe('exact redirect URI matching (checklist 1, 2)', () => {
      it.each([
        ['host case', 'https://APP.example/callback'],
        ['path case', 'https://app.example/Callback'],
        ['scheme case', 'HTTPS://app.example/callback'],
        ['trailing slash', 'https://app.example/callback/'],
        ['extra path segment', 'https://app.example/callback/extra'],
        ['path prefix', 'https://app.example/callbackx'],
        ['dot segments', 'https://app.example/callback/../callback'],
        ['encoded path', 'https://app.example/%63allback'],
        ['userinfo', 'https://user@app.example/callback'],
        ['userinfo with host trick', 'https://app.example@evil.example/callback'],
        ['fragment', 'https://app.example/callback#frag'],
        ['empty fragment', 'https://app.example/callback#'],
        ['query added', 'https://app.example/callback?x=1'],
        ['empty query', 'https://app.example/callback?'],
        ['explicit default port', 'https://app.example:443/callback'],
        ['other port', 'https://app.example:8443/callback'],
        ['http instead of https', 'http://app.example/callback'],
        ['subdomain', 'https://evil.app.example/callback'],
        ['suffix host', 'https://app.example.evil.example/callback'],
        ['other host', 'https://evil.example/callback'],
        ['leading space', ' https://app.example/callback'],
        ['trailing space', 'https://app.example/callback '],
        ['not a URI', 'app.example/callback'],
      ])('%s is refused with a 400 page and no redirect', async (_label, requested) => {
        const client = await server.createClient({ side });
        const exact = await anonymous().get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, redirect_uri: REGISTERED, state: 's' }));
        expectLoginRedirect(exact, side);
        const response = await anonymous().get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, redirect_uri: requested, state: 's' }));
        expectErrorPage(response, 400, 'Invalid redirect URI');
      });

      it('a wrong redirect URI is refused with a page even when the rest of the request is also wrong', async () => {
        const client = await server.createClient({ side });
        const response = await anonymous().get(authorizeUrl(side, { response_type: 'token', client_id: client.clientId, redirect_uri: 'https://evil.example/', state: 's' }));
        expectErrorPage(response, 400, 'Invalid redirect URI');
        expect(response.body).not.toContain('evil.example');
      });

      it('a wrong redirect URI is refused for a signed-in user too', async () => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side, skipConsent: true });
        const response = await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, redirect_uri: 'https://app.example/callback/', state: 's' }));
        expectErrorPage(response, 400, 'Invalid redirect URI');
      });

      it('redirect_uri repeated is refused with a page', async () => {
        const client = await server.createClient({ side });
        const query = new URLSearchParams([
          ['response_type', 'code'],
          ['client_id', client.clientId],
          ['redirect_uri', REGISTERED],
          ['redirect_uri', 'https://evil.example/'],
        ]);
        const response = await anonymous().get(`${authorizePath(side)}?${query}`);
        expectErrorPage(response, 400, 'Invalid redirect URI');
      });
    });

    describe('client checks: an error page, never a redirect (checklist 2)', () => {
      it('unknown client: 400 page', async () => {
        const response = await anonymous().get(authorizeUrl(side, { response_type: 'code', client_id: 'no-such-client-1234567890', redirect_uri: REGISTERED, state: 's' }));
        expectErrorPage(response, 400, 'Invalid client');
      });

      it('inactive client: 400 page', async () => {
        const client = await server.createClient({ side });
        const url = authorizeUrl(side, { response_type: 'code', client_id: client.clientId, redirect_uri: REGISTERED, state: 's' });
        expectLoginRedirect(await anonymous().get(url), side);
        await server.grantry.clients.setActive(CLI, client.clientId, false);
        expectErrorPage(await anonymous().get(url), 400, 'Invalid client');
        // Also for a signed-in user of a skip-consent client.
        const skip = await server.createClient({ side, skipConsent: true });
        await server.grantry.clients.setActive(CLI, skip.clientId, false);
        const { browser } = await signedInBrowser(server, side);
        expectErrorPage(await browser.get(authorizeUrl(side, { response_type: 'code', client_id: skip.clientId })), 400, 'Invalid client');
      });

      it("a client of the other side: 404 page", async () => {
        const client = await server.createClient({ side: otherSide(side) });
        const response = await anonymous().get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, redirect_uri: REGISTERED, state: 's' }));
        expectErrorPage(response, 404, 'Not found');
        // On its own side it is accepted.
        expectLoginRedirect(await anonymous().get(authorizeUrl(otherSide(side), { response_type: 'code', client_id: client.clientId })), otherSide(side));
      });

      it("a client of the other side is refused for a user signed in on both sides", async () => {
        const { browser } = await signedInBrowser(server, side);
        const other = await createUser(server, otherSide(side));
        expect((await signIn(browser, otherSide(side), other.login, other.password)).status).toBe(303);
        const client = await server.createClient({ side: otherSide(side), skipConsent: true });
        expectErrorPage(await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId })), 404, 'Not found');
      });

      it.each([
        ['missing', undefined],
        ['empty', ''],
      ])('client_id %s: 400 page', async (_label, clientId) => {
        const params: Record<string, string | undefined> = { response_type: 'code', redirect_uri: REGISTERED, state: 's' };
        const path = clientId === undefined ? authorizeUrl(side, params) : `${authorizeUrl(side, params)}&client_id=${clientId}`;
        expectErrorPage(await anonymous().get(path), 400, 'Invalid client');
      });

      it('client_id repeated: 400 page', async () => {
        const client = await server.createClient({ side });
        const query = new URLSearchParams([
          ['response_type', 'code'],
          ['client_id', client.clientId],
          ['client_id', client.clientId],
          ['state', 's'],
        ]);
        expectErrorPage(await anonymous().get(`${authorizePath(side)}?${query}`), 400, 'Invalid client');
      });

      it('an over-long client_id: 400 page', async () => {
        expectErrorPage(await anonymous().get(authorizeUrl(side, { response_type: 'code', client_id: 'x'.repeat(5000) })), 400, 'Invalid client');
      });
    });

    describe('errors sent back to the client with state and iss (RFC 9207)', () => {
      it('response_type missing → invalid_request', async () => {
        const client = await server.createClient({ side });
        const response = await anonymous().get(authorizeUrl(side, { client_id: client.clientId, state: 'st-1' }));
        expectErrorRedirect(response, { target: REGISTERED, error: 'invalid_request', state: 'st-1', iss });
        expect(response.headers.get('cache-control')).toBe('no-store');
      });

      it.each(['token', 'code token', 'id_token', 'CODE'])('response_type=%s → unsupported_response_type', async (responseType) => {
        const client = await server.createClient({ side });
        const response = await anonymous().get(authorizeUrl(side, { response_type: responseType, client_id: client.clientId, redirect_uri: REGISTERED, state: 'st-2' }));
        expectErrorRedirect(response, { target: REGISTERED, error: 'unsupported_response_type', state: 'st-2', iss });
      });

      it('without state, the error redirect has no state', async () => {
        const client = await server.createClient({ side });
        const response = await anonymous().get(authorizeUrl(side, { response_type: 'token', client_id: client.clientId }));
        expectErrorRedirect(response, { target: REGISTERED, error: 'unsupported_response_type', state: null, iss });
      });

      it('state with special characters is echoed exactly', async () => {
        const client = await server.createClient({ side });
        const state = 'a b&c=d/é?#+%';
        const response = await anonymous().get(authorizeUrl(side, { client_id: client.clientId, state }));
        expectErrorRedirect(response, { target: REGISTERED, error: 'invalid_request', state, iss });
      });

      it('an error redirect keeps the query of the registered URI', async () => {
        const withQuery = 'https://app.example/callback?tenant=42';
        const client = await server.createClient({ side, redirectUris: [withQuery] });
        const response = await anonymous().get(authorizeUrl(side, { response_type: 'token', client_id: client.clientId, state: 'q' }));
        const location = expectErrorRedirect(response, { target: withQuery, error: 'unsupported_response_type', state: 'q', iss });
        expect(location.searchParams.get('tenant')).toBe('42');
      });

      it('invalid scope syntax → invalid_scope', async () => {
        const client = await server.createClient({ side });
        const response = await anonymous().get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'sc', scope: 'read "write"' }));
        expectErrorRedirect(response, { target: REGISTERED, error: 'invalid_scope', state: 'sc', iss });
      });

      it('an error redirect after a POST is a 303', async () => {
        const client = await server.createClient({ side });
        const response = await anonymous().post(authorizePath(side), { response_type: 'token', client_id: client.clientId, state: 'p' });
        expectErrorRedirect(response, { target: REGISTERED, error: 'unsupported_response_type', state: 'p', iss, status: 303 });
      });
    });

    describe('duplicate parameters (RFC 6749 §3.1)', () => {
      it.each([
        ['state', 'dup-state', null],
        ['response_type', 'code', 'keep'],
        ['scope', 'read', 'keep'],
        ['code_challenge', pkcePair().challenge, 'keep'],
        ['code_challenge_method', 'S256', 'keep'],
      ])('%s twice → invalid_request redirect', async (name, value, stateKept) => {
        const client = await server.createClient({ side });
        const pairs: [string, string][] = [
          ['response_type', 'code'],
          ['client_id', client.clientId],
          ['state', 'keep'],
          ['code_challenge', pkcePair().challenge],
          ['code_challenge_method', 'S256'],
          ['scope', 'read'],
        ].filter(([n]) => n !== name) as [string, string][];
        pairs.push([name, value], [name, value]);
        const response = await anonymous().get(`${authorizePath(side)}?${new URLSearchParams(pairs)}`);
        const location = expectErrorRedirect(response, { target: REGISTERED, error: 'invalid_request', state: stateKept, iss });
        expect(location.searchParams.get('error_description')).toContain(name);
      });

      it('duplicates are refused in a POSTed authorize request too', async () => {
        const client = await server.createClient({ side });
        const body = `response_type=code&response_type=code&client_id=${encodeURIComponent(client.clientId)}&state=ps`;
        const response = await fetch(server.url + authorizePath(side), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
          redirect: 'manual',
        });
        expect(response.status).toBe(303);
        const location = new URL(response.headers.get('location') as string);
        expect(location.origin + location.pathname).toBe(REGISTERED);
        expect(location.searchParams.get('error')).toBe('invalid_request');
        expect(location.searchParams.get('state')).toBe('ps');
        expect(location.searchParams.get('iss')).toBe(iss);
      });

      it('unknown parameters are ignored', async () => {
        const client = await server.createClient({ side });
        const response = await anonymous().get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, foo: 'bar', nonce: 'n' }));
        expectLoginRedirect(response, side);
      });
    });

    describe('PKCE (RFC 7636)', () => {
      const start = async (type: 'public' | 'confidential', params: Record<string, string | undefined>) => {
        const client = await server.createClient({ side, type });
        const response = await anonymous().get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'pk', ...params }));
        return { client, response };
      };

      it('a public client without code_challenge → invalid_request', async () => {
        const { response } = await start('public', {});
        expectErrorRedirect(response, { target: REGISTERED, error: 'invalid_request', state: 'pk', iss, description: 'code_challenge is required for public clients' });
      });

      it.each([
        ['plain', 'plain'],
        ['unknown method', 'S512'],
        ['lower-case s256', 's256'],
      ])('code_challenge_method %s → invalid_request', async (_label, method) => {
        for (const type of ['public', 'confidential'] as const) {
          const { response } = await start(type, { code_challenge: pkcePair().challenge, code_challenge_method: method });
          const location = expectErrorRedirect(response, { target: REGISTERED, error: 'invalid_request', state: 'pk', iss });
          expect(location.searchParams.get('error_description')).toContain('S256');
        }
      });

      it('code_challenge without method → invalid_request (no silent plain)', async () => {
        for (const type of ['public', 'confidential'] as const) {
          const { response } = await start(type, { code_challenge: pkcePair().challenge });
          expectErrorRedirect(response, { target: REGISTERED, error: 'invalid_request', state: 'pk', iss });
        }
      });

      it('code_challenge_method without challenge → invalid_request', async () => {
        const { response } = await start('confidential', { code_challenge_method: 'S256' });
        expectErrorRedirect(response, { target: REGISTERED, error: 'invalid_request', state: 'pk', iss });
      });

      it.each([
        ['too short (42)', 'a'.repeat(42)],
        ['too long (129)', 'a'.repeat(129)],
        ['base64 with +', `${'a'.repeat(42)}+`],
        ['base64 with /', `${'a'.repeat(42)}/`],
        ['padding =', `${'a'.repeat(42)}=`],
        ['a space', `${'a'.repeat(21)} ${'a'.repeat(21)}`],
        ['non-ASCII', `${'a'.repeat(42)}é`],
        ['angle brackets', `${'a'.repeat(40)}<b>`],
      ])('a malformed code_challenge (%s) → invalid_request', async (_label, challenge) => {
        for (const type of ['public', 'confidential'] as const) {
          const { response } = await start(type, { code_challenge: challenge, code_challenge_method: 'S256' });
          expectErrorRedirect(response, { target: REGISTERED, error: 'invalid_request', state: 'pk', iss });
        }
      });

      it.each([
        ['43 characters', 'a'.repeat(43)],
        ['128 characters', 'Z'.repeat(128)],
        ['every allowed character', `AZaz09-._~${'x'.repeat(33)}`],
      ])('a well-formed code_challenge (%s) is accepted', async (_label, challenge) => {
        const { response } = await start('public', { code_challenge: challenge, code_challenge_method: 'S256' });
        const returnTo = expectLoginRedirect(response, side);
        expect(new URLSearchParams(returnTo.split('?')[1]).get('code_challenge')).toBe(challenge);
      });

      it('a confidential client without PKCE gets a code and a token', async () => {
        const user = await createUser(server, side);
        const client = await server.createClient({ side, type: 'confidential' });
        const code = await obtainCode(anonymous(), side, { response_type: 'code', client_id: client.clientId, state: 'np' }, { login: user.login, password: user.password });
        const token = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: client.clientId, client_secret: client.clientSecret, redirect_uri: REGISTERED, code });
        expect(token.status).toBe(200);
        expect(typeof token.json.access_token).toBe('string');
      });

      it('a public client with S256 gets a code bound to the challenge', async () => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side, type: 'public', skipConsent: true });
        const { verifier, challenge } = pkcePair();
        const response = await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'pub', code_challenge: challenge, code_challenge_method: 'S256' }));
        const code = expectCodeRedirect(response, { target: REGISTERED, state: 'pub', iss, status: 302 });
        const wrong = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: client.clientId, redirect_uri: REGISTERED, code, code_verifier: pkcePair().verifier });
        expect(wrong.status).toBe(400);
        expect(wrong.json.error).toBe('invalid_grant');
        const { verifier: v2, challenge: c2 } = pkcePair();
        const response2 = await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, code_challenge: c2, code_challenge_method: 'S256' }));
        const code2 = expectCodeRedirect(response2, { target: REGISTERED, state: null, iss, status: 302 });
        const right = await tokenRequest(server.url, { grant_type: 'authorization_code', client_id: client.clientId, redirect_uri: REGISTERED, code: code2, code_verifier: v2 });
        expect(right.status).toBe(200);
        expect(verifier).not.toBe(v2);
      });
    });

    describe('login redirect and sessions', () => {
      it("not signed in → 303 to this side's login page, which returns to the authorize request", async () => {
        const user = await createUser(server, side);
        const client = await server.createClient({ side, type: 'public' });
        const { challenge } = pkcePair();
        const params = { response_type: 'code', client_id: client.clientId, redirect_uri: REGISTERED, state: 'lg/1 2', scope: 'read write', code_challenge: challenge, code_challenge_method: 'S256' };
        const browser = anonymous();
        const first = await browser.get(authorizeUrl(side, params));
        expect(first.headers.get('cache-control')).toBe('no-store');
        const returnTo = expectLoginRedirect(first, side);
        const [returnPath, returnQuery] = returnTo.split('?');
        expect(returnPath).toBe(authorizePath(side));
        // The request comes back as it was, with the server's mark of when it asked for a sign-in.
        expect(Object.fromEntries(new URLSearchParams(returnQuery))).toEqual({ ...params, signed_in_after: expect.stringMatching(/^\d+\.[A-Za-z0-9_-]{22}$/) });

        const login = await signIn(browser, side, user.login, user.password, returnTo);
        expect(login.status).toBe(303);
        expect(login.location).toBe(returnTo);

        const consent = await browser.get(login.location as string);
        const fields = expectConsentPage(consent);
        expect(fields).toMatchObject(params);
        const approved = await browser.post(authorizePath(side), { ...fields, decision: 'allow' });
        expectCodeRedirect(approved, { target: REGISTERED, state: 'lg/1 2', iss, status: 303 });
      });

      it('a POSTed authorize request without a session also goes to the login page', async () => {
        const client = await server.createClient({ side });
        const response = await anonymous().post(authorizePath(side), { response_type: 'code', client_id: client.clientId, state: 'pp', decision: 'allow', csrf_token: 'x' });
        const returnTo = expectLoginRedirect(response, side);
        expect(returnTo).not.toContain('decision');
        expect(returnTo).not.toContain('csrf_token');
      });

      it('a session on one side is not a session on the other side', async () => {
        const { browser } = await signedInBrowser(server, side);
        const here = await server.createClient({ side, skipConsent: true });
        const there = await server.createClient({ side: otherSide(side), skipConsent: true });
        expectCodeRedirect(await browser.get(authorizeUrl(side, { response_type: 'code', client_id: here.clientId, state: 'h' })), { target: REGISTERED, state: 'h', iss, status: 302 });
        expectLoginRedirect(await browser.get(authorizeUrl(otherSide(side), { response_type: 'code', client_id: there.clientId, state: 't' })), otherSide(side));

        // Even the session id itself, moved into the other side's cookie, is refused there.
        const sessionName = side === 'backoffice' ? 'grantry_bo_session' : 'grantry_sf_session';
        const otherName = side === 'backoffice' ? 'grantry_sf_session' : 'grantry_bo_session';
        const thief = anonymous();
        thief.cookies.set(otherName, browser.cookies.get(sessionName) as string);
        expectLoginRedirect(await thief.get(authorizeUrl(otherSide(side), { response_type: 'code', client_id: there.clientId })), otherSide(side));
      });

      it('a forged session cookie is not a session', async () => {
        const client = await server.createClient({ side, skipConsent: true });
        const browser = anonymous();
        browser.cookies.set(side === 'backoffice' ? 'grantry_bo_session' : 'grantry_sf_session', 'A'.repeat(43));
        expectLoginRedirect(await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId })), side);
      });
    });

    describe('approval', () => {
      it('skip consent: 302 after GET with code, state and iss', async () => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side, skipConsent: true });
        const response = await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, redirect_uri: REGISTERED, state: 'skip-1' }));
        expectCodeRedirect(response, { target: REGISTERED, state: 'skip-1', iss, status: 302 });
      });

      it('consent form: 303 after POST with code, state and iss', async () => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side });
        const page = await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'cf-1' }));
        const fields = expectConsentPage(page);
        const response = await browser.post(authorizePath(side), { ...fields, decision: 'allow' });
        expectCodeRedirect(response, { target: REGISTERED, state: 'cf-1', iss, status: 303 });
      });

      it('decision=allow in a GET does not approve: the consent page is shown', async () => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side });
        const page = await browser.get(`${authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state: 'g' })}&decision=allow`);
        expectConsentPage(page);
      });

      it('every approval issues a different code', async () => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side, skipConsent: true });
        const url = authorizeUrl(side, { response_type: 'code', client_id: client.clientId });
        const a = expectCodeRedirect(await browser.get(url), { target: REGISTERED, state: null, iss, status: 302 });
        const b = expectCodeRedirect(await browser.get(url), { target: REGISTERED, state: null, iss, status: 302 });
        expect(a).not.toBe(b);
      });
    });

    describe('no CORS on the authorize endpoint (checklist 11)', () => {
      it('no Access-Control-* headers on any authorize response, whatever the Origin', async () => {
        const good = await server.createClient({ side });
        const skip = await server.createClient({ side, skipConsent: true });
        const { browser } = await signedInBrowser(server, side);
        const cookie = [...browser.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
        const requests: Array<[string, string, Record<string, string>]> = [
          ['GET', authorizeUrl(side, { response_type: 'code', client_id: good.clientId }), {}], // login redirect
          ['GET', authorizeUrl(side, { response_type: 'token', client_id: good.clientId }), {}], // error redirect
          ['GET', authorizeUrl(side, { response_type: 'code', client_id: 'nope' }), {}], // error page
          ['GET', authorizeUrl(side, { response_type: 'code', client_id: good.clientId }), { cookie }], // consent page
          ['GET', authorizeUrl(side, { response_type: 'code', client_id: skip.clientId }), { cookie }], // code redirect
          ['OPTIONS', authorizePath(side), { 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' }],
        ];
        const statuses: number[] = [];
        for (const [method, path, headers] of requests) {
          for (const origin of ['https://evil.example', 'null', 'https://app.example']) {
            const response = await rawRequest(server, method, path, { origin, ...headers });
            statuses.push(response.status);
            for (const name of response.headers.keys()) expect(name).not.toMatch(/^access-control-/);
          }
        }
        expect(statuses.slice(0, 15)).toEqual([303, 303, 303, 302, 302, 302, 400, 400, 400, 200, 200, 200, 302, 302, 302]);
      });
    });

    describe('escaping', () => {
      it('the error page does not reflect a client_id containing <script>', async () => {
        const response = await anonymous().get(authorizeUrl(side, { response_type: 'code', client_id: '<script>alert(1)</script>', state: '<script>x</script>' }));
        expectErrorPage(response, 400, 'Invalid client');
        expect(response.body).not.toContain('<script>');
        expect(response.body).not.toContain('alert(1)');
      });

      it('the error pages escape what they show for hostile redirect URIs and duplicate parameters', async () => {
        const client = await server.createClient({ side });
        const hostile = 'https://app.example/callback"><script>alert(1)</script>';
        const bad = await anonymous().get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, redirect_uri: hostile }));
        expectErrorPage(bad, 400, 'Invalid redirect URI');
        expect(bad.body).not.toContain('<script>');
        const query = new URLSearchParams([
          ['response_type', 'code'],
          ['client_id', '<script>a</script>'],
          ['client_id', '<img src=x onerror=alert(1)>'],
        ]);
        const dup = await anonymous().get(`${authorizePath(side)}?${query}`);
        expectErrorPage(dup, 400, 'Invalid client');
        expect(dup.body).not.toContain('<script>');
        expect(dup.body).not.toContain('<img');
      });

      it('the consent page escapes the state it carries forward; unknown scopes never reach it', async () => {
        const { browser } = await signedInBrowser(server, side);
        const client = await server.createClient({ side });
        const state = '"><script>alert(1)</script>';
        const refused = await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state, scope: '<script>alert(2)</script> read' }));
        expectErrorRedirect(refused, { target: REGISTERED, error: 'invalid_scope', state, iss });
        const scope = 'read';
        const page = await browser.get(authorizeUrl(side, { response_type: 'code', client_id: client.clientId, state, scope }));
        const fields = expectConsentPage(page);
        expect(page.body).not.toContain('<script>');
        expect(page.body).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
        expect(fields.state).toBe(state);
        expect(fields.scope).toBe(scope);
        const approved = await browser.post(authorizePath(side), { ...fields, decision: 'allow' });
        expectCodeRedirect(approved, { target: REGISTERED, state, iss, status: 303 });
      });
    });
  });
});
