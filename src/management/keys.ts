/**
 * Listing and rotating the access-token signing keys, for the CLI (`grantry keys list/rotate`)
 * and the console: admins and the CLI only, and every rotation is audited.
 */
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../config/index.js';
import type { KeyRing } from '../oauth/key-ring.js';
import type { StoredSigningKey } from '../storage/repositories.js';
import type { AuditTrail } from './audit.js';
import { ManagementError } from './errors.js';
import { type ActionContext, requireAdmin } from './principal.js';

/**
 * signing: signs new tokens now; pending: published, signs from activates_at; retiring: replaced,
 * still published until the tokens it signed have expired; expired: no longer published (the
 * cleanup deletes it).
 */
export type KeyState = 'signing' | 'pending' | 'retiring' | 'expired';

/** 30 days, as key_rotation_delay. */
export const MAX_ROTATION_DELAY = 2_592_000;

/** Every key of the ring with its state at `now`, oldest activation first. */
export function keyStates(ring: KeyRing, now: number): Array<{ key: StoredSigningKey; state: KeyState }> {
  let signingKid: string | undefined;
  try {
    signingKid = ring.signingKey(now).kid;
  } catch {
    signingKid = undefined; // every key is pending or expired; the list shows it
  }
  return ring.all().map((key) => {
    let state: KeyState;
    if (key.kid === signingKid) state = 'signing';
    else if (key.publishedUntil !== null && key.publishedUntil <= now) state = 'expired';
    else if (key.activatesAt > now) state = 'pending';
    else state = 'retiring';
    return { key, state };
  });
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

export function listKeys(ctx: ActionContext, ring: KeyRing): Array<{ key: StoredSigningKey; state: KeyState }> {
  requireAdmin(ctx, 'manage the signing keys');
  return keyStates(ring, nowSeconds());
}

/** Adds a key, published now and signing after `delay` seconds; returns it. */
export async function rotateKeys(ctx: ActionContext, ring: KeyRing, audit: AuditTrail, alg: SigningAlgorithm, delay: number): Promise<StoredSigningKey> {
  requireAdmin(ctx, 'manage the signing keys');
  if (!SIGNING_ALGORITHMS.includes(alg)) throw new ManagementError(`the algorithm must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  if (!Number.isSafeInteger(delay) || delay < 0 || delay > MAX_ROTATION_DELAY) throw new ManagementError(`the delay must be a whole number of seconds from 0 to ${MAX_ROTATION_DELAY}`);
  const added = await ring.rotate(alg, delay);
  audit.action(ctx, { kind: 'keys.rotated', details: { kid: added.kid, alg: added.alg, delay } });
  return added;
}
