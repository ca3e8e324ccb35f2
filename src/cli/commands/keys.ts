/** `grantry keys generate`: a new private signing key at the configured key file. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { signingKeyFromPem, writeNewKey } from '../../oauth/keys.js';
import { loadCliConfig } from '../context.js';
import { action, CliError } from '../output.js';

export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('manage the access-token signing key');

  keys
    .command('generate')
    .description('write a new private key for the configured signing algorithm to the configured key file (mode 0600)')
    .option('--force', 'replace an existing key file (tokens signed with the old key stop verifying once the server restarts)')
    .option('--json', 'print {"kid", "alg", "file"} on stdout')
    .action(
      action(async (out, cmd) => {
        const { force = false } = cmd.opts<{ force?: boolean }>();
        const config = loadCliConfig(cmd);
        const file = path.resolve(config.signingKeyFile);
        const refuse = () => new CliError(`${file} already exists; use --force to replace it`, 'conflict');
        const existed = existsSync(file);
        if (existed && !force) throw refuse();
        let pem: string;
        try {
          pem = writeNewKey(file, config.signingAlgorithm, force);
        } catch (e) {
          // Created by someone else between the check and the write.
          if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw refuse();
          throw e;
        }
        const key = signingKeyFromPem(pem, config.signingAlgorithm);
        if (existed) out.warn(`replaced the previous key in ${file}: access tokens it signed stop verifying once the server restarts`);
        if (config.signingKey) out.warn('GRANTRY_SIGNING_KEY / signing_key is set and takes precedence: the server will not use this file');
        out.result({ kid: key.kid, alg: key.alg, file }, () => [`Wrote a new ${key.alg} signing key to ${file} (mode 0600).`, `  kid ${key.kid}`]);
      }),
    );
}
