/**
 * Login and logout pages of one side. A successful login returns to the authorize request
 * that sent the user here; `return_to` may only point at this side's authorize endpoint (or, on
 * the back office, a console page), so the login page cannot be turned into an open redirector.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Side } from '../oauth/sides.js';
import { presentedPasswordProblem, textProblem } from '../security/input.js';
import { verifyPassword } from '../security/passwords.js';
import { Throttle } from '../security/throttle.js';
import type { HttpContext } from './context.js';
import { redirectAfterPost, sendPage } from './page-headers.js';
import { errorPage, loginPage, signedInPage } from './views/pages.js';

const GENERIC_FAILURE = 'Invalid credentials.';

/** The same for every account, known or not, so it tells nothing about the account. */
export function tooManyAttemptsMessage(retryAfter: number): string {
  const minutes = Math.max(1, Math.ceil(retryAfter / 60));
  return `Too many failed sign-in attempts. Try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`;
}

export function safeReturnTo(side: Side, value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 4096) return undefined;
  // It ends up in a Location header: only printable ASCII (our own return_to is percent-encoded).
  if (!/^[\x21-\x7e]*$/.test(value)) return undefined;
  if (value === side.authorizePath || value.startsWith(`${side.authorizePath}?`)) return value;
  // The console page (back office) or account page the user was sent away from, on this
  // origin. An exact grammar rather than a prefix test: a browser resolves "..", "." and (for
  // http) "\" in a Location path, and a server may decode %2e/%2f, so
  // "/admin/console/../..//evil.example" would leave the console (to "//evil.example" as a path
  // of this host). Every such path is the page's own followed by segments of letters, digits,
  // "_" and "-" (client ids, user ids, names); the query, which no browser resolves, is free but
  // for "\".
  if (value.includes('\\')) return undefined;
  const query = value.indexOf('?');
  const path = query === -1 ? value : value.slice(0, query);
  for (const base of [side.consolePath, side.accountPath]) {
    if (base !== undefined && (path === base || (path.startsWith(`${base}/`) && PAGE_SEGMENTS.test(path.slice(base.length))))) return value;
  }
  return undefined;
}

/** "/seg/seg…" below the console or account path: no empty, dot or percent-encoded segment can match. */
const PAGE_SEGMENTS = /^(?:\/[A-Za-z0-9_-]+)+$/;

export async function displayName(ctx: HttpContext, side: Side, userId: number): Promise<string> {
  if (side.name === 'backoffice') return (await ctx.grantry.repos.users.findBackofficeUser(userId))?.username ?? '';
  return (await ctx.grantry.repos.users.findCustomerUser(userId))?.email ?? '';
}

/**
 * The name of the active application of this side with this client_id, for a page to show;
 * undefined for anything else (no such client, deactivated, the other side's, not a client id).
 */
async function knownClientName(ctx: HttpContext, side: Side, clientId: unknown): Promise<string | undefined> {
  if (typeof clientId !== 'string' || clientId === '' || clientId.length > 128 || textProblem(clientId)) return undefined;
  const client = await ctx.grantry.repos.clients.findByClientId(clientId);
  return client?.active && client.side === side.name ? client.name : undefined;
}

/**
 * The application a login page was reached for: the client of the authorize request it returns
 * to. Only the client_id is read from return_to, and only the name stored for it is shown.
 */
function clientOfReturnTo(ctx: HttpContext, side: Side, returnTo: string | undefined): Promise<string | undefined> {
  return knownClientName(ctx, side, authorizeParamOf(side, returnTo, 'client_id'));
}

/** One parameter of the authorize request that return_to comes back to; undefined for other pages. */
function authorizeParamOf(side: Side, returnTo: string | undefined, name: string): string | undefined {
  if (!returnTo?.startsWith(`${side.authorizePath}?`)) return undefined;
  return new URLSearchParams(returnTo.slice(side.authorizePath.length + 1)).get(name) ?? undefined;
}

/**
 * The login an authorize request's login_hint (OIDC Core §3.1.2.1) suggests, to pre-fill the
 * form: only text a login could be (the page escapes it like any value).
 */
function loginHintOf(side: Side, returnTo: string | undefined): string | undefined {
  const hint = authorizeParamOf(side, returnTo, 'login_hint')?.trim();
  return hint && hint.length <= 255 && !textProblem(hint) ? hint : undefined;
}

