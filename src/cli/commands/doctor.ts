/** `grantry doctor`: checks the database against Grantry's invariants, changing nothing. */
import type { Command } from 'commander';
import type { CheckResult } from '../../management/doctor.js';
import { loadCliConfig } from '../context.js';
import { action, table } from '../output.js';
import { withExistingDatabase } from '../read-only.js';

/** Distinct from 1 (the command could not run) and 2 (usage): the database was read and a check failed. */
export const EXIT_CHECK_FAILED = 3;

const resultText = (checks: CheckResult[]): string[] => [
  ...table(
    ['RESULT', 'CHECK', 'DETAILS'],
    checks.map((c) => [c.ok ? 'ok' : 'FAILED', c.name, c.ok ? c.description : `${c.count}: ${c.examples.join(', ')}${c.count > c.examples.length ? ', ...' : ''}`]),
  ),
  checks.every((c) => c.ok) ? 'All checks passed.' : `${checks.filter((c) => !c.ok).length} check(s) failed: ${checks.filter((c) => !c.ok).map((c) => c.name).join(', ')}.`,
];

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description("check the database against Grantry's invariants (schema, codes, refresh tokens, signing keys, an administrator), read-only")
    .option('--json', 'print {"ok", "checks": [{"name", "description", "ok", "count", "examples"}]} on stdout')
    .addHelpText('after', `\nExit codes: 0 every check passed, ${EXIT_CHECK_FAILED} a check failed, 1 the database could not be read, 2 bad usage or no Grantry database.\nFailed checks name a few ids (grants, keys, migrations), never a secret.`)
    .action(
      action(async (out, cmd) => {
        const config = loadCliConfig(cmd);
        const { examineDatabase } = await import('../../management/doctor.js');
        const checks = await withExistingDatabase(out, config, (database, secret) => examineDatabase(database, secret));
        const ok = checks.every((c) => c.ok);
        out.result({ ok, checks: checks.map((c) => ({ ...c })) }, () => resultText(checks));
        if (!ok) process.exitCode = EXIT_CHECK_FAILED;
      }),
    );
}
