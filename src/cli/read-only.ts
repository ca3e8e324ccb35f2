/** For the commands that inspect a deployment without changing it (doctor, migrate --dry-run). */
import type { Config } from '../config/index.js';
import type { OpenDatabase } from '../storage/database.js';
import { announceDatabase, noDatabaseError } from './context.js';
import type { Output } from './output.js';

/**
 * Runs `fn` on the server's existing database and its secret, and always closes it. Unlike
 * withGrantry, it applies no pending migration and loads no signing key: what it finds is what
 * the command reports, and a key the secret cannot open is a finding, not a failure to start.
 */
export async function withExistingDatabase<T>(out: Output, config: Config, fn: (database: OpenDatabase, secret: string) => Promise<T>): Promise<T> {
  const { openWithSecret } = await import('../app.js');
  const { MissingDatabaseError } = await import('../storage/database.js');
  let opened: Awaited<ReturnType<typeof openWithSecret>>;
  try {
    opened = await openWithSecret(config, { initialise: false });
  } catch (e) {
    if (e instanceof MissingDatabaseError) throw noDatabaseError(e, config);
    throw e;
  }
  announceDatabase(out, config);
  try {
    return await fn(opened.database, opened.secret);
  } finally {
    await opened.database.close();
  }
}
