/** `grantry backup FILE`: an online copy of the SQLite database; PostgreSQL has pg_dump. */
import path from 'node:path';
import type { Command } from 'commander';
import { sqliteFileOf } from '../../storage/database-url.js';
import { announceDatabase, loadCliConfig } from '../context.js';
import { action, CliError, EXIT_USAGE } from '../output.js';

export function registerBackupCommand(program: Command): void {
  program
    .command('backup')
    .description('copy the SQLite database to FILE while the server runs (a consistent snapshot, mode 0600); PostgreSQL: use pg_dump')
    .argument('<file>', 'where to write the copy; not replaced unless --force')
    .option('--force', 'replace FILE if it exists')
    .option('--json', 'print {"file", "bytes", "taken_at", "duration_ms"} on stdout')
    .addHelpText('after', '\nRestore: stop the server, replace the database file with the copy, delete its -wal and -shm files, start the server.')
    .action(
      action(async (out, cmd) => {
        const [target] = cmd.args as [string];
        const { force } = cmd.opts<{ force?: boolean }>();
        const config = loadCliConfig(cmd);
        const source = sqliteFileOf(config.databaseUrl);
        if (source === undefined) {
          throw new CliError('grantry backup copies a SQLite database; back up PostgreSQL with pg_dump (pg_dump --format=custom --file=grantry.dump "$DATABASE_URL" while the nodes serve; restore into an empty database, the nodes stopped, with pg_restore --dbname="$DATABASE_URL" grantry.dump)', 'unsupported', EXIT_USAGE);
        }
        const { existsSync } = await import('node:fs');
        if (source === '' || source === ':memory:' || !existsSync(source)) {
          throw new CliError(`no Grantry database at ${path.resolve(source)} (DATABASE_URL / database_url, data_dir / GRANTRY_DATA_DIR); run this where the server runs, or pass --data-dir`, 'no_database', EXIT_USAGE);
        }
        const { backupSqlite, BackupExistsError } = await import('../../storage/sqlite-backup.js');
        announceDatabase(out, config);
        const file = path.resolve(target);
        let result;
        try {
          result = backupSqlite(source, file, Boolean(force));
        } catch (e) {
          if (e instanceof BackupExistsError) throw new CliError(`${e.message}; pass --force to replace it`, 'exists');
          throw e;
        }
        const takenAt = new Date(result.startedAt).toISOString();
        out.result({ file, bytes: result.bytes, taken_at: takenAt, duration_ms: result.durationMs }, () => `Wrote ${file}: ${result.bytes} bytes, the database as of ${takenAt}, in ${result.durationMs} ms.`);
      }),
    );
}
