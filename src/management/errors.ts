/**
 * A management request the operator must fix (bad input, duplicate, not found), or one the
 * principal may not make ('forbidden': an admin-only action asked by a non-admin). Each entry
 * point words it its own way: the CLI's exit code, the console's form message, the API's status.
 */
export class ManagementError extends Error {
  constructor(
    message: string,
    readonly code: 'invalid_input' | 'conflict' | 'not_found' | 'forbidden' = 'invalid_input',
    /** The input at fault, by its name in the JSON:API attributes (name, email, password...), when one is. */
    readonly field?: string,
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
