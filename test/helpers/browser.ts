/**
 * A tiny browser: keeps cookies, never follows redirects on its own, and can find form fields,
 * so tests see every hop of the authorize / login / consent dance.
 */
import type { SideName } from '../../src/oauth/sides.js';

export interface PageResponse {
  status: number;
  headers: Headers;
  body: string;
  location: string | null;
}

export class TestBrowser {
  readonly cookies = new Map<string, string>();

  constructor(readonly baseUrl: string) {}

  private absorb(response: Response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = (pair ?? '').indexOf('=');
      const name = (pair ?? '').slice(0, eq).trim();
      const value = (pair ?? '').slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private cookieHeader() {
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  }

  /** A form value given as an array is sent once per element (checkboxes). */
  async request(method: 'GET' | 'POST', pathOrUrl: string, form?: Record<string, string | string[]>): Promise<PageResponse> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : this.baseUrl + pathOrUrl;
    const headers: Record<string, string> = {};
    if (this.cookies.size) headers.cookie = this.cookieHeader();
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, { method, headers, body: form ? new URLSearchParams(Object.entries(form).flatMap(([n, v]) => (Array.isArray(v) ? v.map((x): [string, string] => [n, x]) : [[n, v] as [string, string]]))).toString() : undefined, redirect: 'manual' });
    this.absorb(response);
    return { status: response.status, headers: response.headers, body: await response.text(), location: response.headers.get('location') };
  }

  get(path: string) {
    return this.request('GET', path);
  }

  post(path: string, form: Record<string, string | string[]>) {
    return this.request('POST', path, form);
  }
}

/** The value of a hidden or text input in an HTML page, unescaped. */
export function formField(html: string, name: string): string | undefined {
  const match = new RegExp(`name="${name}"[^>]*value="([^"]*)"`).exec(html);
  return match?.[1]?.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

export function sidePrefix(side: SideName): string {
  return side === 'backoffice' ? '/admin' : '';
}

/** Signs in on `side` through the login form; returns the final response of the POST. */
export async function signIn(browser: TestBrowser, side: SideName, login: string, password: string, returnTo?: string): Promise<PageResponse> {
  const loginPath = `${sidePrefix(side)}/oauth2-token/login`;
  const page = await browser.get(returnTo ? `${loginPath}?${new URLSearchParams({ return_to: returnTo })}` : loginPath);
  const form: Record<string, string> = { csrf_token: formField(page.body, 'csrf_token') ?? '', login, password };
  if (returnTo) form.return_to = returnTo;
  return browser.post(loginPath, form);
}
