/**
 * Everything the CLI prints goes through here: a command hands over its result once, as a
 * snake_case JSON object and as readable text, and this helper prints one or the other. Errors
 * are turned into a one-line message on stderr (plus a JSON error object with --json) and an
 * exit code, without stack traces for the errors an operator is expected to fix.
 */
import type { Command } from 'commander';
import { ConfigError } from '../config/index.js';
import { ManagementError } from '../management/errors.js';
import { KeyError } from '../oauth/keys.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Exit codes: 0 success, 1 the request failed, 2 bad usage or configuration. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** An error the CLI itself raises, with the code shown in JSON output and the exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: string = 'invalid_input',
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A usage mistake commander cannot detect itself (e.g. an option that does not fit --side). */
export const usageError = (message: string) => new CliError(message, 'usage', EXIT_USAGE);

/** Epoch seconds → ISO 8601. */
export const isoTime = (seconds: number): string => new Date(seconds * 1000).toISOString();
export const isoTimeOrNull = (seconds: number | null): string | null => (seconds === null ? null : isoTime(seconds));

export class Output {
  constructor(readonly json: boolean) {}

  /**
   * Prints the command's result: `data` as exactly one JSON object with --json, otherwise the
   * lines `text` returns.
   */
  result(data: JsonObject, text: () => string | string[]): void {
    if (this.json) {
      process.stdout.write(`${JSON.stringify(data)}\n`);
      return;
    }
    const printed = text();
    const lines = Array.isArray(printed) ? printed : [printed];
    if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  }

  /** A note for the operator. Always stderr, so that stdout stays one JSON object. */
  warn(message: string): void {
    process.stderr.write(`grantry: warning: ${message}\n`);
  }

  /** Where the command works (e.g. which database), on stderr like warnings. */
  info(message: string): void {
    process.stderr.write(`grantry: ${message}\n`);
  }

  /** Reports a failed command and sets the exit code. */
  fail(error: unknown): void {
    const { code, message, exitCode, detail } = describeError(error);
    process.stderr.write(`grantry: ${message}\n`);
    if (detail) process.stderr.write(`${detail}\n`);
    if (this.json) process.stdout.write(`${JSON.stringify({ error: code, message })}\n`);
    process.exitCode = exitCode;
  }
}

interface DescribedError {
  code: string;
  message: string;
  exitCode: number;
  /** A stack trace, only for errors nobody expected. */
  detail?: string;
}

export function describeError(error: unknown): DescribedError {
  if (error instanceof ManagementError) return { code: error.code, message: error.message, exitCode: EXIT_FAILURE };
  if (error instanceof CliError) return { code: error.code, message: error.message, exitCode: error.exitCode };
  if (error instanceof ConfigError) return { code: 'invalid_config', message: error.message, exitCode: EXIT_USAGE };
  if (error instanceof KeyError) return { code: 'invalid_key', message: error.message, exitCode: EXIT_FAILURE };
  // Operating-system and database errors (ECONNREFUSED, EACCES, EADDRINUSE, PostgreSQL SQLSTATE
  // codes...): the operator fixes the environment, a stack trace would not help.
  const sys = error as { code?: unknown; message?: unknown; errors?: unknown };
  if (error instanceof Error && typeof sys.code === 'string') {
    let message = error.message;
    // Node reports a refused connection to several addresses as an AggregateError without message.
    if (!message && Array.isArray(sys.errors) && sys.errors[0] instanceof Error) message = sys.errors[0].message;
    return { code: 'system_error', message: message || sys.code, exitCode: EXIT_FAILURE };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: 'internal_error',
    message: `unexpected error: ${message}`,
    exitCode: EXIT_FAILURE,
    detail: error instanceof Error ? error.stack : undefined,
  };
}

/**
 * Wraps a command handler: gives it an Output that knows about --json and turns whatever it
 * throws into a message and an exit code.
 */
export function action(handler: (out: Output, cmd: Command) => Promise<void>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const out = new Output(Boolean(cmd.optsWithGlobals<{ json?: boolean }>().json));
    try {
      await handler(out, cmd);
    } catch (e) {
      out.fail(e);
    }
  };
}

/** Left-aligned columns for list output. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
