/**
 * Redirect URI rules. Matching is exact string comparison (RFC 9700 §2.1, §4.1): no case
 * folding, no trailing-slash or path normalisation, no prefix or wildcard matching. The one
 * exception is the port of a loopback IP redirect, which native apps pick at run time
 * (RFC 8252 §7.3).
 */

const LOOPBACK = /^http:\/\/(127\.0\.0\.1|\[::1\])(?::(\d{1,5}))?([/?].*)?$/s;

/** The loopback URI with its port removed, or undefined when it is not a loopback IP URI. */
function withoutLoopbackPort(uri: string): string | undefined {
  const m = LOOPBACK.exec(uri);
  if (!m) return undefined;
  if (m[2] !== undefined && Number(m[2]) > 65535) return undefined;
  return `http://${m[1]}${m[3] ?? ''}`;
}

export function redirectUriMatches(requested: string, registered: string): boolean {
  if (requested === registered) return true;
  const a = withoutLoopbackPort(requested);
  return a !== undefined && a === withoutLoopbackPort(registered);
}

export function findRegisteredRedirectUri(requested: string, registered: readonly string[]): string | undefined {
  return registered.find((r) => redirectUriMatches(requested, r));
}

/**
 * Checks a redirect URI at client registration; returns what is wrong, or undefined.
 * https is required except for loopback and private-use schemes of native apps (RFC 9700 §2.6,
 * RFC 8252 §7.1); fragments are forbidden (RFC 6749 §3.1.2).
 */
export function redirectUriProblem(uri: string): string | undefined {
  if (uri.length > 2000) return 'is longer than 2000 characters';
  if (/[\s<>"\\^`{|}]/.test(uri)) return 'contains spaces or characters not allowed in a URI';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URI';
  }
  if (uri.includes('#')) return 'must not contain a fragment';
  if (url.username || url.password) return 'must not contain user information';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    return ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname) ? undefined : 'must use https (http is allowed only for loopback addresses)';
  }
  // Private-use schemes must look like reverse domain names (RFC 8252 §7.1), e.g. com.example.app:/cb.
  if (/^[a-z][a-z0-9+\-]*(\.[a-z0-9+\-]+)+:$/.test(url.protocol)) return undefined;
  if (['javascript:', 'data:', 'file:', 'vbscript:'].includes(url.protocol)) return `must not use the ${url.protocol} scheme`;
  return 'must use https, a loopback http address, or a private-use scheme in reverse domain form (com.example.app:/callback)';
}
