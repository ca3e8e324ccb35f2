/**
 * The browser's state on the authorization server: one login session per side, and a CSRF
 * cookie whose keyed hash is the token every form must carry back (signed double submit).
 */
import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Side } from '../oauth/sides.js';
import { randomToken, type SecretHasher, safeEqual } from '../security/tokens.js';
import type { Session, SessionRepository } from '../storage/repositories.js';

const SESSION_PURPOSE = 'session-id';
const CSRF_PURPOSE = 'csrf';
const OIDC_SID_PURPOSE = 'oidc-sid';

export class BrowserSessions {
  private readonly csrfCookie: string;

  constructor(
    private readonly sessions: SessionRepository,
    private readonly hasher: SecretHasher,
    private readonly ttl: number,
    private readonly secure: boolean,
  ) {
    this.csrfCookie = secure ? '__Host-grantry_csrf' : 'grantry_csrf';
  }

  private cookieOptions(maxAge?: number) {
    return { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: this.secure, ...(maxAge ? { maxAge } : {}) };
  }

  async current(request: FastifyRequest, side: Side): Promise<Session | undefined> {
    const key = this.sessionKey(request, side);
    if (key === undefined) return undefined;
    const session = await this.sessions.find(key, Math.floor(Date.now() / 1000));
    return session?.side === side.name ? session : undefined;
  }

  /**
   * The stored key (keyed hash) of the session id this browser sends for `side`, whether or not
   * it is live: what tells its session from the user's others (a password change ends those).
   */
  sessionKey(request: FastifyRequest, side: Side): string | undefined {
    const id = request.cookies[side.sessionCookie];
    return id && id.length <= 100 ? this.hasher.hash(SESSION_PURPOSE, id) : undefined;
  }

  /**
   * The OpenID Connect session id (`sid`) of the session this browser sends for `side`: derived
   * from the stored key, so it tells nothing of the cookie.
   */
  openIdSessionId(request: FastifyRequest, side: Side): string | undefined {
    const key = this.sessionKey(request, side);
    return key === undefined ? undefined : this.hasher.hash(OIDC_SID_PURPOSE, key).slice(0, 32);
  }

  /** Starts a session under a brand-new id, whatever cookie came in (no session fixation). */
  async start(request: FastifyRequest, reply: FastifyReply, side: Side, userId: number): Promise<void> {
    await this.end(request, reply, side);
    const id = randomToken(32);
    const now = Math.floor(Date.now() / 1000);
    await this.sessions.create(this.hasher.hash(SESSION_PURPOSE, id), { side: side.name, userId, expiresAt: now + this.ttl }, now);
    reply.setCookie(side.sessionCookie, id, this.cookieOptions(this.ttl));
  }

  async end(request: FastifyRequest, reply: FastifyReply, side: Side): Promise<void> {
    const key = this.sessionKey(request, side);
    if (key !== undefined) await this.sessions.delete(key);
    if (request.cookies[side.sessionCookie] !== undefined) reply.clearCookie(side.sessionCookie, this.cookieOptions());
  }

  /** The CSRF token for forms on this page, setting the CSRF cookie when the browser has none. */
  csrfToken(request: FastifyRequest, reply: FastifyReply): string {
    let seed = request.cookies[this.csrfCookie];
    if (!seed || seed.length !== 43) {
      seed = randomToken(32);
      reply.setCookie(this.csrfCookie, seed, this.cookieOptions());
      // Later calls in this request must see the same seed.
      request.cookies[this.csrfCookie] = seed;
    }
    return this.hasher.hash(CSRF_PURPOSE, seed);
  }

  verifyCsrf(request: FastifyRequest, submitted: unknown): boolean {
    const seed = request.cookies[this.csrfCookie];
    return typeof seed === 'string' && typeof submitted === 'string' && safeEqual(this.hasher.hash(CSRF_PURPOSE, seed), submitted);
  }
}
