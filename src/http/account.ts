/**
 * The account pages of one side, at side.accountPath ('/account', '{prefix}/account'), behind
 * the side's login: an overview, the authorized applications with "Remove access", and the
 * password form. They parse and render; the rules are AccountManager's (src/management/account.ts),
 * which acts on the signed-in user's own account only.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CurrentPasswordRefused, TooManyPasswordAttempts } from '../management/account.js';
import { ManagementError } from '../management/errors.js';
import type { ActionContext } from '../management/principal.js';
import { type Role, roleOf } from '../oauth/api-scopes.js';
import type { Side } from '../oauth/sides.js';
import type { HttpContext } from './context.js';
import { pathParam, queryParam, sentence } from './console/shared.js';
import { safeReturnTo, tooManyAttemptsMessage } from './login.js';
import { redirectAfterPost, sendPage } from './page-headers.js';
import { type AccountFrame, accountErrorPage, accountOverviewPage, applicationsPage, type PasswordField, passwordPage } from './views/account.js';

/** A signed-in user on an account page. */
interface Visitor {
  /** What the management layer is told about who acts, and from where. */
  action: ActionContext;
  /** What the user may do (admin, staff, customer): the scopes are described in its words. */
  role: Role;
  email: string;
  frame: AccountFrame;
}

/** The confirmations a redirect after a change asks for (?done=…): fixed texts, never taken from the URL. */
const NOTICES: Record<string, string> = {
  removed: 'Access removed. Its tokens were revoked; it needs your permission again to get new ones.',
  // A skip-consent application never asks: saying it must would be untrue.
  removed_skip_consent: 'Access removed. Its tokens were revoked. It is allowed to sign you in without asking, so it gets new ones the next time you use it.',
  password: 'Your password was changed. You were signed out everywhere else.',
};

const PASSWORD_FIELDS: readonly PasswordField[] = ['current_password', 'new_password', 'confirm_password'];

/** The field of the password form a refusal is about: the current password's, else the new one's. */
const fieldOf = (e: ManagementError): PasswordField => (e instanceof CurrentPasswordRefused ? 'current_password' : 'new_password');

export function accountRoutes(ctx: HttpContext, side: Side) {
  const { grantry, browser } = ctx;
  const base = side.accountPath;

  /**
   * The signed-in user, or undefined after answering: a visitor without a session goes to the
   * side's login page, which brings them back here (to this very page after a GET; to the
   * overview after a POST, which a redirect cannot replay).
   */
  async function visitor(request: FastifyRequest, reply: FastifyReply): Promise<Visitor | undefined> {
    const session = await browser.current(request, side);
    const { users } = grantry.repos;
    const user = !session ? undefined : side.name === 'backoffice' ? await users.findBackofficeUser(session.userId) : await users.findCustomerUser(session.userId);
    if (!user) {
      const back = (request.method === 'GET' && safeReturnTo(side, request.url)) || base;
      reply.code(303).header('Cache-Control', 'no-store').header('Location', `${side.loginPath}?${new URLSearchParams({ return_to: back })}`).send();
      return undefined;
    }
    const label = 'username' in user ? user.username : user.email;
    const isAdmin = 'isAdmin' in user && user.isAdmin;
    return {
      action: { principal: { kind: 'user', side: side.name, userId: user.id, isAdmin, label }, address: request.ip },
      role: roleOf(side.name, isAdmin),
      email: user.email,
      frame: { brand: ctx.branding.of(side.name), base, userName: label, logoutAction: side.logoutPath, csrfToken: browser.csrfToken(request, reply) },
    };
  }

  /** A visitor allowed to change something: signed in, and the form carries this browser's CSRF token (else 403, nothing changed). */
  async function poster(request: FastifyRequest, reply: FastifyReply): Promise<Visitor | undefined> {
    const found = await visitor(request, reply);
    if (!found) return undefined;
    if (!browser.verifyCsrf(request, ((request.body ?? {}) as Record<string, unknown>).csrf_token)) {
      sendPage(reply, 403, accountErrorPage(found.frame, 'Form expired', 'This form expired or did not come from this site, so nothing was changed. Please go back, reload the page and try again.'));
      return undefined;
    }
    return found;
  }

  const notFound = (reply: FastifyReply, found: Visitor) =>
    sendPage(reply, 404, accountErrorPage(found.frame, 'Not found', 'There is no such application among those you have authorized.'));

  const minLength = grantry.config.passwordMinLength;

  return async function plugin(app: FastifyInstance) {
    app.get(base, async (request, reply) => {
      const found = await visitor(request, reply);
      if (!found) return reply;
      return sendPage(reply, 200, accountOverviewPage(found.frame, { email: found.email, notice: NOTICES[queryParam(request, 'done') ?? ''] }));
    });

    app.get(`${base}/applications`, async (request, reply) => {
      const found = await visitor(request, reply);
      if (!found) return reply;
      const applications = (await grantry.account.authorizedApplications(found.action)).map((application) => ({
        ...application,
        // In the words of what the scope lets this user's role do, as the consent page said it.
        scopes: application.scopes.map((name) => ({ name, description: grantry.scopes.describe(name, found.role) })),
      }));
      return sendPage(reply, 200, applicationsPage(found.frame, { applications, notice: NOTICES[queryParam(request, 'done') ?? ''] }));
    });

    app.post(`${base}/applications/:clientId/remove`, async (request, reply) => {
      const found = await poster(request, reply);
      if (!found) return reply;
      const clientId = pathParam(request, 'clientId');
      if (clientId === undefined) return notFound(reply, found);
      let removed;
      try {
        removed = await grantry.account.removeAccess(found.action, clientId);
      } catch (e) {
        if (e instanceof ManagementError && e.code === 'not_found') return notFound(reply, found);
        throw e;
      }
      return redirectAfterPost(reply, `${base}/applications?done=${removed.skipConsent ? 'removed_skip_consent' : 'removed'}`);
    });

    app.get(`${base}/password`, async (request, reply) => {
      const found = await visitor(request, reply);
      if (!found) return reply;
      return sendPage(reply, 200, passwordPage(found.frame, { minLength }));
    });

    app.post(`${base}/password`, async (request, reply) => {
      const found = await poster(request, reply);
      if (!found) return reply;
      const refuse = (status: number, error: string, errorField: PasswordField) => sendPage(reply, status, passwordPage(found.frame, { minLength, error, errorField }));
      const body = (request.body ?? {}) as Record<string, unknown>;
      // Each field once, as text; a repeated or missing one is an empty one. Passwords are never shown again.
      const [current, next, confirm] = PASSWORD_FIELDS.map((name) => (typeof body[name] === 'string' ? (body[name] as string) : '')) as [string, string, string];
      if (current === '') return refuse(400, 'Type your current password.', 'current_password');
      if (next === '') return refuse(400, 'Type a new password.', 'new_password');
      if (next !== confirm) return refuse(400, 'The new password and its confirmation do not match.', 'confirm_password');
      try {
        await grantry.account.changePassword(found.action, current, next, browser.sessionKey(request, side));
      } catch (e) {
        if (e instanceof TooManyPasswordAttempts) {
          reply.header('Retry-After', String(e.retryAfter));
          return refuse(429, tooManyAttemptsMessage(e.retryAfter), 'current_password');
        }
        if (e instanceof ManagementError && e.code === 'invalid_input') return refuse(400, sentence(e.message), fieldOf(e));
        throw e;
      }
      return redirectAfterPost(reply, `${base}?done=password`);
    });
  };
}
