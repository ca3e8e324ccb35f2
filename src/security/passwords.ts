/**
 * User passwords: Argon2id with the OWASP minimum parameters (19 MiB, 2 passes, 1 lane).
 */
import { hash, verify, Algorithm } from '@node-rs/argon2';

const OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/**
 * Password hashes run in libuv's thread pool (4 threads unless UV_THREADPOOL_SIZE says more),
 * where file work and DNS lookups also run (token signatures have threads of their own:
 * signing-thread.ts). A burst of sign-ins, or of failed ones from anyone, would fill every
 * thread with hashes of tens of milliseconds and hold up everything else behind them: at most
 * all threads but two hash at once.
 */
const HASH_SLOTS = Math.max(1, (Number(process.env.UV_THREADPOOL_SIZE) || 4) - 2);
let hashing = 0;
const waiting: Array<() => void> = [];

async function inHashSlot<T>(work: () => Promise<T>): Promise<T> {
  if (hashing >= HASH_SLOTS) await new Promise<void>((resolve) => waiting.push(resolve));
  else hashing++;
  try {
    return await work();
  } finally {
    // The slot passes straight to the next waiter, if any.
    const next = waiting.shift();
    if (next) next();
    else hashing--;
  }
}

export function hashPassword(password: string): Promise<string> {
  return inHashSlot(() => hash(password, OPTIONS));
}

// Verifying against this when the user does not exist keeps the response time the same,
// so timing does not tell whether an account exists.
let dummyHash: Promise<string> | undefined;

export async function verifyPassword(password: string, storedHash: string | undefined): Promise<boolean> {
  if (storedHash === undefined) {
    dummyHash ??= hashPassword('grantry-dummy-password');
    const dummy = await dummyHash;
    await inHashSlot(() => verify(dummy, password)).catch(() => false);
    return false;
  }
  try {
    return await inHashSlot(() => verify(storedHash, password));
  } catch {
    return false;
  }
}
