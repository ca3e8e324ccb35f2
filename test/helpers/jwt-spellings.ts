/**
 * Other spellings of a JWT that lenient base64 decoders read as the same bytes: padding, a
 * character outside the alphabet, the standard alphabet's "+/" instead of base64url's "-_",
 * and non-zero unused bits in the last character. A verifier must refuse every one of them.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The same bytes with the unused low bits of the last character set; undefined when it has none. */
function withTrailingBits(part: string): string | undefined {
  const spare = { 2: 4, 3: 2 }[part.length % 4 as 2 | 3];
  if (spare === undefined) return undefined;
  const value = ALPHABET.indexOf(part.slice(-1));
  return part.slice(0, -1) + ALPHABET[value | 1];
}

/** Every non-canonical spelling of each part of `token` (header, payload, signature), labelled. */
export function nonCanonicalSpellings(token: string): [string, string][] {
  const parts = token.split('.');
  const out: [string, string][] = [];
  parts.forEach((part, i) => {
    const name = ['header', 'payload', 'signature'][i] as string;
    const variants: [string, string | undefined][] = [
      ['padding "="', `${part}=`],
      ['padding "=="', `${part}==`],
      ['a trailing "~"', `${part}~`],
      ['"+/" instead of "-_"', /[-_]/.test(part) ? part.replace(/-/g, '+').replace(/_/g, '/') : undefined],
      ['non-zero unused bits in the last character', withTrailingBits(part)],
    ];
    for (const [label, variant] of variants) {
      if (variant !== undefined) out.push([`${name}: ${label}`, parts.map((p, j) => (j === i ? variant : p)).join('.')]);
    }
  });
  return out;
}

const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const ED25519_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;

/**
 * The other signature that verifies under a malleable algorithm: for ES256, (r, n - s); for
 * EdDSA, S + L (RFC 8032 §5.1.7 requires S < L). Undefined for RSA signatures.
 */
export function twinSignature(token: string): string | undefined {
  const [h, p, sig] = token.split('.') as [string, string, string];
  const alg = (JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg: string }).alg;
  const bytes = Buffer.from(sig, 'base64url');
  if (alg === 'ES256') {
    const s = BigInt(`0x${bytes.subarray(32).toString('hex')}`);
    Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex').copy(bytes, 32);
  } else if (alg === 'EdDSA') {
    const s = BigInt(`0x${Buffer.from(bytes.subarray(32)).reverse().toString('hex')}`) + ED25519_ORDER;
    if (s >= 2n ** 256n) return undefined;
    Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse().copy(bytes, 32);
  } else return undefined;
  return `${h}.${p}.${bytes.toString('base64url')}`;
}

/** True when the signature can be respelled with "+/" and has unused bits, so every variant applies to it. */
export const signatureHasEverySpelling = (token: string): boolean => {
  const signature = token.split('.')[2] ?? '';
  return /[-_]/.test(signature) && withTrailingBits(signature) !== undefined;
};
