/**
 * Deletes expired codes, tokens, grants (refresh families), sessions and retired keys. Run by
 * `grantry cleanup` and periodically by the server; safe with several processes at once, since
 * every run only deletes rows that are already garbage, in small batches.
 */
import type { Grantry } from '../app.js';

export async function runCleanup(grantry: Grantry, now = Math.floor(Date.now() / 1000)): Promise<Record<string, number>> {
  const deleted = await grantry.repos.cleanup.deleteExpired(now, grantry.config.cleanupBatchSize);
  grantry.metrics.countCleanedRows(deleted);
  return deleted;
}

/** Runs the cleanup every `intervalSeconds` (with jitter, so processes drift apart); returns a stop function. */
export function scheduleCleanup(grantry: Grantry, intervalSeconds: number, onError: (e: unknown) => void): () => void {
  if (intervalSeconds <= 0) return () => {};
  let timer: NodeJS.Timeout;
  const next = () => {
    timer = setTimeout(() => runCleanup(grantry).catch(onError).finally(next), intervalSeconds * 1000 * (0.9 + Math.random() * 0.2));
    timer.unref();
  };
  next();
  return () => clearTimeout(timer);
}
