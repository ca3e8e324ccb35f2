/**
 * The server secret keys the hashes of client secrets, codes and session ids and the CSRF
 * tokens. Configured (GRANTRY_SECRET) or generated once into the data folder with mode 0600.
 *
 * Several processes may start together on a fresh data folder: the file is created atomically
 * (written under a temporary name, then linked into place), so a process never reads it half
 * written, and the first process to link it wins; the others read the winner's secret.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config/index.js';
import { randomToken } from './tokens.js';

/** The shortest secret accepted, from the environment or from the file (as GRANTRY_SECRET). */
const MIN_SECRET_LENGTH = 32;

/** The configured secret or the one in the data folder (checked), or undefined when there is none yet. */
export function findSecret(configured: string | undefined, dataDir: string): string | undefined {
  if (configured) return configured;
  const file = secretFileOf(dataDir);
  return existsSync(file) ? readSecretFile(file) : undefined;
}

/** The configured secret or the one in the data folder, else a new one written there: for a new database only. */
export function loadOrCreateSecret(configured: string | undefined, dataDir: string): string {
  const found = findSecret(configured, dataDir);
  if (found !== undefined) return found;
  const file = secretFileOf(dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomToken(32);
  // Another process starting at the same time created it first: use that one.
  if (!createPrivateFileOnce(file, `${secret}\n`)) return readSecretFile(file);
  return secret;
}

const secretFileOf = (dataDir: string) => path.join(dataDir, 'secret');

/**
 * The configured secret or the one in the data folder, never a new one: for commands that
 * manage an existing deployment, where a new secret would silently mismatch every hash the
 * server stored (client secrets would no longer verify).
 */
export function loadExistingSecret(configured: string | undefined, dataDir: string): string {
  const found = findSecret(configured, dataDir);
  if (found !== undefined) return found;
  throw new ConfigError(
    `no server secret at ${path.resolve(secretFileOf(dataDir))} (GRANTRY_SECRET / secret, data_dir / GRANTRY_DATA_DIR), and the database was set up with one (a new one would verify nothing it stores): use the server's data folder or its GRANTRY_SECRET`,
  );
}

function readSecretFile(file: string): string {
  // An empty file may still be in the middle of being written (file systems without hard links).
  const secret = readWhenComplete(file, (text) => text.trim() !== '').trim();
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(
      `the server secret in ${file} is ${secret.length === 0 ? 'empty' : `only ${secret.length} characters long`}: it must be at least ${MIN_SECRET_LENGTH} characters (restore the server's secret or set GRANTRY_SECRET; only for a database Grantry has not set up yet, remove the file to have a new one generated)`,
    );
  }
  return secret;
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Reads `file`, and reads it again for up to `timeoutMs` while `complete` says the content is
 * not all there yet (another process is still writing it). Returns the last content read.
 */
export function readWhenComplete(file: string, complete: (text: string) => boolean, timeoutMs = 1000): string {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = readFileSync(file, 'utf8');
    if (complete(text) || Date.now() >= deadline) return text;
    sleepSync(25);
  }
}

/** link() is not supported by every file system (some network and FUSE mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/**
 * Creates `file` (mode 0600) with `content` in one step, never replacing an existing file:
 * writes a temporary file in the same folder and hard-links it to `file`, which fails with
 * EEXIST when another process got there first. Returns false in that case.
 */
export function createPrivateFileOnce(file: string, content: string): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    chmodSync(tmp, 0o600);
    try {
      linkSync(tmp, file);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (!NO_HARD_LINKS.has(code ?? '')) throw e;
    }
    // Without hard links: create the file exclusively; readers wait until it has content.
    try {
      writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
    chmodSync(file, 0o600);
    return true;
  } finally {
    rmSync(tmp, { force: true });
  }
}
