/**
 * PKCE (RFC 7636). Only S256 is offered: `plain` protects nothing if the authorization
 * request leaks, and RFC 9700 §2.1.1 says to prefer S256.
 */
import { createHash } from 'node:crypto';
import { safeEqual } from '../security/tokens.js';

/** RFC 7636 §4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~". */
const VERIFIER_FORMAT = /^[A-Za-z0-9\-._~]{43,128}$/;

export interface CodeChallengeMethod {
  readonly name: string;
  /** True when `verifier` produces `challenge` under this method. */
  verify(verifier: string, challenge: string): boolean;
}

export const S256: CodeChallengeMethod = {
  name: 'S256',
  verify: (verifier, challenge) => safeEqual(createHash('sha256').update(verifier, 'ascii').digest('base64url'), challenge),
};

export const CODE_CHALLENGE_METHODS: ReadonlyMap<string, CodeChallengeMethod> = new Map([[S256.name, S256]]);

export const isWellFormedChallenge = (value: string) => VERIFIER_FORMAT.test(value);
export const isWellFormedVerifier = (value: string) => VERIFIER_FORMAT.test(value);

/** What a client computes from its verifier; exported for tests and tools. */
export const s256Challenge = (verifier: string) => createHash('sha256').update(verifier, 'ascii').digest('base64url');
