/** `grantry config`: the effective configuration, secrets masked. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type Config, SETTINGS } from '../../config/index.js';
import { configFileOf, loadCliConfig } from '../context.js';
import { action, type JsonObject, type JsonValue, table } from '../output.js';

/** Settings whose value is never printed, only whether it is set. */
const MASKED = new Set(['secret', 'signing_key', 'admin_password']);

const MASK = '****';
/** Query parameters that carry a password (libpq's password, and sslpassword). */
const isPasswordParameter = (name: string) => /password/i.test(name);

/**
 * postgres://grantry:s3cret@db/grantry → postgres://grantry:****@db/grantry, and
 * postgres://grantry@db/grantry?password=s3cret → postgres://grantry@db/grantry?password=****
 */
export function withoutPassword(databaseUrl: string): string {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    // Not a URL this parser accepts (the database driver may be more lenient): mask by pattern.
    return databaseUrl
      .replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:)[^/?#@]*@/i, `$1${MASK}@`)
      .replace(/([?&][^=&#]*password[^=&#]*=)[^&#]*/gi, `$1${MASK}`);
  }
  if (url.password) url.password = MASK;
  const names = [...new Set([...url.searchParams.keys()])].filter(isPasswordParameter);
  if (!url.password && names.length === 0) return databaseUrl;
  if (names.length > 0) {
    // Rebuilt by hand, so the other parameters keep their spelling and '*' stays unencoded.
    url.search = url.search
      .slice(1)
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        const name = eq < 0 ? pair : pair.slice(0, eq);
        let decoded = name;
        try {
          decoded = decodeURIComponent(name.replace(/\+/g, ' '));
        } catch {
          // keep the raw name
        }
        return isPasswordParameter(decoded) ? `${name}=${MASK}` : pair;
      })
      .join('&');
  }
  return url.href;
}

/** A setting's value as one line of the text table: objects (scopes) as JSON. */
function textValue(value: JsonValue): string {
  if (value === null) return '(unset)';
  if (typeof value === 'object' && !Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

type Source = 'environment' | 'file' | 'default' | 'derived';

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
          if (envValue !== undefined && envValue !== '') source = 'environment';
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
