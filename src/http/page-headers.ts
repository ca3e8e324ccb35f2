/**
 * Headers for HTML pages of the authorization server: they must not be framed (clickjacking,
 * RFC 9700 §4.16), cached, or load anything but our own stylesheet (and the configured logo).
 */
import type { FastifyReply } from 'fastify';

const IMAGES_FROM_SELF = "img-src 'self'";
const CSP = `default-src 'none'; style-src 'self'; ${IMAGES_FROM_SELF}; frame-ancestors 'none'; base-uri 'none'`;
/** Console pages load one script file of ours (the copy button); still no inline script. */
const CSP_WITH_SCRIPT = `${CSP}; script-src 'self'`;

export function sendPage(reply: FastifyReply, status: number, body: string, options: { ownScripts?: boolean } = {}): FastifyReply {
  return reply
    .code(status)
    .header('Content-Type', 'text/html; charset=utf-8')
    .header('Content-Security-Policy', options.ownScripts ? CSP_WITH_SCRIPT : CSP)
    .header('X-Frame-Options', 'DENY')
    .header('Cache-Control', 'no-store')
    .header('Referrer-Policy', 'no-referrer')
    .send(body);
}

/**
 * Lets a page answer load images from `origin` too (the logo_url's, when it is on another
 * server): that origin only, never a wildcard. Run on every answer as it is sent, so that every
 * page of every route group gets it; answers without a page CSP are left alone.
 */
export function allowImagesFrom(reply: FastifyReply, origin: string): void {
  const csp = reply.getHeader('Content-Security-Policy');
  if (typeof csp === 'string') reply.header('Content-Security-Policy', csp.replace(IMAGES_FROM_SELF, `${IMAGES_FROM_SELF} ${origin}`));
}

/**
 * The longest Location we send to the browser's own next request: Node refuses request heads
 * over 16 KiB, and the cookies and other headers need room too.
 */
export const MAX_REDIRECT_LOCATION = 8 * 1024;

/** 303 so the browser follows with GET and never re-posts credentials (RFC 9700 §4.12). */
export function redirectAfterPost(reply: FastifyReply, location: string): FastifyReply {
  return reply.code(303).header('Cache-Control', 'no-store').header('Location', location).send();
}
