/**
 * The role of the user a token is being issued for (api-scopes.ts), read at issuance: the scopes
 * a token may carry follow what its user may do now, not when the client was registered.
 */
import type { SideName } from './sides.js';
import type { UserRepository } from '../storage/repositories.js';
import { type Role, roleOf } from './api-scopes.js';

/** The role of an enabled, unlocked user; undefined when the user cannot be issued tokens (gone, disabled, locked). */
export async function activeUserRole(users: UserRepository, side: SideName, userId: number): Promise<Role | undefined> {
  // Customers have one role: whether they are active is all there is to ask.
  if (side === 'storefront') return (await users.isActive(side, userId)) ? 'customer' : undefined;
  const user = await users.findBackofficeUser(userId);
  return user && user.enabled && !user.locked ? roleOf('backoffice', user.isAdmin) : undefined;
}
