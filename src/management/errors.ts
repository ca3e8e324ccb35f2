/**
 * A management request the operator must fix (bad input, duplicate, not found), or one the
 * principal may not make ('forbidden': an admin-only action asked by a non-admin).
 */
export class ManagementError extends Error {
  constructor(
    message: string,
    readonly code: 'invalid_input' | 'conflict' | 'not_found' | 'forbidden' = 'invalid_input',
  ) {
    super(message);
    this.name = 'ManagementError';
  }
}

/** True for a unique-constraint violation on SQLite or PostgreSQL. */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err?.code === '23505' || err?.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed/.test(err?.message ?? '');
}
