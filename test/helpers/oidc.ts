/**
 * Helpers for the OpenID Connect tests (test/http/oidc.test.ts and the relying-party libraries in
 * test/clients): where each side's OIDC endpoints are, a fetch that lets a library reach the test
 * server under its public URL (http://grantry.test, which the issuer and every discovered
 * endpoint name), a browser driver that posts back every hidden field of the consent form (the
 * OIDC parameters ride in it too), and checks of ID tokens and UserInfo answers.
 */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { formField, type PageResponse, sidePrefix, type TestBrowser } from './browser.js';
import { call, type HttpCall } from './endpoints.js';
import { PUBLIC_URL, type TestServer } from './server.js';
import { decodeJwt } from './tokens.js';

/** The post-logout redirect URI registered for the clients of these tests. */
export const LOGOUT_URI = 'https://app.example/signed-out';
export const OIDC_SCOPE = 'openid profile email';

/** The OIDC endpoints of a side, as paths on the server (the design's, src/oauth/sides.ts). */
export function oidcPaths(side: SideName) {
  const prefix = sidePrefix(side);
  return {
    openidConfiguration: `${prefix}/.well-known/openid-configuration`,
    authorizationServerMetadata: `/.well-known/oauth-authorization-server${prefix}`,
    authorize: `${prefix}/oauth2-token/authorize`,
    login: `${prefix}/oauth2-token/login`,
    userinfo: `${prefix}/oauth2-token/userinfo`,
    endSession: `${prefix}/oauth2-token/end-session`,
    account: `${prefix}/account`,
  };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
export { nowSeconds };

/** `url` on the test server when it names the public URL; any other URL unchanged. */
export function onServer(server: TestServer, url: string | URL): string {
  const href = typeof url === 'string' ? url : url.href;
  if (href === PUBLIC_URL || href.startsWith(`${PUBLIC_URL}/`)) return server.url + href.slice(PUBLIC_URL.length);
  return href;
}

/**
 * A fetch for the libraries' customFetch option: what they send to the public URL goes to the
 * listening test server, with the request otherwise unchanged.
 */
export function publicUrlFetch(server: TestServer) {
  return (url: string, options: RequestInit): Promise<Response> => fetch(onServer(server, url), options);
}

/** The path and query of a URL under the public URL, for the TestBrowser. */
export function localPath(url: string | URL): string {
  const parsed = new URL(url);
  expect(parsed.origin).toBe(new URL(PUBLIC_URL).origin);
  return parsed.pathname + parsed.search;
}

const unescapeHtml = (value: string) =>
  value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The attributes of one HTML tag, unescaped. */
function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-zA-Z_:-]+)(?:="([^"]*)")?/g)) out[(m[1] as string).toLowerCase()] = unescapeHtml(m[2] ?? '');
  return out;
}

export interface PageForm {
  action: string;
  method: string;
  /** Hidden inputs, by name. */
  hidden: Record<string, string>;
  /** Submit buttons in order: name and value (empty when the button has none), and their text. */
  buttons: Array<{ name: string; value: string; text: string }>;
}

/** The forms of a page, in order. */
export function pageForms(html: string): PageForm[] {
  const forms: PageForm[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const attrs = attributes(m[1] as string);
    const body = m[2] as string;
    const hidden: Record<string, string> = {};
    for (const input of body.matchAll(/<input\b([^>]*)>/g)) {
      const a = attributes(input[1] as string);
      if (a.type === 'hidden' && a.name) hidden[a.name] = a.value ?? '';
    }
    const buttons = [...body.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/g)].map((b) => {
      const a = attributes(b[1] as string);
      return { name: a.name ?? '', value: a.value ?? '', text: unescapeHtml((b[2] as string).replace(/<[^>]*>/g, '').trim()) };
    });
    forms.push({ action: attrs.action ?? '', method: (attrs.method ?? 'get').toLowerCase(), hidden, buttons });
  }
  return forms;
}

/** Whether a response is the 303 to the login page of `side`. */
export const isLoginRedirect = (response: PageResponse, side: SideName) =>
  response.status === 303 && response.location !== null && new URL(response.location, 'http://relative.invalid').pathname === oidcPaths(side).login;

export interface FollowOptions {
  login: string;
  password: string;
  /** What to answer on the consent page; 'expect-none' fails if a consent page appears. */
  decision?: 'allow' | 'deny' | 'expect-none';
  /** Called just before the login form is posted (to note the time of the sign-in). */
  beforeSignIn?: () => void;
}

/**
 * Runs an authorization request (a path, or a URL under the public URL) in `browser`: signs in
 * when the login page comes, answers the consent page by posting back all its hidden fields,
 * and returns the redirect to the client. Throws with the hop that went wrong.
 */
export async function followAuthorization(browser: TestBrowser, side: SideName, request: string | URL, options: FollowOptions): Promise<URL> {
  const path = typeof request === 'string' && request.startsWith('/') ? request : localPath(request);
  let response = await browser.get(path);
  if (isLoginRedirect(response, side)) {
    // The login page exactly as the redirect names it (it may carry more than return_to), and its form as it is.
    const page = await browser.get(response.location as string);
    const form = pageForms(page.body).find((f) => f.method === 'post' && 'csrf_token' in f.hidden && /name="password"/.test(page.body));
    if (page.status !== 200 || !form) throw new Error(`expected the login form, got ${page.status}: ${page.body.slice(0, 300)}`);
    options.beforeSignIn?.();
    const login = await browser.post(form.action, { ...form.hidden, login: options.login, password: options.password });
    if (login.status !== 303 || !login.location) throw new Error(`login failed: ${login.status} ${login.body.slice(0, 300)}`);
    response = await browser.get(login.location);
    if (isLoginRedirect(response, side)) throw new Error('the authorize request sent the browser back to the login page right after signing in');
  }
  if (response.status === 200 && response.body.includes('name="decision"')) {
    if (options.decision === 'expect-none') throw new Error('a consent page appeared');
    const form = pageForms(response.body).find((f) => 'csrf_token' in f.hidden && f.buttons.some((b) => b.name === 'decision'));
    if (!form) throw new Error('the consent page has no consent form');
    response = await browser.post(form.action, { ...form.hidden, decision: options.decision ?? 'allow' });
  }
  if (![302, 303].includes(response.status) || !response.location) {
    throw new Error(`expected a redirect to the client, got ${response.status}: ${response.body.slice(0, 300)}`);
  }
  return new URL(response.location);
}

