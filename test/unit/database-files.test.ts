/** The SQLite files hold password hashes and sealed signing keys: only their owner may read them. */
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/database.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';

const root = mkdtempSync(path.join(tmpdir(), 'grantry-db-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const mode = (file: string) => statSync(file).mode & 0o777;

/** A folder that already exists and that everyone may read, as `mkdir` makes it with umask 022. */
function openFolder(name: string): string {
  const dir = mkdtempSync(path.join(root, `${name}-`));
  chmodSync(dir, 0o755);
  return dir;
}

async function expectPrivateFiles(file: string) {
  const database = openDatabase(`sqlite:${file}`);
  try {
    await migrateToLatest(database.db, database.dialect);
    await sql`select count(*) from users`.execute(database.db).catch(() => undefined);
    expect(existsSync(file)).toBe(true);
    expect(mode(file).toString(8)).toBe('600');
    for (const extra of ['-wal', '-shm']) {
      expect(existsSync(file + extra), `${file}${extra} exists in WAL mode`).toBe(true);
      expect(mode(file + extra).toString(8), `mode of ${extra}`).toBe('600');
    }
  } finally {
    await database.close();
  }
}

describe('SQLite database files', () => {
  it('a new database file in an existing folder is created with mode 0600, and so are its -wal and -shm files', async () => {
    const previous = process.umask(0o022);
    try {
      await expectPrivateFiles(path.join(openFolder('new'), 'grantry.sqlite'));
    } finally {
      process.umask(previous);
    }
  });

  it('an existing world-readable database file (and its -wal/-shm files) become 0600 when opened', async () => {
    const dir = openFolder('existing');
    const file = path.join(dir, 'grantry.sqlite');
    const first = openDatabase(`sqlite:${file}`);
    await migrateToLatest(first.db, first.dialect);
    await first.close();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o644);
    // Left behind world-readable by an older version or a copy.
    writeFileSync(`${file}-shm`, '', { flag: 'a' });
    chmodSync(`${file}-shm`, 0o644);
    await expectPrivateFiles(file);
  });

  it('an in-memory database still opens', async () => {
    const database = openDatabase('sqlite::memory:');
    try {
      expect(await migrateToLatest(database.db, database.dialect)).toContain('001-initial');
    } finally {
      await database.close();
    }
  });
});
