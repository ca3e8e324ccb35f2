/**
 * Random values and their keyed hashes. Codes, client secrets, refresh tokens and session ids
 * carry at least 128 bits of randomness, so a keyed SHA-256 (HMAC) is enough to store them:
 * a slow password hash would only slow the hot path without adding safety.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A URL-safe random string carrying `bytes` bytes of entropy. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export class SecretHasher {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(secret, 'utf8');
  }

  /** Keyed hash of a high-entropy value, with a purpose label so one hash cannot stand for another. */
  hash(purpose: string, value: string): string {
    return createHmac('sha256', this.key).update(purpose).update('\0').update(value).digest('base64url');
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
