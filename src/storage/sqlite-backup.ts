/**
 * An online backup of a SQLite database (`grantry backup`), consistent while servers read and
 * write it: VACUUM INTO copies one read transaction's snapshot, so writes committed meanwhile
 * (in the WAL) are simply not in it, and unlike the page-by-page backup API it never restarts
 * because another connection wrote.
 */
import { closeSync, existsSync, fsyncSync, linkSync, openSync, renameSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import SQLite from 'better-sqlite3';
import { SQLITE_BUSY_TIMEOUT_MS } from './database.js';

export interface BackupResult {
  bytes: number;
  /** When the snapshot was taken (epoch milliseconds). */
  startedAt: number;
  durationMs: number;
}

/** The target exists and replacing it was not asked for. */
export class BackupExistsError extends Error {
  constructor(readonly target: string) {
    super(`${target} exists`);
  }
}

/**
 * Copies the database `source` to `target`, which must not exist unless `overwrite`. The copy is
 * written beside the target, checked (quick_check), and only then moved into place: a failed or
 * interrupted backup never leaves a half-written file under the target's name, nor replaces a
 * good older backup. The file is created 0600: it holds password hashes and sealed keys.
 */
export function backupSqlite(source: string, target: string, overwrite: boolean): BackupResult {
  if (!overwrite && existsSync(target)) throw new BackupExistsError(target);
  const partial = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.partial`);
  // VACUUM INTO writes into an empty file as it finds it: created here with the owner's mode only.
  try {
    closeSync(openSync(partial, 'wx', 0o600));
  } catch (e) {
    const why = { ENOENT: 'does not exist', EACCES: 'may not be written by this user', EROFS: 'is on a read-only file system', ENOSPC: 'is on a full disk' }[(e as NodeJS.ErrnoException).code ?? ''];
    if (why) throw Object.assign(new Error(`cannot write ${target}: its folder ${why}`), { code: (e as NodeJS.ErrnoException).code });
    throw e;
  }
  const startedAt = Date.now();
  try {
    const db = new SQLite(source, { fileMustExist: true });
    try {
      db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
      db.prepare('vacuum into ?').run(partial);
    } finally {
      db.close();
    }
    const copy = new SQLite(partial, { readonly: true });
    try {
      const verdict = copy.pragma('quick_check', { simple: true });
      if (verdict !== 'ok') throw new Error(`the copy failed its check (${String(verdict)}); ${target} was not written`);
    } finally {
      copy.close();
    }
    // VACUUM INTO does not sync what it wrote: without this, a power loss after the rename could
    // leave the target's name on a partly written file, in place of a good older backup.
    syncToDisk(partial);
    if (overwrite) renameSync(partial, target);
    else {
      // A link fails if the target appeared meanwhile, where a rename would replace it.
      linkSync(partial, target);
      unlinkSync(partial);
    }
    syncToDisk(path.dirname(path.resolve(target)));
  } catch (e) {
    if (existsSync(partial)) unlinkSync(partial);
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new BackupExistsError(target);
    throw e;
  }
  return { bytes: statSync(target).size, startedAt, durationMs: Date.now() - startedAt };
}

/** fsync of a file, or of a folder (so that a rename or link in it lasts). */
function syncToDisk(file: string): void {
  const fd = openSync(file, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
