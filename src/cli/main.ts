#!/usr/bin/env node
/**
 * The `grantry` command. Exit codes: 0 success, 1 the request failed (duplicate, not found,
 * invalid input...), 2 bad usage or configuration (including no Grantry database where the
 * configuration points: the command cannot run there at all).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerAuditCommands } from './commands/audit.js';
import { registerBackupCommand } from './commands/backup.js';
import { registerCleanupCommand } from './commands/cleanup.js';
import { registerClientCommands } from './commands/clients.js';
import { registerConfigCommand } from './commands/config.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerKeysCommands } from './commands/keys.js';
import { registerMigrateCommand } from './commands/migrate.js';
import { registerStartCommand } from './commands/start.js';
import { registerTokenCommands } from './commands/tokens.js';
import { registerUserCommands } from './commands/users.js';
import { describeError, EXIT_USAGE } from './output.js';

function packageVersion(): string {
  try {
    // dist/cli/main.js and src/cli/main.ts both sit two levels below package.json.
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function buildProgram(): Command {
  const program = new Command('grantry')
    .description('Grantry, an OAuth 2.0 authorization server for a back office and a storefront')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--config <file>', 'JSON config file (default: $GRANTRY_CONFIG); environment variables override it')
    .option('--data-dir <dir>', "the server's data folder: its SQLite database, secret and keys (overrides GRANTRY_DATA_DIR / data_dir; default ./var)")
    // Settings below are inherited by every subcommand created afterwards.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .addHelpText(
      'after',
      '\nEvery command takes --json to print one JSON object on stdout.\n' +
        "The commands that manage users, clients, tokens and keys work on the server's existing database, named on stderr; only start and migrate create one.\n" +
        'Exit codes: 0 success, 1 the request failed, 2 bad usage or configuration (or no Grantry database); grantry doctor: 3 a check failed.',
    );
  registerStartCommand(program);
  registerMigrateCommand(program);
  registerKeysCommands(program);
  registerUserCommands(program);
  registerClientCommands(program);
  registerTokenCommands(program);
  registerAuditCommands(program);
  registerCleanupCommand(program);
  registerDoctorCommand(program);
  registerBackupCommand(program);
  registerConfigCommand(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has printed the message (or the help). Usage errors exit 2, like most tools,
      // instead of commander's 1, so that 1 keeps meaning "the request failed".
      process.exitCode = e.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    // Command actions report their own errors; this catches anything that escaped them.
    const { message, exitCode, detail } = describeError(e);
    process.stderr.write(`grantry: ${message}\n`);
    if (detail) process.stderr.write(`${detail}\n`);
    process.exitCode = exitCode;
  }
}

// `grantry client list | head -1`: a reader that goes away early is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

await main(process.argv);
