/** Configuration and the Grantry core as commands get them. */
import path from 'node:path';
import type { Command } from 'commander';
import type { Grantry } from '../app.js';
import { type Config, loadConfig } from '../config/index.js';
import type { SideName } from '../oauth/sides.js';
import { describeDatabase } from '../storage/database-url.js';
import { CliError, EXIT_USAGE, type Output } from './output.js';

export interface GlobalOptions {
  config?: string;
  dataDir?: string;
  json?: boolean;
}

/** The config file named by --config (else GRANTRY_CONFIG), if any. */
export function configFileOf(cmd: Command): string | undefined {
  return cmd.optsWithGlobals<GlobalOptions>().config;
}

/** The data folder named by --data-dir, made absolute, if any. */
export function dataDirOptionOf(cmd: Command): string | undefined {
  const dir = cmd.optsWithGlobals<GlobalOptions>().dataDir;
  return dir === undefined ? undefined : path.resolve(dir);
}

/** Loads the configuration, --data-dir over GRANTRY_DATA_DIR / data_dir; a ConfigError becomes exit code 2 in action(). */
export function loadCliConfig(cmd: Command): Config {
  const dataDir = dataDirOptionOf(cmd);
  return loadConfig({ configFile: configFileOf(cmd), overrides: dataDir === undefined ? undefined : { dataDir } });
}

/** Names the database a command works on, on stderr (stdout stays the result). */
export function announceDatabase(out: Output, config: Config): void {
  out.info(`using the ${describeDatabase(config.databaseUrl)}`);
}

/** What a command says when the configuration points at no Grantry database: where to look. */
export function noDatabaseError(e: Error, config: Config): CliError {
  const advice = config.databaseUrl.startsWith('sqlite:') ? 'run this where the server runs, pass --data-dir, or start the server once' : "use the server's DATABASE_URL, or start the server once";
  return new CliError(`${e.message}; ${advice}`, 'no_database', EXIT_USAGE);
}

/**
 * Runs `fn` with the core on the server's existing database (pending migrations applied) and
 * always closes it. Never creates a database, a data folder or a server secret: run from the
 * wrong folder or without the server's settings, a command must fail, not quietly manage a new,
 * empty deployment that the server never reads.
 */
export async function withGrantry<T>(out: Output, config: Config, fn: (grantry: Grantry) => Promise<T>): Promise<T> {
  // Loaded on demand: --help, config and keys then start without the database drivers.
  const { createGrantry } = await import('../app.js');
  const { MissingDatabaseError } = await import('../storage/database.js');
  let grantry: Grantry;
  try {
    grantry = await createGrantry(config, { initialise: false });
  } catch (e) {
    if (e instanceof MissingDatabaseError) throw noDatabaseError(e, config);
    throw e;
  }
  announceDatabase(out, config);
  try {
    return await fn(grantry);
  } finally {
    await grantry.close();
  }
}

/** Managing a side the server does not serve works, but is probably a mistake: say so. */
export function warnIfSideDisabled(out: Output, grantry: Grantry, side: SideName): void {
  if (!grantry.sides.get(side)) {
    out.warn(`the ${side} side is disabled in this configuration (GRANTRY_STOREFRONT_ENABLED / storefront_enabled); the server will not serve it`);
  }
}
