/**
 * randomToken draws from a pool of CSPRNG bytes (src/security/tokens.ts): every value must still
 * carry its full length of fresh bytes, across refills of the pool, and never repeat.
 */
import { describe, expect, it } from 'vitest';
import { randomToken } from '../../src/security/tokens.js';

describe('randomToken', () => {
  it('gives base64url strings of the asked number of bytes, none repeated, across many refills of the pool', () => {
    const seen = new Set<string>();
    // 20,000 values of 16 to 48 bytes: some 640 KiB, about 160 refills of a 4 KiB pool.
    for (let i = 0; i < 20_000; i++) {
      const bytes = 16 + (i % 33);
      const token = randomToken(bytes);
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(token, 'base64url')).toHaveLength(bytes);
      seen.add(token);
    }
    expect(seen.size).toBe(20_000);
  });

  it('serves sizes larger than the pool', () => {
    const a = randomToken(10_000);
    const b = randomToken(10_000);
    expect(Buffer.from(a, 'base64url')).toHaveLength(10_000);
    expect(a).not.toBe(b);
  });
});
