/** Client-side steps of the authorization code flow, as an app would perform them. */
import { randomBytes } from 'node:crypto';
import { s256Challenge } from '../../src/oauth/pkce.js';
import type { SideName } from '../../src/oauth/sides.js';
import { formField, type PageResponse, sidePrefix, signIn, type TestBrowser } from './browser.js';

export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: s256Challenge(verifier) };
}

/** An HTTP Basic Authorization header for a client (RFC 6749 §2.3.1: id and secret form-encoded first). */
export const basicHeader = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export const authorizePath = (side: SideName) => `${sidePrefix(side)}/oauth2-token/authorize`;

export function authorizeUrl(side: SideName, params: Record<string, string | undefined>): string {
  const defined = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined);
  return `${authorizePath(side)}?${new URLSearchParams(defined)}`;
}

export interface AuthorizeOptions {
  login: string;
  password: string;
  /** What to answer on the consent page; 'expect-none' fails if a consent page appears. */
  decision?: 'allow' | 'deny' | 'expect-none';
}

/**
 * Runs authorize → (login) → (consent) in `browser` and returns the final redirect to the
 * client, or throws with the hop that went wrong.
 */
export async function runAuthorize(browser: TestBrowser, side: SideName, params: Record<string, string | undefined>, options: AuthorizeOptions): Promise<URL> {
  let response: PageResponse = await browser.get(authorizeUrl(side, params));
  if (response.status === 303 && response.location?.includes('/oauth2-token/login')) {
    const returnTo = new URL(response.location, browser.baseUrl).searchParams.get('return_to') ?? undefined;
    const login = await signIn(browser, side, options.login, options.password, returnTo);
    if (login.status !== 303 || !login.location) throw new Error(`login failed: ${login.status} ${login.body.slice(0, 300)}`);
    response = await browser.get(login.location);
  }
  if (response.status === 200 && response.body.includes('name="decision"')) {
    if (options.decision === 'expect-none') throw new Error('a consent page appeared');
    const form: Record<string, string> = { decision: options.decision ?? 'allow' };
    for (const name of ['csrf_token', 'response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method']) {
      const value = formField(response.body, name);
      if (value !== undefined) form[name] = value;
    }
    response = await browser.post(authorizePath(side), form);
  }
  if (![302, 303].includes(response.status) || !response.location) {
    throw new Error(`expected a redirect to the client, got ${response.status}: ${response.body.slice(0, 300)}`);
  }
  return new URL(response.location);
}

/** Runs the flow and returns the code, failing if the redirect carries an error. */
export async function obtainCode(browser: TestBrowser, side: SideName, params: Record<string, string | undefined>, options: AuthorizeOptions): Promise<string> {
  const location = await runAuthorize(browser, side, params, options);
  const code = location.searchParams.get('code');
  if (!code) throw new Error(`no code in ${location.href}`);
  return code;
}

export interface TokenCall {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

/** POST /oauth2-token as JSON (the original product's way) or as a form (RFC 6749). */
export async function tokenRequest(
  baseUrl: string,
  body: Record<string, string | undefined>,
  options: { format?: 'json' | 'form'; basic?: { id: string; secret: string } } = {},
): Promise<TokenCall> {
  const defined = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const headers: Record<string, string> = {};
  let payload: string;
  if (options.format === 'form') {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    payload = new URLSearchParams(defined).toString();
  } else {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(defined);
  }
  if (options.basic) headers.authorization = basicHeader(options.basic.id, options.basic.secret);
  const response = await fetch(`${baseUrl}/oauth2-token`, { method: 'POST', headers, body: payload });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** GET on the JSON:API with a bearer token. */
export async function apiGet(baseUrl: string, path: string, token?: string) {
  const headers: Record<string, string> = { accept: 'application/vnd.api+json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await fetch(baseUrl + path, { headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
