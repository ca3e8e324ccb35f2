/** The seed signing key file when several processes create it at once. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generatePrivateKeyPem, loadOrCreateSigningKey, signingKeyFromPem, writeNewKey } from '../../src/oauth/keys.js';

const root = mkdtempSync(path.join(tmpdir(), 'grantry-key-file-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const freshDir = (name: string) => mkdtempSync(path.join(root, `${name}-`));

describe('signing key file', () => {
  it('a new key file appears complete, mode 0600, without a temporary file left behind', () => {
    const dir = freshDir('new');
    const file = path.join(dir, 'signing-key.es256.pem');
    const { key, pem, created } = loadOrCreateSigningKey({ file, alg: 'ES256' });
    expect(created).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(pem);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['signing-key.es256.pem']);
    expect(loadOrCreateSigningKey({ file, alg: 'ES256' })).toMatchObject({ created: false, pem, key: { kid: key.kid } });
  });

  it('writeNewKey never replaces an existing file unless asked: EEXIST, the file unchanged', () => {
    const dir = freshDir('exists');
    const file = path.join(dir, 'key.pem');
    const first = writeNewKey(file, 'EdDSA');
    expect(() => writeNewKey(file, 'EdDSA')).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(readFileSync(file, 'utf8')).toBe(first);
    expect(readdirSync(dir)).toEqual(['key.pem']);
    const replaced = writeNewKey(file, 'EdDSA', true);
    expect(readFileSync(file, 'utf8')).toBe(replaced);
    expect(replaced).not.toBe(first);
  });

  it('a key file another process has created but not written yet is read once it is complete', async () => {
    const file = path.join(freshDir('partial'), 'key.pem');
    const pem = generatePrivateKeyPem('ES256');
    // Created empty, as by open(O_CREAT|O_EXCL) in a process that is about to write it.
    writeFileSync(file, '', { mode: 0o600 });
    const writer = spawn(process.execPath, ['-e', `setTimeout(() => require('node:fs').writeFileSync(${JSON.stringify(file)}, ${JSON.stringify(pem)}), 300)`], { stdio: 'ignore' });
    const spawned = new Promise((resolve) => writer.once('spawn', resolve));
    const exited = new Promise((resolve) => writer.once('exit', resolve));
    await spawned;
    const loaded = loadOrCreateSigningKey({ file, alg: 'ES256' });
    await exited;
    expect(loaded.created).toBe(false);
    expect(loaded.pem).toBe(pem);
    expect(loaded.key.kid).toBe(signingKeyFromPem(pem, 'ES256').kid);
  });
});
