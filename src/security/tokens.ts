/**
 * Random values and their keyed hashes. Codes, client secrets, refresh tokens and session ids
 * carry at least 128 bits of randomness, so a keyed SHA-256 (HMAC) is enough to store them:
 * a slow password hash would only slow the hot path without adding safety.
 */
import { createHmac, createSecretKey, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Random bytes are drawn from a pool filled 4 KiB at a time by the CSPRNG, each byte handed out
 * once: a call of randomBytes costs some 9 µs here whatever its size, and a token response draws
 * three values (jti, grant id, refresh token).
 */
const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let used = 0;

function poolBytes(bytes: number): Buffer {
  if (bytes > POOL_SIZE) return randomBytes(bytes);
  if (used + bytes > pool.length) {
    pool = randomBytes(POOL_SIZE);
    used = 0;
  }
  used += bytes;
  return pool.subarray(used - bytes, used);
}

/** A URL-safe random string carrying `bytes` bytes of entropy. */
export function randomToken(bytes = 32): string {
  return poolBytes(bytes).toString('base64url');
}

/** The time in milliseconds in 12 hex digits: hex because its characters sort as its values do (base64url's do not). */
const timePrefix = (now: number) => now.toString(16).padStart(12, '0');

/**
 * A unique row id (grant ids, access-token jtis): the time in milliseconds in 12 hex digits, then
 * 128 random bits. Ids written in time order land at the end of their indexes, so a commit
 * writes out the few pages at the right edge of each B-tree instead of one random page per row
 * and index (a commit of random ids cost several times the inserts, and more as tables grow).
 * Not a secret: the time it tells is the issuance time, which the token says anyway.
 */
export function rowId(now = Date.now()): string {
  return timePrefix(now) + randomToken(16);
}

/**
 * A secret token (authorization codes, refresh tokens) that starts with the time it was made,
 * as rowId does, then 256 random bits. Such tokens are looked up by their keyed hash, a random
 * key: inserted as it is, each dirtied one random page of its index, and with a million stored
 * tokens most of those pages were no longer in the cache (the COMMIT of a refresh went from 0.8
 * to 1.3 ms). Their stored key (SecretHasher.storageKey) keeps the time in front, so it lands at
 * the right edge of the index. The time is not a secret: the token's issuance says it anyway.
 */
export function timedSecret(now = Date.now()): string {
  return timePrefix(now) + randomToken(32);
}

/**
 * A new authorization code or refresh token: a timedSecret, or else (time_ordered_tokens off,
 * while nodes of older builds still serve) 256 random bits alone, as those builds issue them.
 */
export const newSecretToken = (timeOrdered: boolean): string => (timeOrdered ? timedSecret() : randomToken(32));

/** The shape of timedSecret's tokens; those issued before it were 43 characters, with no time in front. */
const TIMED_SECRET = /^[0-9a-f]{12}[A-Za-z0-9_-]{43}$/;

export class SecretHasher {
  /** A KeyObject made once: createHmac would import a Buffer key anew on every call (a token request hashes four values). */
  private readonly key: KeyObject;

  constructor(secret: string) {
    this.key = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  /** Keyed hash of a high-entropy value, with a purpose label so one hash cannot stand for another. */
  hash(purpose: string, value: string): string {
    return createHmac('sha256', this.key).update(`${purpose}\0${value}`).digest('base64url');
  }

  /**
   * The key a secret token is stored and looked up under: its keyed hash, behind its time prefix
   * when it is a timedSecret (so keys are written in time order); the keyed hash alone for the
   * others (issued before timedSecret, or with time_ordered_tokens off), found as they were stored.
   */
  storageKey(purpose: string, token: string): string {
    const hash = this.hash(purpose, token);
    return TIMED_SECRET.test(token) ? token.slice(0, 12) + hash : hash;
  }

  /** Constant-time comparison of `value` against a stored keyed hash. */
  verify(purpose: string, value: string, storedHash: string): boolean {
    return safeEqual(this.hash(purpose, value), storedHash);
  }
}

/** Constant-time string comparison; the length check leaks only the length. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
