/**
 * GET|POST {side}/oauth2-token/end-session (OpenID Connect RP-Initiated Logout 1.0). Ends this
 * side's session only: at once when the ID token hint names the signed-in session, else after
 * the user confirms on a page (a form with a CSRF token, posted back here with confirm=yes).
 * Then back to the client's registered post-logout URI with state, or a "signed out" page.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuthorizePageError } from '../oauth/errors.js';
import { confirmationFields, END_SESSION_PARAMS, type EndSessionRequest, hintMatchesSession, postLogoutLocation, validateEndSessionRequest } from '../oauth/oidc/end-session.js';
import type { RawParams } from '../oauth/params.js';
import type { Side } from '../oauth/sides.js';
import type { HttpContext } from './context.js';
import { displayName } from './login.js';
import { MAX_REDIRECT_LOCATION, redirectAfterPost, sendPage } from './page-headers.js';
import { errorPage, signedOutPage, signOutConfirmPage } from './views/pages.js';

export function endSessionRoutes(ctx: HttpContext, side: Side) {
  const { grantry, browser } = ctx;
  const brand = ctx.branding.of(side.name);

  /** After the session is gone (or there was none): the client's URI, or our page. */
  const afterSignOut = (request: FastifyRequest, reply: FastifyReply, logout: EndSessionRequest) => {
    const location = postLogoutLocation(logout);
    if (location === undefined) return sendPage(reply, 200, signedOutPage({ brand, loginPath: side.loginPath }));
    return request.method === 'POST' ? redirectAfterPost(reply, location) : reply.code(302).header('Cache-Control', 'no-store').header('Location', location).send();
  };

  async function handle(request: FastifyRequest, reply: FastifyReply) {
    const raw = ((request.method === 'POST' ? request.body : request.query) ?? {}) as RawParams;
    // RP-Initiated Logout §2 lets the client POST; a form posted from the client's site carries no
    // SameSite=Lax cookie, so the session would seem gone and the user would be told "signed out"
    // while still signed in. The same request by GET (a top-level navigation) carries the cookie.
    if (request.method === 'POST' && raw.confirm === undefined && request.cookies[side.sessionCookie] === undefined) {
      const query = new URLSearchParams();
      for (const name of END_SESSION_PARAMS) if (typeof raw[name] === 'string') query.set(name, raw[name]);
      const location = `${side.endSessionPath}?${query}`;
      if (location.length <= MAX_REDIRECT_LOCATION) return redirectAfterPost(reply, location);
    }
    let logout: EndSessionRequest;
    try {
      logout = await validateEndSessionRequest(raw, side, grantry.repos.clients, grantry.idTokens);
    } catch (e) {
      if (!(e instanceof AuthorizePageError)) throw e;
      return sendPage(reply, e.status, errorPage(brand, {
        title: 'This sign-out link is not valid',
        message: 'You are still signed in: the application that sent you here asked for something this site cannot do. Go back to the application and try again.',
        technical: `${e.title}: ${e.description} (${e.error})`,
      }));
    }
    const session = await browser.current(request, side);
    if (!session) return afterSignOut(request, reply, logout);

    const confirmed = request.method === 'POST' && raw.confirm === 'yes';
    if (confirmed && !browser.verifyCsrf(request, raw.csrf_token)) {
      return sendPage(reply, 403, errorPage(brand, {
        title: 'You are still signed in',
        message: 'The sign-out form expired, so you were not signed out. Go back to the application and try again.',
        technical: 'the form\'s CSRF token is missing, expired or from another browser (HTTP 403)',
      }));
    }
    const sid = browser.openIdSessionId(request, side) as string;
    if (confirmed || hintMatchesSession(logout, session, sid, grantry.subjects)) {
      await browser.end(request, reply, side);
      grantry.audit.emit({ kind: 'signout', side: side.name, userId: session.userId, clientId: logout.client?.clientId ?? null, address: request.ip, details: { via: 'end_session', confirmed } });
      return afterSignOut(request, reply, logout);
    }
    return sendPage(reply, 200, signOutConfirmPage({
      brand,
      action: side.endSessionPath,
      csrfToken: browser.csrfToken(request, reply),
      userName: await displayName(ctx, side, session.userId),
      clientName: logout.client?.name,
      hidden: confirmationFields(logout),
      accountPath: side.accountPath,
    }));
  }

  return async function plugin(app: FastifyInstance) {
    app.get(side.endSessionPath, handle);
    app.post(side.endSessionPath, handle);
  };
}
