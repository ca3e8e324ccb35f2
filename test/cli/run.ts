/**
 * Runs the compiled CLI (dist/cli/main.js, so `npm run build` first) as a child process, the way
 * an operator does, with a controlled environment and standard input.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a test run gets: nothing inherited but PATH. */
export function cliEnv(dataDir: string, databaseUrl: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { GRANTRY_DATA_DIR: dataDir, GRANTRY_LOG_LEVEL: 'silent', PATH: process.env.PATH ?? '', ...extra };
  if (databaseUrl !== undefined) env.DATABASE_URL = databaseUrl;
  return env;
}

function spawnCli(args: string[], env: Record<string, string>, cwd?: string): ChildProcessWithoutNullStreams {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the CLI tests`);
  return spawn(process.execPath, [CLI, ...args], { env, cwd, stdio: 'pipe' });
}

/**
 * Runs one command to completion; stdin gets `input` (or nothing) and is then closed. `cwd` is
 * the working directory (default: the test's), where relative paths such as ./var resolve.
 */
export function runCli(args: string[], env: Record<string, string>, input = '', cwd?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env, cwd);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // The child may exit before reading stdin (usage errors): ignore EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** stdout must be exactly one JSON object and nothing else; returns it. */
export function onlyJson(result: CliResult): Record<string, any> {
  const text = result.stdout.trim();
  expect(text.split('\n'), `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toHaveLength(1);
  const value = JSON.parse(text) as unknown;
  expect(value).toBeTypeOf('object');
  expect(Array.isArray(value)).toBe(false);
  return value as Record<string, any>;
}

/** Asserts a successful run and returns its JSON output. */
export function okJson(result: CliResult): Record<string, any> {
  expect(result.code, `stderr: ${result.stderr}`).toBe(0);
  return onlyJson(result);
}

/**
 * The line a command that opens the database prints on stderr to name it: the SQLite file, or
 * the PostgreSQL URL (test URLs carry no password to mask).
 */
export function usingDatabase(databaseUrl: string): string {
  const file = /^sqlite:(.*)$/.exec(databaseUrl)?.[1];
  return file === undefined ? `grantry: using the PostgreSQL database ${databaseUrl}\n` : `grantry: using the SQLite database ${file}\n`;
}

/** Asserts a failure: exit code, one-line `grantry: ...` message on stderr, no stack trace. */
export function expectFailure(result: CliResult, exitCode: number, message: string | RegExp): void {
  expect(result.code, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(exitCode);
  if (typeof message === 'string') expect(result.stderr).toContain(message);
  else expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

/** A long-running command (`grantry start`) whose output can be awaited line by line. */
export class CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawnCli(args, env);
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.child.stdin.end();
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal })));
  }

  /** Waits until `stream` matches `pattern`; fails on exit or after `timeoutMs`. */
  async waitFor(pattern: RegExp, stream: 'stdout' | 'stderr' = 'stdout', timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const match = this[stream].match(pattern);
      if (match) return match;
      if (exited || Date.now() > deadline) {
        throw new Error(`${exited ? 'exited' : 'timed out'} before ${pattern} appeared\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Makes sure the process is gone (after a failed assertion). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
