/**
 * Who asks for a management action, and the permission rules every entry point (CLI, console,
 * later the JSON:API) shares: they are checked here, in src/management, never in the HTTP layer.
 */
import type { SideName } from '../oauth/sides.js';
import { ManagementError } from './errors.js';

/** Who asks for a management action: the operator at the CLI, or a signed-in back-office user. */
export type Principal =
  | { kind: 'cli' }
  | { kind: 'user'; side: 'backoffice'; userId: number; isAdmin: boolean; label: string /* username */ };

export interface ActionContext {
  principal: Principal;
  /** Client IP for the audit trail. */
  address?: string;
}

/** The operator at the command line: may do everything. */
export const CLI: ActionContext = { principal: { kind: 'cli' } };

/** The CLI and back-office admins may do everything. */
export function isAdmin(ctx: ActionContext): boolean {
  return ctx.principal.kind === 'cli' || ctx.principal.isAdmin;
}

/**
 * Refuses a non-admin an admin-only action (users, keys, audit, storefront clients). Such
 * actions are not about an object the user might own, so saying "forbidden" confirms nothing.
 */
export function requireAdmin(ctx: ActionContext, what: string): void {
  if (!isAdmin(ctx)) throw new ManagementError(`only administrators may ${what}`, 'forbidden');
}

/** The non-admin back-office user acting, or undefined for the CLI and admins. */
export function restrictedUser(ctx: ActionContext): number | undefined {
  return ctx.principal.kind === 'user' && !ctx.principal.isAdmin ? ctx.principal.userId : undefined;
}

/** Whether the principal is this very user (self-protection rules). */
export function isSelf(ctx: ActionContext, side: SideName, userId: number): boolean {
  return ctx.principal.kind === 'user' && side === 'backoffice' && ctx.principal.userId === userId;
}

/** The actor recorded in the audit trail: "cli" or the username. */
export function actorOf(ctx: ActionContext): string {
  return ctx.principal.kind === 'cli' ? 'cli' : ctx.principal.label;
}
