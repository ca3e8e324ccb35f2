/** Configuration and the Grantry core as commands get them. */
import type { Command } from 'commander';
import type { Grantry } from '../app.js';
import { type Config, loadConfig } from '../config/index.js';
import type { SideName } from '../oauth/sides.js';
import type { Output } from './output.js';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
}

/** The config file named by --config (else GRANTRY_CONFIG), if any. */
export function configFileOf(cmd: Command): string | undefined {
  return cmd.optsWithGlobals<GlobalOptions>().config;
}

/** Loads the configuration; a ConfigError becomes exit code 2 in action(). */
export function loadCliConfig(cmd: Command): Config {
  return loadConfig({ configFile: configFileOf(cmd) });
}

/** Runs `fn` with the core (database migrated) and always closes it. */
export async function withGrantry<T>(config: Config, fn: (grantry: Grantry) => Promise<T>): Promise<T> {
  // Loaded on demand: --help, config and keys then start without the database drivers.
  const { createGrantry } = await import('../app.js');
  const grantry = await createGrantry(config);
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
