import { describe, expect, it } from 'vitest';
import { SIGNING_ALGORITHMS } from '../../src/config/index.js';
import { generatePrivateKeyPem, KeyError, signingKeyFromPem } from '../../src/oauth/keys.js';
import { fixedKeySource } from '../../src/oauth/key-ring.js';
import { AccessTokenCodec } from '../../src/oauth/tokens.js';
import { nonCanonicalSpellings, signatureHasEverySpelling } from '../helpers/jwt-spellings.js';

const claims = { iss: 'https://i', sub: '1', aud: 'https://i/api', client_id: 'c', jti: 'j', iat: 1, nbf: 1, exp: 2 };

describe.each(SIGNING_ALGORITHMS)('access token codec with %s', (alg) => {
  const key = signingKeyFromPem(generatePrivateKeyPem(alg), alg);
  const codec = new AccessTokenCodec(fixedKeySource(key));

  it('signs an RFC 9068 header and verifies its own tokens', async () => {
    const token = await codec.sign(claims);
    const header = JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString());
    expect(header).toEqual({ alg, typ: 'at+jwt', kid: key.kid });
    expect(codec.verify(token)).toEqual(claims);
  });

  it('refuses tampered tokens, other keys and alg=none', async () => {
    const token = await codec.sign(claims);
    const [h, p, s] = token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: '2' })).toString('base64url');
    expect(codec.verify(`${h}.${forged}.${s}`)).toBeUndefined();
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: key.kid })).toString('base64url');
    expect(codec.verify(`${none}.${p}.`)).toBeUndefined();
    const other = new AccessTokenCodec(fixedKeySource(signingKeyFromPem(generatePrivateKeyPem(alg), alg)));
    expect(codec.verify(await other.sign(claims))).toBeUndefined();
    expect(codec.verify('not-a-jwt')).toBeUndefined();
  });

  it('accepts one spelling only: no padding, no other alphabet, no stray characters, no unused bits set', async () => {
    // Each part is checked, but the signature is where lenient decoding let variants through.
    let token = await codec.sign(claims);
    while (!signatureHasEverySpelling(token)) token = await codec.sign({ ...claims, jti: `${claims.jti}x` });
    const variants = nonCanonicalSpellings(token);
    expect(variants.filter(([label]) => label.startsWith('signature')).length).toBe(5);
    for (const [label, variant] of variants) expect({ label, claims: codec.verify(variant) }).toEqual({ label, claims: undefined });
    expect(codec.verify(token)).toEqual(expect.objectContaining({ sub: claims.sub }));
  });

  it('publishes a JWK whose kid is its RFC 7638 thumbprint', () => {
    expect(key.publicJwk).toMatchObject({ kid: key.kid, alg, use: 'sig' });
    expect(key.publicJwk).not.toHaveProperty('d');
    expect(key.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

it('refuses a key that does not fit the algorithm', () => {
  expect(() => signingKeyFromPem(generatePrivateKeyPem('EdDSA'), 'RS256')).toThrow(KeyError);
  expect(() => signingKeyFromPem('garbage', 'RS256')).toThrow(/PEM/);
});
