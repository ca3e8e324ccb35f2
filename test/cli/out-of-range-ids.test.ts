/**
 * User ids the integer columns cannot hold, given to the CLI: "not found", like any unknown
 * user, on SQLite and on PostgreSQL (which used to answer with a raw "out of range for type
 * integer" error).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { type DataDir, freshDataDir } from '../helpers/server.js';
import { cliEnv, expectFailure, okJson, onlyJson, runCli } from './run.js';

const OUT_OF_RANGE = ['2147483648', '99999999999', '9'.repeat(30)];

describe.each(BACKENDS)('user ids beyond the integer columns (%s)', (backend) => {
  let data: DataDir;
  let env: Record<string, string>;

  beforeAll(async () => {
    data = await freshDataDir(backend, 'grantry-cli-ids-');
    env = cliEnv(data.dir, data.databaseUrl);
    okJson(await runCli(['migrate', '--json'], env));
  });
  afterAll(() => data?.remove());

  it.each(OUT_OF_RANGE)('%s is "not found" for user commands, token revoke --user and client create --owner', async (id) => {
    const commands: [string[], string][] = [
      [['user', 'enable', '--side', 'backoffice', id], `no backoffice user "${id}"`],
      [['user', 'lock', '--side', 'backoffice', id], `no backoffice user "${id}"`],
      [['user', 'disable', '--side', 'storefront', id], `no storefront user "${id}"`],
      [['token', 'revoke', '--user', id, '--side', 'storefront'], `no storefront user "${id}"`],
      [['client', 'create', '--side', 'backoffice', '--name', `Owned by ${id}`, '--type', 'confidential', '--grant', 'client_credentials', '--owner', id], `no backoffice user "${id}"`],
    ];
    for (const [args, message] of commands) {
      const result = await runCli([...args, '--json'], env);
      expectFailure(result, 1, `grantry: ${message}`);
      expect(onlyJson(result)).toEqual({ error: 'not_found', message });
    }
    // Nothing was created by the refused client.
    expect(okJson(await runCli(['client', 'list', '--side', 'backoffice', '--json'], env)).clients).toEqual([]);
  });
});
