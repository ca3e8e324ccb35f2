/** `grantry migrate`: brings the database schema up to date, creating the database if needed. */
import type { Command } from 'commander';
import { announceDatabase, loadCliConfig } from '../context.js';
import { action } from '../output.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('create the database or apply its pending migrations; a new database gets a server secret if none is configured (start does this too)')
    .option('--json', 'print {"applied": [...]} on stdout')
    .action(
      action(async (out, cmd) => {
        const config = loadCliConfig(cmd);
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
