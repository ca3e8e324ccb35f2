/** `grantry migrate`: brings the database schema up to date. */
import type { Command } from 'commander';
import { loadCliConfig } from '../context.js';
import { action } from '../output.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (start does this too)')
    .option('--json', 'print {"applied": [...]} on stdout')
    .action(
      action(async (out, cmd) => {
        const config = loadCliConfig(cmd);
        const { openDatabase } = await import('../../storage/database.js');
        const { migrateToLatest } = await import('../../storage/migrations/index.js');
        const database = openDatabase(config.databaseUrl);
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
