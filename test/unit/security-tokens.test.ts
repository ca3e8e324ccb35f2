/** Row ids and keyed hashes (src/security/tokens.ts). */
import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { randomToken, rowId, SecretHasher, timedSecret } from '../../src/security/tokens.js';

describe('rowId', () => {
  it('sorts as text in the order of the times it was made, whatever its random part', () => {
    const times = [0, 1, 15, 16, 255, 256, 1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000, 2 ** 48 - 1];
    const ids = times.map((t) => rowId(t));
    // SQLite's BINARY collation compares bytes; hex digits also sort in this order under
    // PostgreSQL's usual collations (C, en_US.UTF-8).
    const byBytes = [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(byBytes).toEqual(ids);
  });

  it('is a URL-safe 34-character id with 128 random bits after the time', () => {
    const a = rowId(1_700_000_000_000);
    const b = rowId(1_700_000_000_000);
    expect(a).toMatch(/^[0-9a-f]{12}[A-Za-z0-9_-]{22}$/);
    expect(a.slice(0, 12)).toBe((1_700_000_000_000).toString(16).padStart(12, '0'));
    expect(a).not.toBe(b);
    expect(new Set(Array.from({ length: 10_000 }, () => rowId(5))).size).toBe(10_000);
  });
});

describe('SecretHasher', () => {
  it('is HMAC-SHA256 of purpose, NUL, value under the secret: hashes stored by any version stay valid', () => {
    const hasher = new SecretHasher('server-secret');
    const expected = createHmac('sha256', 'server-secret').update('client-secret').update('\0').update('s3cret').digest('base64url');
    expect(hasher.hash('client-secret', 's3cret')).toBe(expected);
    expect(hasher.verify('client-secret', 's3cret', expected)).toBe(true);
    expect(hasher.verify('refresh-token', 's3cret', expected)).toBe(false);
  });
});

describe('timedSecret and its storage key', () => {
  const hasher = new SecretHasher('server-secret');

  it('is the time in 12 hex digits, then 256 random bits; never repeated', () => {
    const token = timedSecret(1_700_000_000_000);
    expect(token).toMatch(/^[0-9a-f]{12}[A-Za-z0-9_-]{43}$/);
    expect(token.slice(0, 12)).toBe((1_700_000_000_000).toString(16).padStart(12, '0'));
    expect(Buffer.from(token.slice(12), 'base64url')).toHaveLength(32);
    expect(new Set(Array.from({ length: 10_000 }, () => timedSecret(5))).size).toBe(10_000);
  });

  it('is stored under its time, then its keyed hash: keys sort in the order the tokens were made', () => {
    const tokens = [1, 255, 1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000].map((t) => timedSecret(t));
    const keys = tokens.map((t) => hasher.storageKey('refresh-token', t));
    for (const [i, key] of keys.entries()) {
      expect(key).toBe(tokens[i]!.slice(0, 12) + hasher.hash('refresh-token', tokens[i]!));
      // Within the 64 characters the token tables' key columns hold.
      expect(key.length).toBeLessThanOrEqual(64);
    }
    expect([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))).toEqual(keys);
    // The purpose is part of the hash: a code's key never stands for a refresh token's.
    expect(hasher.storageKey('authorization-code', tokens[0]!)).not.toBe(keys[0]);
  });

  it('keeps the key of tokens issued before (43 characters, no time in front): their keyed hash alone', () => {
    const old = randomToken(32);
    expect(hasher.storageKey('refresh-token', old)).toBe(hasher.hash('refresh-token', old));
    // Anything not shaped as a timedSecret, even with hex in front, is keyed by its hash alone.
    for (const other of ['0'.repeat(12) + 'a'.repeat(42), '0'.repeat(12) + 'a'.repeat(44), 'G'.repeat(12) + 'a'.repeat(43), `${'0'.repeat(12)}${'a'.repeat(43)}\n`, '']) {
      expect(hasher.storageKey('refresh-token', other)).toBe(hasher.hash('refresh-token', other));
    }
  });
});
