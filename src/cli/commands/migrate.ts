/** `grantry migrate`: brings the database schema up to date, creating the database if needed. */
import type { Command } from 'commander';
import type { Config } from '../../config/index.js';
import { announceDatabase, loadCliConfig } from '../context.js';
import { action, CliError, type Output } from '../output.js';
import { withExistingDatabase } from '../read-only.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('create the database or apply its pending migrations; a new database gets a server secret if none is configured (start does this too)')
    .option('--dry-run', 'list the migrations that would be applied, in order, and apply none (the database must exist)')
    .option('--json', 'print {"applied": [...]} on stdout, or {"pending": [...]} with --dry-run')
    .action(
      action(async (out, cmd) => {
        const config = loadCliConfig(cmd);
        if (cmd.opts<{ dryRun?: boolean }>().dryRun) return listPending(out, config);
        const { openWithSecret } = await import('../../app.js');
        const { migrateToLatest } = await import('../../storage/migrations/index.js');
        // As start does: a new database gets its server secret (so that the management commands,
        // which never create one, work before the first start); an existing one must have it.
        const { database } = await openWithSecret(config, { initialise: true });
        announceDatabase(out, config);
        let applied: string[];
        try {
          applied = await migrateToLatest(database.db, database.dialect);
        } finally {
          await database.close();
        }
        out.result({ applied }, () =>
          applied.length === 0
            ? `The ${database.dialect} database is up to date: no migration to apply.`
            : [`Applied ${applied.length} migration(s) to the ${database.dialect} database:`, ...applied.map((name) => `  ${name}`)],
        );
      }),
    );
}

/** --dry-run: what `grantry migrate` would apply, read from the database without changing it. */
async function listPending(out: Output, config: Config): Promise<void> {
  const { migrationStatus } = await import('../../storage/migrations/index.js');
  const { dialect, status } = await withExistingDatabase(out, config, async (database) => ({ dialect: database.dialect, status: await migrationStatus(database.db) }));
  // The migrator refuses such a database too; saying so now spares the operator a failed upgrade.
  if (status.unknown.length > 0) {
    throw new CliError(`the ${dialect} database has migrations this version of Grantry does not know (${status.unknown.join(', ')}): a newer version migrated it`, 'unknown_migrations');
  }
  const { pending } = status;
  out.result({ pending }, () =>
    pending.length === 0
      ? `The ${dialect} database is up to date: nothing to do.`
      : [`Would apply ${pending.length} migration(s) to the ${dialect} database, in this order:`, ...pending.map((name) => `  ${name}`)],
  );
}
