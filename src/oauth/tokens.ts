/**
 * Access tokens: RFC 9068 JWTs signed with node:crypto directly. One signature is the floor of
 * the token endpoint's cost, so nothing else here allocates more than a few small strings.
 */
import { sign as cryptoSign, verify as cryptoVerify, constants, randomBytes, type KeyObject } from 'node:crypto';
import type { SigningAlgorithm } from '../config/index.js';
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

type Signer = (data: Buffer, key: KeyObject) => Buffer;
type Verifier = (data: Buffer, key: KeyObject, signature: Buffer) => boolean;

const RSA_PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };

const SIGNERS: Record<SigningAlgorithm, { sign: Signer; verify: Verifier }> = {
  RS256: {
    sign: (d, key) => cryptoSign('sha256', d, key),
    verify: (d, key, s) => cryptoVerify('sha256', d, key, s),
  },
  PS256: {
    sign: (d, key) => cryptoSign('sha256', d, { key, ...RSA_PSS }),
    verify: (d, key, s) => cryptoVerify('sha256', d, { key, ...RSA_PSS }, s),
  },
  ES256: {
    // JWS wants the raw r||s form, not DER (RFC 7518 §3.4).
    sign: (d, key) => cryptoSign('sha256', d, { key, dsaEncoding: 'ieee-p1363' }),
    verify: (d, key, s) => cryptoVerify('sha256', d, { key, dsaEncoding: 'ieee-p1363' }, s),
  },
  EdDSA: {
    sign: (d, key) => cryptoSign(null, d, key),
    verify: (d, key, s) => cryptoVerify(null, d, key, s),
  },
};

export const newJti = () => randomBytes(16).toString('base64url');

export class AccessTokenCodec {
  private readonly encodedHeader: string;

  constructor(private readonly key: SigningKey) {
    // The header never changes for one key: encode it once.
    this.encodedHeader = Buffer.from(JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid })).toString('base64url');
  }

  get keyId() {
    return this.key.kid;
  }

  sign(claims: AccessTokenClaims): string {
    const input = `${this.encodedHeader}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const signature = SIGNERS[this.key.alg].sign(Buffer.from(input), this.key.privateKey);
    return `${input}.${signature.toString('base64url')}`;
  }

  /**
   * Checks the JOSE header and signature and returns the claims; undefined for anything that
   * is not a well-formed token signed by our key. Claim checks (iss, aud, exp) are the caller's.
   */
  verify(token: string): Record<string, unknown> | undefined {
    if (token.length > 8192) return undefined;
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [h, p, s] = parts as [string, string, string];
    const header = decodeJson(h);
    if (!header || header.typ !== 'at+jwt' || header.alg !== this.key.alg || header.kid !== this.key.kid) return undefined;
    const signature = Buffer.from(s, 'base64url');
    if (!SIGNERS[this.key.alg].verify(Buffer.from(`${h}.${p}`), this.key.publicKey, signature)) return undefined;
    return decodeJson(p);
  }
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
