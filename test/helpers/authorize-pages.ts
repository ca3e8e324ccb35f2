/**
 * Assertions and fixtures for the browser-facing pages (authorize, login, consent), used by
 * test/http/authorize.test.ts and test/http/login-consent.test.ts.
 */
import { expect } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { formField, type PageResponse, sidePrefix, signIn, TestBrowser } from './browser.js';
import { PUBLIC_URL, type TestServer } from './server.js';

export const issuerOf = (side: SideName, publicUrl = PUBLIC_URL) => publicUrl + sidePrefix(side);
export const loginPathOf = (side: SideName) => `${sidePrefix(side)}/oauth2-token/login`;
export const logoutPathOf = (side: SideName) => `${sidePrefix(side)}/oauth2-token/logout`;
export const sessionCookieOf = (side: SideName, secure = false) =>
  `${secure ? '__Host-' : ''}${side === 'backoffice' ? 'grantry_bo_session' : 'grantry_sf_session'}`;

let counter = 0;
/** A name no other test of this process uses. */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}${counter}${Math.random().toString(36).slice(2, 8)}`;
}

/** `text` in fullwidth forms (U+FF01…U+FF5E), a look-alike that NFKC turns back into ASCII. */
export const fullwidth = (text: string): string => text.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));

export interface TestUser {
  id: number;
  login: string;
  password: string;
  /** The reference UserManager.setFlag() accepts. */
  ref: string;
}

/** A new user of `side` (a staff user or a customer user). */
export async function createUser(server: TestServer, side: SideName): Promise<TestUser> {
  if (side === 'backoffice') {
    const u = await server.createBackofficeUser(unique('staff'));
    return { id: u.id, login: u.username, password: u.password, ref: u.username };
  }
  const u = await server.createCustomerUser(`${unique('customer')}@example.com`);
  return { id: u.id, login: u.email, password: u.password, ref: u.email };
}

/** A browser signed in on `side` as a new user. */
export async function signedInBrowser(server: TestServer, side: SideName, user?: TestUser): Promise<{ browser: TestBrowser; user: TestUser }> {
  const u = user ?? (await createUser(server, side));
  const browser = new TestBrowser(server.url);
  const response = await signIn(browser, side, u.login, u.password);
  expect(response.status).toBe(303);
  expect(browser.cookies.has(sessionCookieOf(side, server.config.publicUrl.startsWith('https:')))).toBe(true);
  return { browser, user: u };
}

/** Asserts an HTML page (never a redirect) with the anti-framing and no-cache headers. */
export function expectPage(response: PageResponse, status: number): void {
  expect(response.status).toBe(status);
  expect(response.location).toBeNull();
  expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  expectFramingHeaders(response);
}

export function expectFramingHeaders(response: PageResponse): void {
  expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  expect(response.headers.get('x-frame-options')).toBe('DENY');
  expect(response.headers.get('cache-control')).toBe('no-store');
}

/**
 * Asserts the error page of the authorize endpoint: no redirect, and the error's title in the
 * page's technical detail (the heading says it in plain words).
 */
export function expectErrorPage(response: PageResponse, status: 400 | 403 | 404, title?: string): void {
  expectPage(response, status);
  if (title) expect(response.body).toContain(`<p class="technical">Technical detail: ${title}: `);
  expect(response.body).not.toContain('name="decision"');
}

/** Asserts a redirect to `target` (origin + path, as registered) and returns its parsed Location. */
export function expectRedirectTo(response: PageResponse, status: 302 | 303, target: string): URL {
  expect(response.status, response.body.slice(0, 300)).toBe(status);
  expect(response.location).not.toBeNull();
  const location = new URL(response.location as string);
  const expected = new URL(target);
  expect(location.origin).toBe(expected.origin);
  expect(location.host).toBe(expected.host);
  expect(location.pathname).toBe(expected.pathname);
  return location;
}

/** Asserts an authorization error response (RFC 6749 §4.1.2.1 + RFC 9207) and returns the URL. */
export function expectErrorRedirect(
  response: PageResponse,
  expected: { target: string; error: string; state: string | null; iss: string; status?: 302 | 303; description?: string },
): URL {
  const location = expectRedirectTo(response, expected.status ?? 302, expected.target);
  expect(location.searchParams.get('error')).toBe(expected.error);
  expect(location.searchParams.getAll('state')).toEqual(expected.state === null ? [] : [expected.state]);
  expect(location.searchParams.getAll('iss')).toEqual([expected.iss]);
  expect(location.searchParams.has('code')).toBe(false);
  const description = location.searchParams.get('error_description');
  if (expected.description !== undefined) expect(description).toBe(expected.description);
  else expect(description).toBeTruthy();
  return location;
}

/** Asserts a successful authorization response and returns the code. */
export function expectCodeRedirect(response: PageResponse, expected: { target: string; state: string | null; iss: string; status: 302 | 303 }): string {
  const location = expectRedirectTo(response, expected.status, expected.target);
  expect(location.searchParams.has('error')).toBe(false);
  expect(location.searchParams.getAll('state')).toEqual(expected.state === null ? [] : [expected.state]);
  expect(location.searchParams.getAll('iss')).toEqual([expected.iss]);
  const codes = location.searchParams.getAll('code');
  expect(codes).toHaveLength(1);
  expect((codes[0] as string).length).toBeGreaterThanOrEqual(22);
  expect(response.headers.get('cache-control')).toBe('no-store');
  return codes[0] as string;
}

/** Asserts the 303 to the login page of `side` and returns its return_to. */
export function expectLoginRedirect(response: PageResponse, side: SideName): string {
  expect(response.status, response.body.slice(0, 300)).toBe(303);
  const location = new URL(response.location as string, 'http://relative.invalid');
  expect(location.origin).toBe('http://relative.invalid');
  expect(location.pathname).toBe(loginPathOf(side));
  const returnTo = location.searchParams.get('return_to');
  expect(returnTo).not.toBeNull();
  return returnTo as string;
}

/** The text of the page's error alert, or undefined. */
export function alertText(body: string): string | undefined {
  return /<p class="error" role="alert">([^<]*)<\/p>/.exec(body)?.[1];
}

export interface SetCookie {
  name: string;
  value: string;
  /** Attribute names in lower case → value ('' for flags). */
  attributes: Map<string, string>;
}

export function setCookies(response: PageResponse): SetCookie[] {
  return response.headers.getSetCookie().map((line) => {
    const [pair = '', ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    const attributes = new Map<string, string>();
    for (const attr of attrs) {
      const i = attr.indexOf('=');
      const name = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
      attributes.set(name, i < 0 ? '' : attr.slice(i + 1).trim());
    }
    return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes };
  });
}

export function findSetCookie(response: PageResponse, name: string): SetCookie | undefined {
  return setCookies(response).find((c) => c.name === name);
}

/** The hidden fields of the consent form, ready to post back. */
export function consentFields(body: string): Record<string, string> {
  const form: Record<string, string> = {};
  for (const name of ['csrf_token', 'response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method']) {
    const value = formField(body, name);
    if (value !== undefined) form[name] = value;
  }
  return form;
}

/** Asserts that `response` is the consent page and returns its form fields. */
export function expectConsentPage(response: PageResponse): Record<string, string> {
  expectPage(response, 200);
  expect(response.body).toContain('<h1>Authorize access</h1>');
  expect(response.body).toMatch(/<button[^>]*name="decision" value="allow"[^>]*>Allow<\/button>/);
  expect(response.body).toMatch(/<button[^>]*name="decision" value="deny"[^>]*>Deny<\/button>/);
  const fields = consentFields(response.body);
  expect(fields.csrf_token).toBeTruthy();
  return fields;
}

/** A GET with extra request headers, outside any browser (no cookies). */
export async function rawRequest(server: TestServer, method: string, path: string, headers: Record<string, string> = {}): Promise<PageResponse> {
  const response = await fetch(server.url + path, { method, headers, redirect: 'manual' });
  return { status: response.status, headers: response.headers, body: await response.text(), location: response.headers.get('location') };
}
