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

/** True when the signature can be respelled with "+/" and has unused bits, so every variant applies to it. */
export const signatureHasEverySpelling = (token: string): boolean => {
  const signature = token.split('.')[2] ?? '';
  return /[-_]/.test(signature) && withTrailingBits(signature) !== undefined;
};
