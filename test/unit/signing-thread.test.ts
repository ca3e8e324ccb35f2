import { execFileSync } from 'node:child_process';
import { constants, generateKeyPairSync, verify } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { signOnThread } from '../../src/security/signing-thread.js';

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };

describe('signatures on the signing threads', () => {
  it('answers each request with its own signature, whatever the keys and their order', async () => {
    const keys = [rsa(), rsa(), generateKeyPairSync('ed25519')];
    // Interleaved keys and algorithms, more at once than a batch: every answer must reach its own caller.
    const requests = Array.from({ length: 60 }, (_, i) => ({ input: `header.payload-${i}`, pair: keys[i % 3]!, i }));
    const signatures = await Promise.all(
      requests.map(({ input, pair, i }) =>
        signOnThread(input, i % 3 === 2 ? { algorithm: null, key: pair.privateKey } : i % 2 ? { algorithm: 'sha256', key: pair.privateKey, ...PSS } : { algorithm: 'sha256', key: pair.privateKey }),
      ),
    );
    for (const [n, { input, pair, i }] of requests.entries()) {
      const signature = Buffer.from(signatures[n]!, 'base64url');
      expect(signatures[n]).toMatch(/^[A-Za-z0-9_-]+$/);
      const publicKey = i % 3 === 2 ? pair.publicKey : i % 2 ? { key: pair.publicKey, ...PSS } : pair.publicKey;
      expect(verify(i % 3 === 2 ? null : 'sha256', Buffer.from(input), publicKey, signature)).toBe(true);
      // Not another request's signature.
      expect(verify(i % 3 === 2 ? null : 'sha256', Buffer.from(`${input}x`), publicKey, signature)).toBe(false);
    }
  });

  it('refuses what node:crypto refuses, and goes on signing', async () => {
    const ed = generateKeyPairSync('ed25519');
    // Ed25519 takes no digest: node:crypto throws, the thread answers with the error.
    await expect(signOnThread('a.b', { algorithm: 'sha256', key: ed.privateKey })).rejects.toThrow(/^signing failed: /);
    const signature = await signOnThread('a.b', { algorithm: null, key: ed.privateKey });
    expect(verify(null, Buffer.from('a.b'), ed.publicKey, Buffer.from(signature, 'base64url'))).toBe(true);
  });

  it('does not keep a process alive once its signatures are made', () => {
    // A CLI command that signed (a token from the CLI, a key check) must end by itself.
    const module = path.resolve('dist/security/signing-thread.js');
    const script = `
      const { generateKeyPairSync } = await import('node:crypto');
      const { signOnThread } = await import(${JSON.stringify(module)});
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      process.stdout.write(String((await signOnThread('a.b', { algorithm: 'sha256', key: privateKey })).length));
    `;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000, encoding: 'utf8' });
    expect(output).toBe('342');
  });
});
