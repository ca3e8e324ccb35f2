/**
 * The role of the user a token is being issued for (api-scopes.ts), read at issuance: the scopes
 * a token may carry follow what its user may do now, not when the client was registered.
 */
import type { SideName } from './sides.js';
import type { UserRepository } from '../storage/repositories.js';
import { type Role, roleOf } from './api-scopes.js';

/** The role of an enabled, unlocked user; undefined when the user cannot be issued tokens (gone, disabled, locked). */
export async function activeUserRole(users: UserRepository, side: SideName, userId: number): Promise<Role | undefined> {
  const account = await users.activeAccount(side, userId);
  return account && roleOf(side, account.isAdmin);
}
