/**
 * Who asks for a management action, and the permission rules every entry point (CLI, console,
 * JSON:API, account pages) shares: they are checked here, in src/management, never in the HTTP
 * layer.
 */
import type { SideName } from '../oauth/sides.js';
import { ManagementError } from './errors.js';

/**
 * Who asks for a management action: the operator at the CLI, or a user of either side (signed
 * in, or the user an access token acts for). Only back-office users can be admins; a customer
 * (storefront user) manages nothing but their own account.
 */
export type Principal =
  | { kind: 'cli' }
  | { kind: 'user'; side: SideName; userId: number; isAdmin: boolean; label: string /* username or email */ };

export interface ActionContext {
  principal: Principal;
  /** Client IP for the audit trail. */
  address?: string;
}

/** The operator at the command line: may do everything. */
export const CLI: ActionContext = { principal: { kind: 'cli' } };

/** The CLI and back-office admins may do everything. */
export function isAdmin(ctx: ActionContext): boolean {
  return ctx.principal.kind === 'cli' || (ctx.principal.side === 'backoffice' && ctx.principal.isAdmin);
}

/**
 * Refuses a non-admin an admin-only action (users, keys, audit, storefront clients). Such
 * actions are not about an object the user might own, so saying "forbidden" confirms nothing.
 */
export function requireAdmin(ctx: ActionContext, what: string): void {
  if (!isAdmin(ctx)) throw new ManagementError(`only administrators may ${what}`, 'forbidden');
}

/**
 * The non-admin back-office user acting, or undefined for the CLI and admins. A customer is
 * refused here: every action on applications asks this first, and customers own none.
 */
export function restrictedUser(ctx: ActionContext): number | undefined {
  if (isAdmin(ctx)) return undefined;
  const principal = ctx.principal as Extract<Principal, { kind: 'user' }>;
  if (principal.side !== 'backoffice') throw new ManagementError('customers may manage only their own account', 'forbidden');
  return principal.userId;
}

/** Whether the principal is this very user of `side` (self-service and self-protection rules). */
export function isSelf(ctx: ActionContext, side: SideName, userId: number): boolean {
  return ctx.principal.kind === 'user' && ctx.principal.side === side && ctx.principal.userId === userId;
}

/** The actor recorded in the audit trail: "cli" or the username. */
export function actorOf(ctx: ActionContext): string {
  return ctx.principal.kind === 'cli' ? 'cli' : ctx.principal.label;
}
