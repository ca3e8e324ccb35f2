import { describe, expect, it } from 'vitest';
import { isWellFormedChallenge, S256, s256Challenge } from '../../src/oauth/pkce.js';

describe('PKCE S256', () => {
  it('matches the RFC 7636 appendix B example', () => {
    const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    expect(s256Challenge(verifier)).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    expect(S256.verify(verifier, 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')).toBe(true);
    expect(S256.verify(`${verifier.slice(0, -1)}Y`, 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')).toBe(false);
  });

  it('accepts 43 to 128 characters of the unreserved set only', () => {
    expect(isWellFormedChallenge('a'.repeat(43))).toBe(true);
    expect(isWellFormedChallenge('a'.repeat(128))).toBe(true);
    expect(isWellFormedChallenge('a'.repeat(42))).toBe(false);
    expect(isWellFormedChallenge('a'.repeat(129))).toBe(false);
    expect(isWellFormedChallenge(`${'a'.repeat(42)}=`)).toBe(false);
    expect(isWellFormedChallenge(`${'a'.repeat(42)}+`)).toBe(false);
    expect(isWellFormedChallenge('-._~'.repeat(11))).toBe(true);
  });
});
