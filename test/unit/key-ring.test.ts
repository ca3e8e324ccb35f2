/** Which key signs when, through rotations with and without delay (real SQLite storage). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGrantry, type Grantry } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';

describe('key ring rotation order', () => {
  let grantry: Grantry;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'grantry-keys-'));
    grantry = await createGrantry(loadConfig({ env: {}, overrides: { dataDir: dir, databaseUrl: `sqlite:${dir}/k.sqlite`, accessTokenTtl: 600 } }));
  });
  afterAll(async () => {
    await grantry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes first, signs after the delay, and retires the old key after its tokens expire', async () => {
    const t = Math.floor(Date.now() / 1000) + 10;
    const first = grantry.keys.signingKey(t).kid;
    const pending = await grantry.keys.rotate('RS256', 3600, t);
    expect(grantry.keys.signingKey(t + 3599).kid).toBe(first);
    expect(grantry.keys.published(t).map((k) => k.kid)).toEqual(expect.arrayContaining([first, pending.kid]));
    expect(grantry.keys.signingKey(t + 3600).kid).toBe(pending.kid);
    // The old key is published until its last token (signed just before t+3600) has expired.
    expect(grantry.keys.verificationKey(first, t + 3600 + 600)?.kid).toBe(first);
    expect(grantry.keys.verificationKey(first, t + 3600 + 600 + 61)).toBeUndefined();
  });

  it('a key replaced before it activated never signs; a rotation in the same second wins at once', async () => {
    const t = Math.floor(Date.now() / 1000) + 100_000;
    const pending = await grantry.keys.rotate('RS256', 3600, t);
    const immediate = await grantry.keys.rotate('ES256', 0, t);
    expect(grantry.keys.signingKey(t).kid).toBe(immediate.kid);
    expect(grantry.keys.signingKey(t + 3600).kid).toBe(immediate.kid);
    expect(grantry.keys.signingKey(t + 3600).alg).toBe('ES256');
    expect(pending.kid).not.toBe(immediate.kid);
  });
});
