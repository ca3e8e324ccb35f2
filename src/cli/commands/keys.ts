/**
 * `grantry keys ...`: the access-token signing keys. They live in the database (`rotate`, `list`);
 * `generate` only writes the seed key file that an empty database starts from.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../../config/index.js';
import { CLI } from '../../management/principal.js';
import { type KeyState, keyStates, listKeys, MAX_ROTATION_DELAY, rotateKeys } from '../../management/keys.js';
import { signingKeyFromPem, writeNewKey } from '../../oauth/keys.js';
import type { StoredSigningKey } from '../../storage/repositories.js';
import { loadCliConfig, withGrantry } from '../context.js';
import { action, CliError, isoTime, isoTimeOrNull, type JsonObject, table } from '../output.js';

const MAX_DELAY = MAX_ROTATION_DELAY;

const delaySeconds = (raw: string): number => {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_DELAY) throw new InvalidArgumentError(`must be a whole number of seconds from 0 to ${MAX_DELAY}`);
  return n;
};

const algorithm = (raw: string): SigningAlgorithm => {
  const found = SIGNING_ALGORITHMS.find((a) => a.toLowerCase() === raw.toLowerCase());
  if (!found) throw new InvalidArgumentError(`must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  return found;
};

const keyJson = ({ key, state }: { key: StoredSigningKey; state: KeyState }): JsonObject => ({
  kid: key.kid,
  alg: key.alg,
  created_at: isoTime(key.createdAt),
  activates_at: isoTime(key.activatesAt),
  published_until: isoTimeOrNull(key.publishedUntil),
  state,
});

function keyTable(keys: Array<{ key: StoredSigningKey; state: KeyState }>): string[] {
  return table(
    ['KID', 'ALG', 'STATE', 'CREATED', 'ACTIVATES', 'PUBLISHED_UNTIL'],
    keys.map(({ key, state }) => [key.kid, key.alg, state, isoTime(key.createdAt), isoTime(key.activatesAt), isoTimeOrNull(key.publishedUntil) ?? '-']),
  );
}

export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('manage the access-token signing keys');

  keys
    .command('rotate')
    .description('add a new signing key: published in the JWKS at once, signing after --delay; the current keys stay published until their tokens expire')
    .option('--delay <seconds>', 'seconds before the new key signs (default: key_rotation_delay); 0 signs at once', delaySeconds)
    .addOption(new Option('--algorithm <alg>', `algorithm of the new key: ${SIGNING_ALGORITHMS.join(', ')} (default: signing_algorithm)`).argParser(algorithm))
    .option('--json', 'print {"kid", "alg", "activates_at", "keys": [...]} on stdout')
    .action(
      action(async (out, cmd) => {
        const o = cmd.opts<{ delay?: number; algorithm?: SigningAlgorithm }>();
        const config = loadCliConfig(cmd);
        await withGrantry(out, config, async (grantry) => {
          const alg = o.algorithm ?? config.signingAlgorithm;
          const delay = o.delay ?? config.keyRotationDelay;
          const added = await rotateKeys(CLI, grantry.keys, grantry.audit, alg, delay);
          const all = keyStates(grantry.keys, Math.floor(Date.now() / 1000));
          out.result({ kid: added.kid, alg: added.alg, activates_at: isoTime(added.activatesAt), keys: all.map(keyJson) }, () => [
            `Added a ${added.alg} signing key ${added.kid}, published now; ${delay === 0 ? 'it signs new tokens at once' : `it signs new tokens from ${isoTime(added.activatesAt)} (in ${delay} s)`}.`,
            `Running servers load it within key_refresh_interval (${config.keyRefreshInterval} s).`,
            '',
            ...keyTable(all),
          ]);
        });
      }),
    );

  keys
    .command('list')
    .description('list the signing keys with their state: signing, pending, retiring or expired')
    .option('--json', 'print {"keys": [{"kid", "alg", "created_at", "activates_at", "published_until", "state"}]} on stdout')
    .action(
      action(async (out, cmd) => {
        const config = loadCliConfig(cmd);
        await withGrantry(out, config, async (grantry) => {
          const all = listKeys(CLI, grantry.keys);
          out.result({ keys: all.map(keyJson) }, () => (all.length === 0 ? 'No signing keys.' : keyTable(all)));
        });
      }),
    );

  keys
    .command('generate')
    .description(
      'write a new private key for the configured signing algorithm to the configured key file (mode 0600): the seed key, used only when the database has no signing key yet; use keys rotate to change the key of a deployment',
    )
    .option('--force', 'replace an existing key file (it matters only for a database without keys)')
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
        if (existed) out.warn(`replaced the previous key in ${file}; a database that already has signing keys does not use it (see keys rotate)`);
        if (config.signingKey) out.warn('GRANTRY_SIGNING_KEY / signing_key is set and takes precedence: the server will not use this file');
        out.result({ kid: key.kid, alg: key.alg, file }, () => [`Wrote a new ${key.alg} signing key to ${file} (mode 0600).`, `  kid ${key.kid}`]);
      }),
    );
}
