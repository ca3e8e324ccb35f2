/**
 * GET|POST {side}/oauth2-token/authorize. Parses the request, lets the core validate it, and
 * renders one of: error page, error redirect, login redirect, consent page, code redirect.
 * No CORS here on purpose (RFC 9700 §2.6): only a top-level browser navigation belongs here.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AUTHORIZE_PARAMS,
  type AuthorizationRequest,
  AuthorizeRedirectError,
  authorizationResponseUrl,
  checkGuestRequest,
  checkIdTokenHint,
  consentDecision,
  consentScopes,
  errorResponseUrl,
  FreshSignIn,
  limitToRole,
  mustSignInAgain,
  openIdGrantOf,
  paramsAfterSignIn,
  validateAuthorizationRequest,
} from '../oauth/authorize.js';
import { AuthorizePageError, OAuthError } from '../oauth/errors.js';
import { VISITOR_AUTHORIZE_PATH } from '../oauth/metadata.js';
import type { RawParams } from '../oauth/params.js';
import type { Side } from '../oauth/sides.js';
import type { Session } from '../storage/repositories.js';
import { activeUserRole } from '../oauth/user-role.js';
import { Throttle } from '../security/throttle.js';
import type { HttpContext } from './context.js';
import { displayName } from './login.js';
import { MAX_REDIRECT_LOCATION, sendPage } from './page-headers.js';
import { consentPage, errorPage, invalidSignInLinkPage } from './views/pages.js';

export function authorizeRoutes(ctx: HttpContext, side: Side) {
  const { grantry, browser } = ctx;
  const brand = ctx.branding.of(side.name);
  const fresh = new FreshSignIn(grantry.hasher);
  const dependencies = { clients: grantry.repos.clients, scopes: grantry.scopes, idTokens: grantry.idTokens };

  /** 302 after GET; 303 after POST so the browser does not re-post the form (RFC 9700 §4.12). */
  const redirect = (request: FastifyRequest, reply: FastifyReply, location: string) =>
    reply.code(request.method === 'POST' ? 303 : 302).header('Cache-Control', 'no-store').header('Location', location).send();

  const sendCode = async (request: FastifyRequest, reply: FastifyReply, authz: AuthorizationRequest, signedIn: Session | null) => {
    const oidc = signedIn ? openIdGrantOf(authz, signedIn, browser.openIdSessionId(request, side), grantry.subjects.of(authz.client, signedIn.userId)) : undefined;
    const code = await grantry.codes.issue(authz, signedIn?.userId ?? null, oidc);
    return redirect(request, reply, authorizationResponseUrl(authz.redirectUri, { code, state: authz.state, iss: side.issuer }));
  };

  const redirectError = (request: FastifyRequest, reply: FastifyReply, authz: AuthorizationRequest, error: OAuthError) =>
    redirect(request, reply, errorResponseUrl(new AuthorizeRedirectError(error, authz.redirectUri, authz.state), side.issuer));

  /**
   * To the login page, coming back to this request afterwards, marked as asking for a sign-in
   * from now on (FreshSignIn). `again`: the user is signed in but must sign in anew
   * (prompt=login, max_age), so the login page shows its form instead of passing them back.
   */
  const toLogin = (request: FastifyRequest, reply: FastifyReply, authz: AuthorizationRequest, raw: RawParams, again: boolean) => {
    const returnTo = `${side.authorizePath}?${new URLSearchParams(paramsAfterSignIn(forwardedParams(raw), fresh.mark(Math.floor(Date.now() / 1000))))}`;
    const login = `${side.loginPath}?${new URLSearchParams({ return_to: returnTo, ...(again ? { again: '1' } : {}) })}`;
    // The request comes back through the login page encoded twice over: past this size the
    // browser's next request would be refused (431), so say so to the client now.
    if (login.length > MAX_REDIRECT_LOCATION) return redirectError(request, reply, authz, OAuthError.invalidRequest('the authorization request is too long to carry through sign-in'));
    return reply.code(303).header('Cache-Control', 'no-store').header('Location', login).send();
  };

  /** The authorize parameters as a query string, to return to after login or carry in the consent form. */
  const forwardedParams = (raw: RawParams): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const name of AUTHORIZE_PARAMS) if (typeof raw[name] === 'string' && raw[name] !== '') out[name] = raw[name] as string;
    return out;
  };

  /** The validated request, or undefined when an error page or error redirect was sent. */
  async function validate(request: FastifyRequest, reply: FastifyReply, raw: RawParams): Promise<AuthorizationRequest | undefined> {
    try {
      return await validateAuthorizationRequest(raw, side, dependencies);
    } catch (e) {
      if (e instanceof AuthorizePageError) {
        sendPage(reply, e.status, invalidSignInLinkPage(brand, { clientName: e.clientName, technical: `${e.title}: ${e.description} (${e.error})` }));
      } else if (e instanceof AuthorizeRedirectError) redirect(request, reply, errorResponseUrl(e, side.issuer));
      else throw e;
      return undefined;
    }
  }

  async function handle(request: FastifyRequest, reply: FastifyReply) {
    const raw = ((request.method === 'POST' ? request.body : request.query) ?? {}) as RawParams;
    const validated = await validate(request, reply, raw);
    if (!validated) return reply;
    let authz = validated;

    const session = await browser.current(request, side);
    const decision = request.method === 'POST' ? raw.decision : undefined;
    // OIDC Core §3.1.2.1 lets a client POST the request; a form posted from the client's site
    // carries no SameSite=Lax cookie, so a signed-in user would seem signed out. The same request
    // by GET (a top-level navigation, which carries it) finds the session. (The consent form is
    // our own page, so its POST carries the cookie.)
    if (!session && request.method === 'POST' && decision === undefined && request.cookies[side.sessionCookie] === undefined) {
      const location = `${side.authorizePath}?${new URLSearchParams(forwardedParams(raw))}`;
      if (location.length <= MAX_REDIRECT_LOCATION) return redirect(request, reply, location);
    }
    // prompt=none: no page at all, so a needed sign-in is told to the client (OIDC Core §3.1.2.6).
    const again = session !== undefined && decision === undefined && mustSignInAgain(authz, session, Math.floor(Date.now() / 1000), fresh);
    if (!session || again) {
      if (authz.prompt.has('none')) return redirectError(request, reply, authz, OAuthError.loginRequired(session ? 'the sign-in is older than max_age and prompt=none forbids the sign-in page' : undefined));
      return toLogin(request, reply, authz, raw, again);
    }
    // The scopes follow the signed-in user's role (api-scopes.ts). A disabled or locked user has
    // none; their code is refused at the token endpoint, as it always was.
    const role = await activeUserRole(grantry.repos.users, side.name, session.userId);
    try {
      await checkIdTokenHint(authz, session.userId, grantry.idTokens, grantry.subjects);
      if (role) authz = limitToRole(authz, role);
    } catch (e) {
      if (e instanceof AuthorizeRedirectError) return redirect(request, reply, errorResponseUrl(e, side.issuer));
      throw e;
    }

    if (decision !== undefined) {
      if (!browser.verifyCsrf(request, raw.csrf_token)) {
        return sendPage(reply, 403, errorPage(brand, {
          title: 'This page has expired',
          message: `Nothing was shared with ${authz.client.name}. Go back to the application and try again.`,
          technical: 'Request expired: the consent form\'s CSRF token is missing, expired or from another browser (HTTP 403)',
        }));
      }
      const about = { side: side.name, userId: session.userId, clientId: authz.client.clientId, address: request.ip, details: { scope: authz.scope } };
      if (decision === 'allow') {
        grantry.audit.emit({ kind: 'consent.granted', ...about });
        if (grantry.config.rememberConsent) {
          await grantry.repos.consents.record(side.name, session.userId, authz.client.pk, consentScopes(authz));
        }
        return sendCode(request, reply, authz, session);
      }
      grantry.audit.emit({ kind: 'consent.denied', ...about });
      return redirectError(request, reply, authz, OAuthError.accessDenied());
    }
    // A consent POST is the answer to the page, so prompt=consent cannot loop; remembered
    // consent covering the request skips the page.
    const remembered =
      grantry.config.rememberConsent && !authz.client.skipConsent ? await grantry.repos.consents.find(side.name, session.userId, authz.client.pk) : undefined;
    const consent = consentDecision(authz, remembered);
    if (!consent.ask) return sendCode(request, reply, authz, session);
    if (authz.prompt.has('none')) {
      return redirectError(request, reply, authz, OAuthError.consentRequired());
    }
    // In the words of what the scope lets this user's role do (an admin's api manages everyone).
    const describe = (names: string[]) => names.map((name) => ({ name, description: grantry.scopes.describe(name, role) }));

    return sendPage(
      reply,
      200,
      consentPage({
        brand,
        action: side.authorizePath,
        csrfToken: browser.csrfToken(request, reply),
        clientName: authz.client.name,
        userName: await displayName(ctx, side, session.userId),
        scopes: describe(consent.newScopes),
        alreadyAllowed: describe(consent.allowed),
        hidden: forwardedParams(raw),
      }),
    );
  }

  /**
   * Storefront guests: a code for a fresh visitor subject, with no login and no consent, for
   * clients that allow guests. GET only: there is no form to post. Each code stores a grant for
   * nobody in particular, so an address gets a limited number per window (Throttle.visitorKeys);
   * over it, the client is told temporarily_unavailable (RFC 6749 §4.1.2.1) at its redirect URI,
   * which is trusted by then, and nothing is stored.
   */
  async function handleVisitor(request: FastifyRequest, reply: FastifyReply) {
    const authz = await validate(request, reply, (request.query ?? {}) as RawParams);
    if (!authz) return reply;
    try {
      checkGuestRequest(authz);
    } catch (e) {
      if (e instanceof AuthorizeRedirectError) return redirect(request, reply, errorResponseUrl(e, side.issuer));
      throw e;
    }
    const retryAfter = await grantry.throttle.reserve(Throttle.visitorKeys(request.ip), Math.floor(Date.now() / 1000));
    if (retryAfter > 0) {
      reply.header('Retry-After', String(retryAfter));
      return redirectError(request, reply, authz, OAuthError.temporarilyUnavailable('too many guest authorizations from this address; try again later', retryAfter));
    }
    return sendCode(request, reply, authz, null);
  }

  return async function plugin(app: FastifyInstance) {
    app.get(side.authorizePath, handle);
    app.post(side.authorizePath, handle);
    if (side.name === 'storefront') {
      app.get(VISITOR_AUTHORIZE_PATH, handleVisitor);
      app.post(VISITOR_AUTHORIZE_PATH, async (_request, reply) =>
        sendPage(reply.header('Allow', 'GET'), 405, errorPage(brand, {
          title: 'Method not allowed',
          message: 'This address does not take that kind of request. Go back to the application and try again.',
          technical: 'the guest authorization endpoint takes GET requests only (HTTP 405)',
        })),
      );
    }
  };
}
