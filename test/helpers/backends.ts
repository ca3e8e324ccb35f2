import { inject } from 'vitest';

export type Backend = 'sqlite' | 'postgres';

/** SQLite always; PostgreSQL when global setup found one. Use with describe.each(BACKENDS). */
export const BACKENDS: Backend[] = inject('postgresUrl') ? ['sqlite', 'postgres'] : ['sqlite'];
