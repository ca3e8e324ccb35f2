/**
 * What every console route shares: who is signed in (and as which principal the management
 * layer sees them), reading form fields once where they enter, and turning ManagementErrors
 * into pages. Permission rules are not here: they live in src/management.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ManagementError } from '../../management/errors.js';
import type { ActionContext } from '../../management/principal.js';
import type { Side } from '../../oauth/sides.js';
import { textProblem } from '../../security/input.js';
import type { BackofficeUser } from '../../storage/repositories.js';
import type { HttpContext } from '../context.js';
import { sendPage } from '../page-headers.js';
import { consoleErrorPage } from '../views/console/common.js';
import type { ConsoleFrame, PageOptions } from '../views/console/layout.js';

/** A signed-in back-office user on a console page. */
export interface Visitor {
  user: BackofficeUser;
  /** What the management layer is told about who acts, and from where. */
  action: ActionContext;
  frame: ConsoleFrame;
}

export type Body = Record<string, string | string[] | undefined>;

export class Console {
  readonly base: string;

  constructor(
    readonly ctx: HttpContext,
    readonly side: Side,
  ) {
    this.base = side.consolePath as string;
  }

  /**
   * The signed-in back-office user, or undefined after answering: a visitor without a session
   * goes to the back-office login page, which brings them back here (a GET to this very page;
   * after a POST, the console's start page, since a POST cannot be replayed by a redirect).
   */
  async visitor(request: FastifyRequest, reply: FastifyReply): Promise<Visitor | undefined> {
    const session = await this.ctx.browser.current(request, this.side);
    const user = session ? await this.ctx.grantry.repos.users.findBackofficeUser(session.userId) : undefined;
    if (!user) {
      const back = request.method === 'GET' && request.url.length <= 2000 ? request.url : this.base;
      reply.code(303).header('Cache-Control', 'no-store').header('Location', `${this.side.loginPath}?${new URLSearchParams({ return_to: back })}`).send();
      return undefined;
    }
    return {
      user,
      action: { principal: { kind: 'user', side: 'backoffice', userId: user.id, isAdmin: user.isAdmin, label: user.username }, address: request.ip },
      frame: {
        productName: this.ctx.branding.of('backoffice').name,
        base: this.base,
        userName: user.username,
        isAdmin: user.isAdmin,
        logoutAction: this.side.logoutPath,
        csrfToken: this.ctx.browser.csrfToken(request, reply),
      },
    };
  }

  /**
   * A visitor allowed on a state-changing POST: signed in and carrying the CSRF token of this
   * browser. A forged or expired form changes nothing and gets 403.
   */
  async poster(request: FastifyRequest, reply: FastifyReply): Promise<Visitor | undefined> {
    const visitor = await this.visitor(request, reply);
    if (!visitor) return undefined;
    const body = (request.body ?? {}) as Body;
    if (!this.ctx.browser.verifyCsrf(request, body.csrf_token)) {
      this.send(reply, 403, consoleErrorPage(visitor.frame, 'Form expired', 'This form expired or did not come from this console, so nothing was changed. Please go back, reload the page and try again.'));
      return undefined;
    }
    return visitor;
  }

  send(reply: FastifyReply, status: number, page: string): FastifyReply {
    return sendPage(reply, status, page, { ownScripts: true });
  }

  /** 403 for a non-admin on a page only admins have (which page to show, not a permission rule). */
  forbidden(reply: FastifyReply, visitor: Visitor, options: PageOptions = {}): FastifyReply {
    return this.send(reply, 403, consoleErrorPage(visitor.frame, 'Not allowed', 'Only administrators can open this page.', options));
  }

  notFound(reply: FastifyReply, visitor: Visitor, options: PageOptions = {}): FastifyReply {
    return this.send(reply, 404, consoleErrorPage(visitor.frame, 'Not found', 'There is no such item, or it is not yours to see.', options));
  }

  /**
   * The page for a ManagementError that no form field explains: not_found (also what another
   * user's object answers) is 404, forbidden 403, anything else 400 with its plain message.
   */
  refused(reply: FastifyReply, visitor: Visitor, e: unknown, options: PageOptions = {}): FastifyReply {
    if (!(e instanceof ManagementError)) throw e;
    if (e.code === 'not_found') return this.notFound(reply, visitor, options);
    if (e.code === 'forbidden') return this.forbidden(reply, visitor, options);
    return this.send(reply, e.code === 'conflict' ? 409 : 400, consoleErrorPage(visitor.frame, 'Not done', sentence(e.message), options));
  }
}

/**
 * A ManagementError message as a sentence for a page ("the name must…" → "The name must…."). Its
 * messages are shared with the CLI, so a CLI option named in parentheses ("an owner user
 * (--owner)") is dropped: the page shows the message next to the field itself.
 */
export function sentence(message: string): string {
  const plain = message.replace(/ \(--[a-z-]+\)/g, '');
  const text = plain.charAt(0).toUpperCase() + plain.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** Thrown when a submitted value breaks the text rule of every request value (src/security/input.ts). */
export class BadField extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** A field as typed, to show again in a form after an error (no rule applied: nothing reads it but the page). */
export const typed = (value: unknown): string => (typeof value === 'string' ? value : '');

/**
 * One text field of a form: a repeated single-valued field is refused like any other malformed
 * value, and every value passes the shared text check before anything reads it.
 */
export function one(body: Body, name: string, label: string, maxLength?: number): string {
  const value = body[name];
  if (value === undefined) return '';
  if (Array.isArray(value)) throw new BadField(name, `${label} was sent more than once`);
  const problem = textProblem(value, maxLength);
  if (problem) throw new BadField(name, `${label} ${problem}`);
  return value;
}

/** A multi-valued field (checkboxes), each value checked. */
export function many(body: Body, name: string, label: string): string[] {
  const raw = body[name];
  const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  for (const v of values) if (textProblem(v, 1000)) throw new BadField(name, `${label} contains characters that are not allowed`);
  return values;
}

/** A query parameter as one short string, or undefined (repeated, malformed or absent). */
export function queryParam(request: FastifyRequest, name: string, maxLength = 200): string | undefined {
  const value = (request.query as Record<string, unknown>)[name];
  if (typeof value !== 'string' || value === '' || textProblem(value, maxLength)) return undefined;
  return value;
}

/** ?page=N, 1 when absent or not a sensible page number. */
export function pageParam(request: FastifyRequest): number {
  const raw = queryParam(request, 'page', 6);
  const n = raw && /^\d{1,6}$/.test(raw) ? Number(raw) : 1;
  return n >= 1 ? n : 1;
}

/** A path parameter naming an object (client_id, user id): undefined when no object can have it. */
export function pathParam(request: FastifyRequest, name: string): string | undefined {
  const value = (request.params as Record<string, unknown>)[name];
  if (typeof value !== 'string' || value === '' || textProblem(value, 255)) return undefined;
  return value;
}

/** A textarea of one value per line (redirect URIs): each line is checked, blank ones dropped. */
export function lines(body: Body, name: string, label: string): string[] {
  const value = body[name];
  if (value === undefined) return [];
  if (Array.isArray(value)) throw new BadField(name, `${label} was sent more than once`);
  const out = value.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  for (const line of out) {
    const problem = textProblem(line, 2000);
    if (problem) throw new BadField(name, `${label}: a line ${problem}`);
  }
  return out;
}