/** at_hash (OIDC Core §3.1.3.6): the left half of the access token's hash for the ID token's alg. */
export function atHash(accessToken: string, alg: string): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : `sha${alg.slice(2)}`).update(accessToken).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/** The claims of an ID token, after checking the header: typ JWT, a kid, an alg. */
export function idTokenClaims(idToken: string): Record<string, unknown> {
  const { header, payload } = decodeJwt(idToken);
  expect(header.typ).toBe('JWT');
  expect(typeof header.kid).toBe('string');
  expect(typeof header.alg).toBe('string');
  return payload;
}

/**
 * Asserts what every ID token of a sign-in carries (OIDC Core §2, §3.1.3.6, the design): issuer
 * and audience, a subject that is not the database id, auth_time, sid, azp and at_hash.
 */
export function expectIdTokenClaims(
  idToken: string,
  expected: { issuer: string; clientId: string; userId: number; accessToken: string; ttl?: number; signedInFrom?: number; signedInUntil?: number },
): Record<string, unknown> {
  const claims = idTokenClaims(idToken);
  const { header } = decodeJwt(idToken);
  expect(claims.iss).toBe(expected.issuer);
  expect(claims.aud).toBe(expected.clientId);
  expect(claims.azp).toBe(expected.clientId);
  expectOpaqueSubject(claims.sub, expected.userId);
  expect(claims.exp).toBe((claims.iat as number) + (expected.ttl ?? 3600));
  expect(Math.abs((claims.iat as number) - nowSeconds())).toBeLessThanOrEqual(5);
  expect(typeof claims.auth_time).toBe('number');
  if (expected.signedInFrom !== undefined) expect(claims.auth_time).toBeGreaterThanOrEqual(expected.signedInFrom);
  expect(claims.auth_time).toBeLessThanOrEqual(expected.signedInUntil ?? (claims.iat as number));
  expect(typeof claims.sid).toBe('string');
  expect((claims.sid as string).length).toBeGreaterThan(0);
  expect(claims.at_hash).toBe(atHash(expected.accessToken, header.alg as string));
  return claims;
}

/** A subject per the design: a keyed hash in base64url, never the user's database id. */
export function expectOpaqueSubject(sub: unknown, userId: number): void {
  expect(typeof sub).toBe('string');
  expect(sub).not.toBe(String(userId));
  expect(sub).toMatch(/^[A-Za-z0-9_-]{20,}$/);
}

/** A UserInfo request with the token in the Authorization header (GET, or POST with an empty form). */
export function userinfo(server: TestServer, side: SideName, token: string | undefined, method: 'GET' | 'POST' = 'GET', headers: Record<string, string> = {}): Promise<HttpCall> {
  const all: Record<string, string> = { ...headers };
  if (token !== undefined) all.authorization = `Bearer ${token}`;
  if (method === 'POST') all['content-type'] = 'application/x-www-form-urlencoded';
  return call(server.url, method, oidcPaths(side).userinfo, { headers: all, body: method === 'POST' ? '' : undefined });
}

/** Asserts a bearer-token refusal (RFC 6750 §3): the status, the challenge and a JSON error. */
export function expectBearerError(response: HttpCall, status: 400 | 401 | 403, error: string): void {
  expect(response.status, response.text.slice(0, 300)).toBe(status);
  const challenge = response.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer\b/);
  expect(challenge).toContain(`error="${error}"`);
  expect(response.json.error).toBe(error);
  expect(typeof response.json.error_description).toBe('string');
}

/** The value of the login page's login field. */
export const loginFieldValue = (html: string) => formField(html, 'login');

/**
 * The claims of scope "profile email" for a user made by createSideUser (tokens.ts): staff have
 * a username and an address `<username>@example.com`, customers an address and the name Test
 * Customer (server.ts). Grantry verifies no address.
 */
export function expectedIdentityClaims(user: { side: SideName; login: string }): Record<string, unknown> {
  if (user.side === 'backoffice') return { name: user.login, preferred_username: user.login, email: `${user.login}@example.com`, email_verified: false };
  return { name: 'Test Customer', given_name: 'Test', family_name: 'Customer', email: user.login, email_verified: false };
}

/** Asserts that `browser` has no session on `side`: its account page sends it to sign in. */
export async function expectSignedOut(browser: TestBrowser, side: SideName): Promise<void> {
  const response = await browser.get(oidcPaths(side).account);
  expect(isLoginRedirect(response, side), `${response.status} ${response.location}`).toBe(true);
}

/** Asserts that `browser` has a session on `side`: its account page answers. */
export async function expectSignedIn(browser: TestBrowser, side: SideName): Promise<void> {
  const response = await browser.get(oidcPaths(side).account);
  expect(response.status, `${response.location}`).toBe(200);
}
