import { inject } from 'vitest';

export type Backend = 'sqlite' | 'postgres';

/** SQLite always; PostgreSQL when global setup found one. Use with describe.each(BACKENDS). */
export const BACKENDS: Backend[] = inject('postgresUrl') ? ['sqlite', 'postgres'] : ['sqlite'];

/**
 * The backends of the Chromium suites: the first only, unless GRANTRY_BROWSER_BACKENDS=all. A
 * browser sees pages, keyboard, cookies and redirects, which are the same HTML and HTTP on
 * either database; the storage under the same flows (console actions, account pages, sign-in
 * and sign-out) is tested on both in test/http. The second pass doubled the slowest suites of
 * CI and took it past its 15 minutes.
 */
export const BROWSER_BACKENDS: Backend[] = process.env.GRANTRY_BROWSER_BACKENDS === 'all' ? BACKENDS : BACKENDS.slice(0, 1);
