import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/index.js';
import { loadOrCreateSecret } from '../../src/security/server-secret.js';

const root = mkdtempSync(path.join(tmpdir(), 'grantry-secret-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const freshDir = (name: string) => mkdtempSync(path.join(root, `${name}-`));

describe('server secret file', () => {
  it('is generated once (mode 0600, no temporary file left behind) and read back the same', () => {
    const dir = path.join(freshDir('gen'), 'data');
    const secret = loadOrCreateSecret(undefined, dir);
    expect(secret.length).toBeGreaterThanOrEqual(32);
    const file = path.join(dir, 'secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(`${secret}\n`);
    expect(readdirSync(dir)).toEqual(['secret']);
    expect(loadOrCreateSecret(undefined, dir)).toBe(secret);
  });

  it('a configured secret wins and no file is written', () => {
    const dir = freshDir('configured');
    expect(loadOrCreateSecret('c'.repeat(40), dir)).toBe('c'.repeat(40));
    expect(existsSync(path.join(dir, 'secret'))).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['a newline only', '\n'],
    ['short', 'short-secret\n'],
    ['31 characters', `${'x'.repeat(31)}\n`],
  ])('refuses a secret file that is %s with a ConfigError naming the file', (_what, content) => {
    const dir = freshDir('short');
    const file = path.join(dir, 'secret');
    writeFileSync(file, content, { mode: 0o600 });
    let error: unknown;
    try {
      loadOrCreateSecret(undefined, dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(/32 characters/);
    // The file is left as it was: the operator decides what to do with it.
    expect(readFileSync(file, 'utf8')).toBe(content);
  });

  it('accepts a secret file of exactly 32 characters', () => {
    const dir = freshDir('exact');
    writeFileSync(path.join(dir, 'secret'), `${'y'.repeat(32)}\n`, { mode: 0o600 });
    expect(loadOrCreateSecret(undefined, dir)).toBe('y'.repeat(32));
  });
});
