/** `grantry cleanup`: deletes expired codes, tokens, grants, sessions and retired keys once. */
import type { Command } from 'commander';
import { runCleanup } from '../../management/cleanup.js';
import { loadCliConfig, withGrantry } from '../context.js';
import { action, table } from '../output.js';

export function registerCleanupCommand(program: Command): void {
  program
    .command('cleanup')
    .description('delete expired codes, tokens, grants, sessions and retired signing keys once (servers also do it every cleanup_interval seconds)')
    .option('--json', 'print {"deleted": {"authorization_codes": n, ...}} (rows per table) on stdout')
    .action(
      action(async (out, cmd) => {
        const config = loadCliConfig(cmd);
        await withGrantry(out, config, async (grantry) => {
          const deleted = await runCleanup(grantry);
          const total = Object.values(deleted).reduce((sum, n) => sum + n, 0);
          out.result({ deleted }, () => [
            ...table(
              ['TABLE', 'DELETED'],
              Object.entries(deleted).map(([name, n]) => [name, String(n)]),
            ),
            '',
            `Deleted ${total} expired row(s).`,
          ]);
        });
      }),
    );
}
