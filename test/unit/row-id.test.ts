import { describe, expect, it } from 'vitest';
import { rowId } from '../../src/security/tokens.js';

describe('rowId', () => {
  it('sorts as text in the order of the times it was made, whatever its random part', () => {
    const times = [0, 1, 15, 16, 255, 256, 1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000, 2 ** 48 - 1];
    const ids = times.map((t) => rowId(t));
    // SQLite's BINARY collation and PostgreSQL's "C" comparison of ASCII both compare bytes.
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
