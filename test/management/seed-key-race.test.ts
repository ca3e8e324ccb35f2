/**
 * Nodes with their own data folders (so their own seed signing keys) starting together on one
 * empty database: one seed is stored, and every node signs with it. Each used to store its own,
 * leaving several keys that no rotation had retired.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createGrantry } from '../../src/app.js';
import { BACKENDS } from '../helpers/backends.js';
import { freshDataDir, testConfig } from '../helpers/server.js';

const NODES = 3;
const seedPem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

describe.each(BACKENDS)('seed signing keys of nodes starting together (%s)', (backend) => {
  it(`${NODES} nodes with different seed keys on one empty database store one key and all sign with it`, async () => {
    const data = await freshDataDir(backend, 'grantry-seed-race-');
    const dirs = Array.from({ length: NODES }, () => mkdtempSync(path.join(tmpdir(), 'grantry-node-')));
    const secret = 'a-shared-server-secret-of-at-least-32-chars';
    try {
      const nodes = await Promise.all(
        dirs.map((dir) => createGrantry(testConfig(dir, data.databaseUrl, { secret, signingAlgorithm: 'ES256', signingKey: seedPem() }))),
      );
      try {
        const rows = await nodes[0]!.database.db.selectFrom('signing_keys').select(['kid', 'published_until']).execute();
        expect(rows).toHaveLength(1);
        expect(rows[0]!.published_until).toBeNull();
        for (const node of nodes) {
          const token = await node.accessTokens.codec.sign({ sub: 'x' } as Parameters<typeof node.accessTokens.codec.sign>[0]);
          expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid).toBe(rows[0]!.kid);
        }
        // The race itself, which start-up in one process rarely hits: every node finds the table
        // empty at once, and only one seed may be stored.
        const [stored] = await nodes[0]!.repos.signingKeys.list();
        await nodes[0]!.database.db.deleteFrom('signing_keys').execute();
        const added = await Promise.all(nodes.map((node, i) => node.repos.signingKeys.addFirst({ ...stored!, kid: `race-${i}` })));
        expect(added.filter(Boolean)).toHaveLength(1);
        expect(await nodes[0]!.database.db.selectFrom('signing_keys').select('kid').execute()).toHaveLength(1);
      } finally {
        await Promise.all(nodes.map((n) => n.close()));
      }
    } finally {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
      await data.remove();
    }
  });
});
