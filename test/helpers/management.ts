/** Acting through src/management as a back-office user, and catching what it refuses. */
import { expect } from 'vitest';
import type { ManagementError } from '../../src/management/errors.js';
import type { ActionContext } from '../../src/management/principal.js';

/** A signed-in back-office user as the principal of management actions, from a test address. */
export const asUser = (user: { id: number; username: string }, isAdmin: boolean): ActionContext => ({
  principal: { kind: 'user', side: 'backoffice', userId: user.id, isAdmin, label: user.username },
  address: '192.0.2.7',
});

/** The ManagementError `action` fails with; fails the test when it succeeds or fails otherwise. */
export async function refusal(action: Promise<unknown>): Promise<ManagementError> {
  const error = (await action.then(
    () => undefined,
    (e: unknown) => e,
  )) as ManagementError | undefined;
  expect(error, 'the action should have been refused').toBeDefined();
  expect(error?.name).toBe('ManagementError');
  return error as ManagementError;
}
