/** `grantry config`: the effective configuration, secrets masked. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type Config, SETTINGS } from '../../config/index.js';
import { withoutPassword } from '../../storage/database-url.js';
import { configFileOf, dataDirOptionOf, loadCliConfig } from '../context.js';
import { action, type JsonObject, type JsonValue, table } from '../output.js';

/** Settings whose value is never printed, only whether it is set. */
const MASKED = new Set(['secret', 'signing_key', 'admin_password']);

/** A setting's value as one line of the text table: objects (scopes) as JSON. */
function textValue(value: JsonValue): string {
  if (value === null) return '(unset)';
  if (typeof value === 'object' && !Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

type Source = 'option' | 'environment' | 'file' | 'default' | 'derived';

export function registerConfigCommand(program: Command): void {
  program
    .command('config')
    .description('print the effective configuration: every setting with its config-file name, environment variable, value and source')
    .option('--json', 'print {"config_file", "settings": {name: {"env", "value", "source"}}} on stdout')
    .action(
      action(async (out, cmd) => {
        const config = loadCliConfig(cmd);
        const configFile = configFileOf(cmd) ?? (process.env.GRANTRY_CONFIG || undefined);
        // loadConfig() has validated the file already; read it again only to tell the sources apart.
        const fileValues = configFile ? (JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>) : {};
        const settings = SETTINGS.map((s) => {
          const raw = config[s.key as keyof Config];
          let value: JsonValue;
          if (MASKED.has(s.file)) value = raw === undefined ? null : '(set)';
          else if (s.file === 'database_url') value = withoutPassword(String(raw));
          else value = (raw ?? null) as JsonValue;
          const envValue = process.env[s.env];
          let source: Source;
          if (s.file === 'data_dir' && dataDirOptionOf(cmd) !== undefined) source = 'option'; // --data-dir
          else if (envValue !== undefined && envValue !== '') source = 'environment';
          else if (fileValues[s.file] !== undefined) source = 'file';
          else if (typeof s.defaultValue === 'symbol') source = 'derived'; // computed from other settings, e.g. public_url from port
          else source = 'default';
          return { name: s.file, env: s.env, value, source };
        });
        const json: JsonObject = {
          config_file: configFile ?? null,
          settings: Object.fromEntries(settings.map(({ name, env, value, source }) => [name, { env, value, source }])),
        };
        out.result(json, () => [
          `Config file: ${configFile ?? '(none; use --config or GRANTRY_CONFIG)'}`,
          '',
          ...table(
            ['SETTING', 'ENVIRONMENT', 'VALUE', 'SOURCE'],
            settings.map((s) => [s.name, s.env, textValue(s.value), s.source]),
          ),
        ]);
      }),
    );
}
