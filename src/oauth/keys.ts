/**
 * The server's signing key: loaded from configuration or generated on first start, with a
 * `kid` that is the key's RFC 7638 JWK thumbprint, so every process holding the same key
 * names it the same way.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SigningAlgorithm } from '../config/index.js';
import { createPrivateFileOnce, readWhenComplete } from '../security/server-secret.js';

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key as a JWK, for a JWKS document. */
  publicJwk: Record<string, string>;
}

export class KeyError extends Error {}

/** The key type each algorithm needs. */
const KEY_TYPE: Record<SigningAlgorithm, { type: string; describe: string }> = {
  RS256: { type: 'rsa', describe: 'an RSA key' },
  PS256: { type: 'rsa', describe: 'an RSA key' },
  ES256: { type: 'ec', describe: 'an EC P-256 key' },
  EdDSA: { type: 'ed25519', describe: 'an Ed25519 key' },
};

export function generatePrivateKeyPem(alg: SigningAlgorithm): string {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** RFC 7638: SHA-256 over the required members in lexicographic order. */
function thumbprint(jwk: Record<string, string>): string {
  const required: Record<string, string[]> = { RSA: ['e', 'kty', 'n'], EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'] };
  const members = required[jwk.kty as string] ?? [];
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return createHash('sha256').update(canonical).digest('base64url');
}

export function signingKeyFromPem(pem: string, alg: SigningAlgorithm): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (e) {
    throw new KeyError(`the signing key is not a readable PEM private key: ${(e as Error).message}`);
  }
  const want = KEY_TYPE[alg];
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (privateKey.asymmetricKeyType !== want.type || (alg === 'ES256' && curve !== 'prime256v1')) {
    throw new KeyError(`signing algorithm ${alg} needs ${want.describe}, but the configured key is ${privateKey.asymmetricKeyType}${curve ? ` (${curve})` : ''}`);
  }
  if (want.type === 'rsa' && (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new KeyError('RSA signing keys must be at least 2048 bits');
  }
  const publicKey = createPublicKey(privateKey);
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const kid = thumbprint(jwk);
  return { kid, alg, privateKey, publicKey, publicJwk: { ...jwk, kid, alg, use: 'sig' } };
}

/**
 * The configured key (PEM text wins over the file), or a new one written to `file` with mode
 * 0600 when neither exists. Processes starting together on a fresh data folder all end up with
 * the key of the one that wrote the file first.
 */
export function loadOrCreateSigningKey(options: { pem?: string; file: string; alg: SigningAlgorithm }): { key: SigningKey; pem: string; created: boolean } {
  if (options.pem !== undefined) return { key: signingKeyFromPem(options.pem, options.alg), pem: options.pem, created: false };
  let pem: string;
  let created = false;
  if (existsSync(options.file)) pem = readKeyFile(options.file);
  else {
    try {
      pem = writeNewKey(options.file, options.alg);
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Another process starting at the same time wrote it first: use that key.
      pem = readKeyFile(options.file);
    }
  }
  return { key: signingKeyFromPem(pem, options.alg), pem, created };
}

/** Reads a key file, waiting briefly while it is still empty or partly written by another process. */
function readKeyFile(file: string): string {
  return readWhenComplete(file, (text) => /-----END [A-Z ]+-----/.test(text));
}

/**
 * Writes a new private key; refuses to overwrite unless asked (an EEXIST error). A new file
 * appears complete at once, so a process reading it never sees it half written.
 */
export function writeNewKey(file: string, alg: SigningAlgorithm, overwrite = false): string {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
  const pem = generatePrivateKeyPem(alg);
  if (overwrite) {
    writeFileSync(file, pem, { mode: 0o600, flag: 'w' });
    chmodSync(file, 0o600);
  } else if (!createPrivateFileOnce(file, pem)) {
    throw Object.assign(new Error(`EEXIST: file already exists, open '${file}'`), { code: 'EEXIST', path: file });
  }
  return pem;
}