export function loginRoutes(ctx: HttpContext, side: Side) {
  const { browser } = ctx;
  const brand = ctx.branding.of(side.name);

  const renderForm = async (request: FastifyRequest, reply: FastifyReply, status: number, returnTo: string | undefined, error?: string, login?: string) => {
    const clientName = await clientOfReturnTo(ctx, side, returnTo);
    return sendPage(reply, status, loginPage({ brand, side: side.name, clientName, action: side.loginPath, csrfToken: browser.csrfToken(request, reply), returnTo, error, login }));
  };

  return async function plugin(app: FastifyInstance) {
    app.get(side.loginPath, async (request, reply) => {
      const returnTo = safeReturnTo(side, (request.query as Record<string, unknown>).return_to);
      const query = request.query as Record<string, unknown>;
      const session = await browser.current(request, side);
      // again=1: the authorize request wants a fresh sign-in (prompt=login, max_age), so a
      // signed-in user gets the form too; signing in replaces their session.
      if (session && !(returnTo && query.again === '1')) {
        if (returnTo) return reply.code(303).header('Location', returnTo).send();
        const userName = await displayName(ctx, side, session.userId);
        return sendPage(reply, 200, signedInPage({ brand, userName, logoutAction: side.logoutPath, csrfToken: browser.csrfToken(request, reply), accountPath: side.accountPath }));
      }
      return renderForm(request, reply, 200, returnTo, undefined, loginHintOf(side, returnTo));
    });

    app.post(side.loginPath, async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const returnTo = safeReturnTo(side, body.return_to);
      if (!browser.verifyCsrf(request, body.csrf_token)) {
        return renderForm(request, reply, 403, returnTo, 'Your sign-in form expired. Please try again.');
      }
      const login = typeof body.login === 'string' ? body.login.trim() : '';
      const password = typeof body.password === 'string' ? body.password : '';
      // The text rule of every OAuth parameter (control characters, lone surrogates, length):
      // such a login names no account, and PostgreSQL cannot even compare one with a NUL.
      const loginProblem = textProblem(login, 255);
      if (login === '' || password === '' || loginProblem || presentedPasswordProblem(password)) {
        return renderForm(request, reply, 401, returnTo, GENERIC_FAILURE, loginProblem ? undefined : login);
      }
      const account = await ctx.grantry.repos.users.findLoginAccount(side.name, login);
      // Brute-force protection: the attempt is counted before the password is verified (per
      // login name and address, and per address); while blocked, the password is not even
      // checked, so a right guess cannot be told from a wrong one.
      const { throttle } = ctx.grantry;
      const keys = Throttle.loginKeys(side.name, login, request.ip);
      const retryAfter = await throttle.reserve(keys, Math.floor(Date.now() / 1000));
      // Audited by account id when there is one; never the typed name (it may be a mistyped password).
      const about = { side: side.name, userId: account?.id ?? null, address: request.ip };
      if (retryAfter > 0) {
        ctx.grantry.audit.emit({ kind: 'signin.blocked', ...about, details: { via: 'login_form', retry_after: retryAfter } });
        reply.header('Retry-After', String(retryAfter));
        return renderForm(request, reply, 429, returnTo, tooManyAttemptsMessage(retryAfter), login);
      }
      // Verify even for unknown accounts, and answer disabled or locked ones the same way (and
      // count them the same), so neither timing nor wording tells whether an account exists.
      const passwordOk = await verifyPassword(password, account?.passwordHash);
      if (!account || !passwordOk || account.refusal) {
        const reason = !account ? 'unknown_account' : !passwordOk ? 'wrong_password' : (account.refusal ?? '');
        ctx.grantry.audit.emit({ kind: 'signin.failed', ...about, details: { via: 'login_form', reason } });
        return renderForm(request, reply, 401, returnTo, GENERIC_FAILURE, login);
      }
      ctx.grantry.audit.emit({ kind: 'signin.succeeded', ...about, details: { via: 'login_form' } });
      await throttle.release(keys);
      await browser.start(request, reply, side, account.id);
      return redirectAfterPost(reply, returnTo ?? side.loginPath);
    });

    app.post(side.logoutPath, async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      if (!browser.verifyCsrf(request, body.csrf_token)) {
        return sendPage(reply, 403, errorPage(brand, {
          title: 'You are still signed in',
          message: 'The sign-out form expired, so you were not signed out. Go back, reload the page and try again.',
          technical: 'the form\'s CSRF token is missing, expired or from another browser (HTTP 403)',
        }));
      }
      const session = await browser.current(request, side);
      await browser.end(request, reply, side);
      if (session) ctx.grantry.audit.emit({ kind: 'signout', side: side.name, userId: session.userId, address: request.ip, details: { via: 'logout_form' } });
      return redirectAfterPost(reply, side.loginPath);
    });
  };
}
