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

/**
 * An action refused because the principal tried too often (a brute-force limit, throttle.ts):
 * nothing is checked or changed until `retryAfter` seconds have passed. Its code stays
 * 'forbidden' so that an entry point that does not know it still refuses (403, exit code 1);
 * the ones that do answer "too many requests" with the delay (429 and Retry-After over HTTP).
 */
export class TooManyAttempts extends ManagementError {
  constructor(
    message: string,
    /** Seconds until the principal may try again. */
    readonly retryAfter: number,
  ) {
    super(message, 'forbidden');
    this.name = 'TooManyAttempts';
  }
}

/** True for a unique-constraint violation on SQLite or PostgreSQL. */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err?.code === '23505' || err?.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed/.test(err?.message ?? '');
}
