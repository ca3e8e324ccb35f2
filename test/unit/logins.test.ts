/**
 * normalizeLogin: the one canonical form of usernames and emails, used for uniqueness, account
 * lookups and brute-force counters alike.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeLogin } from '../../src/security/logins.js';

describe('normalizeLogin', () => {
  it.each([
    ['alice', 'alice'],
    ['Alice', 'alice'],
    ['  ALICE ', 'alice'],
    ['ａｌｉｃｅ', 'alice'],
    ['\u212Aelvin', 'kelvin'],
    ['Alice@Example.COM', 'alice@example.com'],
    ['ａｌｉｃｅ@ｅｘａｍｐｌｅ．ｃｏｍ', 'alice@example.com'],
    ['alice@example.com.', 'alice@example.com'],
    [' alice@EXAMPLE.com. ', 'alice@example.com'],
    ['stra\u00DFe@example.com', 'strasse@example.com'],
    ['STRASSE@example.com', 'strasse@example.com'],
    ['\u1E9E@example.com', 'ss@example.com'],
    ['bob.', 'bob.'],
  ])('%j → %j', (login, expected) => {
    expect(normalizeLogin(login)).toBe(expected);
  });

  it('is a fixed point, so a stored normalised value finds itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => normalizeLogin(normalizeLogin(s)) === normalizeLogin(s)),
      { numRuns: 20000, seed: 6 },
    );
  });
});
