/**
 * Access tokens: RFC 9068 JWTs signed with node:crypto directly. One signature is the floor of
 * the token endpoint's cost, so nothing else here allocates more than a few small strings.
 */
import { sign as cryptoSign, verify as cryptoVerify, constants, type KeyObject } from 'node:crypto';
import { signOnThread } from '../security/signing-thread.js';
import { rowId } from '../security/tokens.js';
import type { SigningAlgorithm } from '../config/index.js';
import type { KeySource } from './key-ring.js';
import type { SigningKey } from './keys.js';

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope?: string;
  jti: string;
  iat: number;
  nbf: number;
  exp: number;
}

/** The base64url signature of a JWS signing input. */
type Signer = (input: string, key: KeyObject) => Promise<string>;
type Verifier = (data: Buffer, key: KeyObject, signature: Buffer) => boolean;

/** The order of the P-256 group, and half of it: an ECDSA s above the half has a twin, n - s. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_HALF_ORDER = P256_ORDER >> 1n;

const sOf = (signature: Buffer) => BigInt(`0x${signature.subarray(32).toString('hex')}`);
const isLowS = (signature: Buffer) => sOf(signature) <= P256_HALF_ORDER;

function withLowS(signature: Buffer): Buffer {
  const s = sOf(signature);
  if (s <= P256_HALF_ORDER) return signature;
  Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex').copy(signature, 32);
  return signature;
}

const RSA_PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };

/**
 * An RSA signature is the one large cost of a token response (some 270 µs of a core), so RSA
 * signatures are made on signing threads (signing-thread.ts): the event loop goes on serving
 * other requests meanwhile, and a machine with several cores signs beside it. ES256 and Ed25519
 * signatures stay on the loop: on Node 20, handing a P-256 signature over costs the loop as
 * much as making it (measured: 44-53 µs either way), and an Ed25519 one takes about 27 µs.
 * Verification stays on the loop: it is cheap for RSA, and the API remembers tokens it has
 * verified (access-tokens.ts).
 */
const SIGNERS: Record<SigningAlgorithm, { sign: Signer; verify: Verifier }> = {
  RS256: {
    sign: (input, key) => signOnThread(input, { algorithm: 'sha256', key }),
    verify: (d, key, s) => cryptoVerify('sha256', d, key, s),
  },
  PS256: {
    sign: (input, key) => signOnThread(input, { algorithm: 'sha256', key, ...RSA_PSS }),
    verify: (d, key, s) => cryptoVerify('sha256', d, { key, ...RSA_PSS }, s),
  },
  ES256: {
    // JWS wants the raw r||s form, not DER (RFC 7518 §3.4). (r, s) and (r, n - s) both verify,
    // so a token would have two signatures: only the low-s one is made and accepted.
    sign: async (input, key) => withLowS(cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })).toString('base64url'),
    verify: (d, key, s) => s.length === 64 && isLowS(s) && cryptoVerify('sha256', d, { key, dsaEncoding: 'ieee-p1363' }, s),
  },
  EdDSA: {
    sign: async (input, key) => cryptoSign(null, Buffer.from(input), key).toString('base64url'),
    verify: (d, key, s) => cryptoVerify(null, d, key, s),
  },
};

export const newJti = () => rowId();

/**
 * Signs and verifies JWTs of one `typ` with the key ring. The typ keeps kinds apart: an access
 * token (at+jwt, RFC 9068 §4) is never taken for an ID token (JWT) or the reverse.
 */
export class JwtCodec<Claims extends object = Record<string, unknown>> {
  // The JOSE header is the same for every token of one key: encode it once per kid.
  private readonly headers = new Map<string, string>();

  constructor(
    private readonly keys: KeySource,
    private readonly typ: string,
  ) {}

  /** Signs with `key`, or else the ring's current signing key. */
  async sign(claims: Claims, now = Math.floor(Date.now() / 1000), key: SigningKey = this.keys.signingKey(now)): Promise<string> {
    let header = this.headers.get(key.kid);
    if (!header) {
      header = Buffer.from(JSON.stringify({ alg: key.alg, typ: this.typ, kid: key.kid })).toString('base64url');
      this.headers.set(key.kid, header);
    }
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${await SIGNERS[key.alg].sign(input, key.privateKey)}`;
  }

  /** The `kid` in a token's header, without verifying anything. */
  static keyIdOf(token: string): string | undefined {
    const kid = decodeJson(token.slice(0, Math.max(0, token.indexOf('.'))))?.kid;
    return typeof kid === 'string' ? kid : undefined;
  }

  /**
   * Checks the JOSE header and the signature against a published key and returns the claims;
   * undefined for anything else. Claim checks (iss, aud, exp) are the caller's.
   */
  verify(token: string, now = Math.floor(Date.now() / 1000)): Record<string, unknown> | undefined {
    if (token.length > 8192) return undefined;
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [h, p, s] = parts as [string, string, string];
    const header = decodeJson(h);
    if (!header || header.typ !== this.typ || typeof header.kid !== 'string') return undefined;
    const key = this.keys.verificationKey(header.kid, now);
    // The algorithm comes from our key, never from the token (no alg confusion, no "none").
    if (!key || header.alg !== key.alg) return undefined;
    const signature = decodePart(s);
    if (!signature || !SIGNERS[key.alg].verify(Buffer.from(`${h}.${p}`), key.publicKey, signature)) return undefined;
    return decodeJson(p);
  }
}

/** RFC 9068 access tokens. */
export class AccessTokenCodec extends JwtCodec<AccessTokenClaims> {
  constructor(keys: KeySource) {
    super(keys, 'at+jwt');
  }
}

/**
 * The bytes of one part of a JWS, which must be spelled as we sign it: base64url without
 * padding (RFC 7515 §2). Node's decoder also takes "=", "+/", characters outside the alphabet
 * and non-zero unused bits in the last character, so one token would have many spellings, each
 * a different string to a cache, a deny list or a log; only bytes that re-encode to exactly
 * the input are accepted (a few hundred bytes, nothing next to the signature check).
 */
function decodePart(part: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  const bytes = Buffer.from(part, 'base64url');
  return bytes.toString('base64url') === part ? bytes : undefined;
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  const bytes = decodePart(part);
  if (!bytes) return undefined;
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
