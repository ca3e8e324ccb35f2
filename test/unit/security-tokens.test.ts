/** Row ids and keyed hashes (src/security/tokens.ts). */
import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { rowId, SecretHasher } from '../../src/security/tokens.js';

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
