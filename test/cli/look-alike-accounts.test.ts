/**
 * Look-alike accounts through the CLI, on SQLite and on PostgreSQL: usernames and emails are
 * unique in their normalised form (NFKC, case folded, no trailing dot on an email's domain), so
 * `Alice` beside `alice`, a fullwidth email or a trailing-dot email is a conflict, and every
 * spelling that normalises to an account's finds that account.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fullwidth } from '../helpers/authorize-pages.js';
import { BACKENDS } from '../helpers/backends.js';
import { type DataDir, freshDataDir } from '../helpers/server.js';
import { type CliResult, cliEnv, expectFailure, okJson, onlyJson, runCli } from './run.js';

const PASSWORD = 'correct-horse-battery';
const BACKOFFICE_CONFLICT = 'a back-office user with that username or email already exists';
const STOREFRONT_CONFLICT = 'a storefront user with that email already exists';

describe.each(BACKENDS)('look-alike accounts in the CLI (%s)', (backend) => {
  let data: DataDir;
  let env: Record<string, string>;
  const cli = (args: string[], input?: string): Promise<CliResult> => runCli(args, env, input);
  const staff = (username: string, email: string) => cli(['user', 'create', '--side', 'backoffice', '--username', username, '--email', email, '--json'], `${PASSWORD}\n`);
  const customer = (email: string) => cli(['user', 'create', '--side', 'storefront', '--email', email, '--json'], `${PASSWORD}\n`);

  beforeAll(async () => {
    data = await freshDataDir(backend, 'grantry-lookalike-');
    env = cliEnv(data.dir, data.databaseUrl);
    expect((await cli(['migrate'])).code).toBe(0);
  });
  afterAll(() => data?.remove());

  it('refuses a back-office username or email that normalises to an existing one: exit 1, "already exists"', async () => {
    const alice = okJson(await staff('alice', 'alice@example.com'));
    expect(alice).toMatchObject({ username: 'alice', email: 'alice@example.com' });
    for (const [username, email] of [
      ['Alice', 'other1@example.com'],
      ['ALICE', 'other2@example.com'],
      ['bob1', fullwidth('alice@example.com')],
      ['bob2', 'alice@example.com.'],
      ['bob3', 'ALICE@Example.COM.'],
      ['bob4', `${fullwidth('alice')}@example.com`],
    ] as const) {
      const result = await staff(username, email);
      expectFailure(result, 1, `grantry: ${BACKOFFICE_CONFLICT}`);
      expect(onlyJson(result)).toEqual({ error: 'conflict', message: BACKOFFICE_CONFLICT });
    }
    const listed = okJson(await cli(['user', 'list', '--side', 'backoffice', '--json']));
    expect(listed.users.map((u: { username: string }) => u.username)).toEqual(['alice']);
  });

  it('refuses a storefront email that normalises to an existing one', async () => {
    expect(okJson(await customer('dora@example.com'))).toMatchObject({ email: 'dora@example.com' });
    for (const email of ['Dora@Example.com', 'dora@example.com.', fullwidth('dora@example.com'), ` DORA@EXAMPLE.COM. `]) {
      const result = await customer(email);
      expectFailure(result, 1, `grantry: ${STOREFRONT_CONFLICT}`);
      expect(onlyJson(result)).toEqual({ error: 'conflict', message: STOREFRONT_CONFLICT });
    }
  });

  it('stores an email in its normalised form and keeps the username as typed', async () => {
    expect(okJson(await staff('Erin-Ops', `${fullwidth('Erin')}@Example.COM.`))).toMatchObject({ username: 'Erin-Ops', email: 'erin@example.com' });
    expect(okJson(await customer('Fay@Example.COM.'))).toMatchObject({ email: 'fay@example.com' });
  });

  it('validates after normalising: a username must be ASCII, an email must be valid once normalised', async () => {
    expectFailure(await staff(fullwidth('gina'), 'gina@example.com'), 1, /the username must be/);
    for (const email of ['gina@example..com', 'gina@.example.com', 'gina@example', '@example.com.', `gina@${fullwidth('example')}．`]) expectFailure(await customer(email), 1, 'is not a valid email address');
  });

  it('finds the account by any spelling that normalises to the same', async () => {
    expect(okJson(await cli(['user', 'disable', '--side', 'backoffice', 'ALICE', '--json']))).toMatchObject({ username: 'alice', enabled: false });
    expect(okJson(await cli(['user', 'enable', '--side', 'backoffice', 'alice@EXAMPLE.com.', '--json']))).toMatchObject({ username: 'alice', enabled: true });
    expect(okJson(await cli(['user', 'lock', '--side', 'backoffice', fullwidth('alice@example.com'), '--json']))).toMatchObject({ username: 'alice', locked: true });
    expect(okJson(await cli(['user', 'unlock', '--side', 'backoffice', 'erin-ops', '--json']))).toMatchObject({ username: 'Erin-Ops', locked: false });
    expect(okJson(await cli(['user', 'disable', '--side', 'storefront', fullwidth('DORA@example.com.'), '--json']))).toMatchObject({ email: 'dora@example.com', enabled: false });
  });
});
