/** `grantry user ...`: back-office and storefront accounts. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { SIDE_NAMES, type SideName } from '../../oauth/sides.js';
import type { BackofficeUser, CustomerUser } from '../../storage/repositories.js';
import { loadCliConfig, warnIfSideDisabled, withGrantry } from '../context.js';
import { action, isoTime, type JsonObject, table, usageError } from '../output.js';
import { readNewPassword } from '../password.js';
import { CLI } from '../../management/principal.js';

type AnyUser = BackofficeUser | CustomerUser;

const sideOption = () => new Option('--side <side>', 'which user store').choices(SIDE_NAMES).makeOptionMandatory();
const jsonOption = (what: string) => new Option('--json', `print ${what} as one JSON object on stdout`);

export function userJson(side: SideName, user: AnyUser): JsonObject {
  if (side === 'backoffice' && 'username' in user) {
    return {
      id: user.id,
      side,
      username: user.username,
      email: user.email,
      admin: user.isAdmin,
      enabled: user.enabled,
      locked: user.locked,
      created_at: isoTime(user.createdAt),
      updated_at: isoTime(user.updatedAt),
    };
  }
  const customer = user as CustomerUser;
  return {
    id: customer.id,
    side,
    email: customer.email,
    first_name: customer.firstName,
    last_name: customer.lastName,
    enabled: customer.enabled,
    created_at: isoTime(customer.createdAt),
    updated_at: isoTime(customer.updatedAt),
  };
}

/** `backoffice user 3 "alice" <alice@example.com> (admin; enabled, not locked)` */
function describeUser(side: SideName, user: AnyUser): string {
  const state = [user.enabled ? 'enabled' : 'disabled'];
  if ('locked' in user) state.push(user.locked ? 'locked' : 'not locked');
  if ('isAdmin' in user && user.isAdmin) state.unshift('admin');
  const name = 'username' in user ? ` "${user.username}"` : '';
  return `${side} user ${user.id}${name} <${user.email}> (${state.join(', ')})`;
}

const positiveInt = (max: number) => (raw: string) => {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`must be a whole number from 1 to ${max}`);
  return n;
};

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage back-office and storefront users');

  user
    .command('create')
    .description('create a user; the password is read from the first line of stdin, or prompted for twice on a terminal')
    .addOption(sideOption())
    .option('--username <username>', 'login name (back office only, required there)')
    .requiredOption('--email <email>', 'email address (the storefront login)')
    .option('--admin', 'give the back-office user the admin role')
    .option('--first-name <name>', 'first name (storefront only)')
    .option('--last-name <name>', 'last name (storefront only)')
    .addOption(jsonOption('the new user'))
    .addHelpText('after', '\nThe password is never accepted as an option. Examples:\n  printf "%s\\n" "$PASSWORD" | grantry user create --side backoffice --username alice --email alice@example.com --admin\n  grantry user create --side storefront --email bob@example.com --first-name Bob   (prompts)')
    .action(
      action(async (out, cmd) => {
        const o = cmd.opts<{ side: SideName; username?: string; email: string; admin?: boolean; firstName?: string; lastName?: string }>();
        if (o.side === 'backoffice') {
          if (o.username === undefined) throw usageError('--username is required for back-office users');
          if (o.firstName !== undefined || o.lastName !== undefined) throw usageError('--first-name and --last-name are for storefront users only');
        } else {
          if (o.username !== undefined) throw usageError('--username is for back-office users only; storefront users sign in with their email');
          if (o.admin) throw usageError('--admin is for back-office users only');
        }
        const config = loadCliConfig(cmd);
        const password = await readNewPassword();
        await withGrantry(out, config, async (grantry) => {
          warnIfSideDisabled(out, grantry, o.side);
          const created: AnyUser =
            o.side === 'backoffice'
              ? await grantry.users.createBackofficeUser(CLI, { username: o.username as string, email: o.email, password, isAdmin: o.admin ?? false })
              : await grantry.users.createCustomerUser(CLI, { email: o.email, password, firstName: o.firstName, lastName: o.lastName });
          out.result(userJson(o.side, created), () => `Created ${describeUser(o.side, created)}.`);
        });
      }),
    );

  user
    .command('list')
    .description('list the users of one side, oldest first')
    .addOption(sideOption())
    .option('--page <n>', 'page number', positiveInt(1_000_000), 1)
    .option('--size <n>', 'users per page', positiveInt(1000), 100)
    .option('--search <text>', 'only users whose username or email (storefront: email or name) contains this, in any case')
    .addOption(jsonOption('{"users": [...], "total", "page", "size"}'))
    .action(
      action(async (out, cmd) => {
        const o = cmd.opts<{ side: SideName; page: number; size: number; search?: string }>();
        const config = loadCliConfig(cmd);
        await withGrantry(out, config, async (grantry) => {
          const page = await grantry.users.list(CLI, o.side, { search: o.search, page: o.page, size: o.size });
          const users = page.items.map((u) => userJson(o.side, u));
          out.result({ users, total: page.total, page: o.page, size: o.size }, () => {
            const summary = `${page.items.length} of ${page.total} ${o.side} user(s)${page.total > o.size ? ` (page ${o.page}, --size ${o.size})` : ''}`;
            if (page.items.length === 0) return summary;
            const rows =
              o.side === 'backoffice'
                ? table(
                    ['ID', 'USERNAME', 'EMAIL', 'ADMIN', 'ENABLED', 'LOCKED', 'CREATED'],
                    (page.items as BackofficeUser[]).map((u) => [String(u.id), u.username, u.email, yesNo(u.isAdmin), yesNo(u.enabled), yesNo(u.locked), isoTime(u.createdAt)]),
                  )
                : table(
                    ['ID', 'EMAIL', 'NAME', 'ENABLED', 'CREATED'],
                    (page.items as CustomerUser[]).map((u) => [String(u.id), u.email, [u.firstName, u.lastName].filter(Boolean).join(' '), yesNo(u.enabled), isoTime(u.createdAt)]),
                  );
            return [...rows, '', summary];
          });
        });
      }),
    );

  const flagCommand = (name: string, flag: 'enabled' | 'locked', value: boolean, description: string) =>
    user
      .command(name)
      .description(description)
      .addOption(sideOption())
      .argument('<user>', 'user id, username (back office) or email')
      .addOption(jsonOption('the updated user'))
      .action(
        action(async (out, cmd) => {
          const { side } = cmd.opts<{ side: SideName }>();
          const ref = cmd.processedArgs[0] as string;
          const config = loadCliConfig(cmd);
          await withGrantry(out, config, async (grantry) => {
            const updated = await grantry.users.setFlag(CLI, side, ref, flag, value);
            out.result(userJson(side, updated), () => `Updated ${describeUser(side, updated)}.`);
          });
        }),
      );

  user
    .command('show')
    .description('show one user')
    .addOption(sideOption())
    .argument('<user>', 'user id, username (back office) or email')
    .addOption(jsonOption('the user'))
    .action(
      action(async (out, cmd) => {
        const { side } = cmd.opts<{ side: SideName }>();
        const ref = cmd.processedArgs[0] as string;
        const config = loadCliConfig(cmd);
        await withGrantry(out, config, async (grantry) => {
          const found = await grantry.users.get(CLI, side, ref);
          out.result(userJson(side, found), () => describeUserLong(side, found));
        });
      }),
    );

  user
    .command('delete')
    .description('delete a user with their sessions, grants and tokens (refused while they own clients, and for the last admin)')
    .addOption(sideOption())
    .argument('<user>', 'user id, username (back office) or email')
    .option('--yes', 'really delete: required, since nothing brings the user back')
    .addOption(jsonOption('{"deleted": true, "user": {...}}'))
    .action(
      action(async (out, cmd) => {
        const { side, yes } = cmd.opts<{ side: SideName; yes?: boolean }>();
        const ref = cmd.processedArgs[0] as string;
        if (!yes) throw usageError(`deleting a user cannot be undone: add --yes to delete ${side} user "${ref}"`);
        const config = loadCliConfig(cmd);
        await withGrantry(out, config, async (grantry) => {
          const deleted = await grantry.users.delete(CLI, side, ref);
          out.result({ deleted: true, user: userJson(side, deleted) }, () => `Deleted ${describeUser(side, deleted)} with their sessions, grants and tokens.`);
        });
      }),
    );

  user
    .command('set-password')
    .description("set a user's password (read from the first line of stdin, or prompted for twice on a terminal); ends their sessions and revokes their tokens")
    .addOption(sideOption())
    .argument('<user>', 'user id, username (back office) or email')
    .addOption(jsonOption('the user'))
    .addHelpText('after', '\nThe password is never accepted as an option. Example:\n  printf "%s\\n" "$PASSWORD" | grantry user set-password --side backoffice alice')
    .action(
      action(async (out, cmd) => {
        const { side } = cmd.opts<{ side: SideName }>();
        const ref = cmd.processedArgs[0] as string;
        const config = loadCliConfig(cmd);
        const password = await readNewPassword();
        await withGrantry(out, config, async (grantry) => {
          const updated = await grantry.users.setPassword(CLI, side, ref, password);
          out.result(userJson(side, updated), () => `Set the password of ${describeUser(side, updated)}; their sessions and tokens have ended.`);
        });
      }),
    );

  const adminCommand = (name: string, value: boolean, description: string) =>
    user
      .command(name)
      .description(description)
      .argument('<user>', 'back-office user id, username or email')
      .addOption(jsonOption('the updated user'))
      .action(
        action(async (out, cmd) => {
          const ref = cmd.processedArgs[0] as string;
          const config = loadCliConfig(cmd);
          await withGrantry(out, config, async (grantry) => {
            const updated = await grantry.users.setAdmin(CLI, ref, value);
            out.result(userJson('backoffice', updated), () => `Updated ${describeUser('backoffice', updated)}.`);
          });
        }),
      );
  adminCommand('grant-admin', true, 'give a back-office user the admin role');
  adminCommand('revoke-admin', false, 'take the admin role from a back-office user (never from the last active admin)');

  flagCommand('disable', 'enabled', false, 'disable a user: no new sign-in, and their access tokens stop working');
  flagCommand('enable', 'enabled', true, 'enable a disabled user again');
  flagCommand('lock', 'locked', true, 'lock a back-office user (storefront users can only be disabled)');
  flagCommand('unlock', 'locked', false, 'unlock a locked back-office user');
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

function describeUserLong(side: SideName, user: AnyUser): string[] {
  const lines = [`id          ${user.id}`, `side        ${side}`];
  if ('username' in user) lines.push(`username    ${user.username}`);
  lines.push(`email       ${user.email}`);
  if ('firstName' in user) lines.push(`name        ${[user.firstName, user.lastName].filter(Boolean).join(' ') || '(none)'}`);
  if ('isAdmin' in user) lines.push(`admin       ${yesNo(user.isAdmin)}`);
  lines.push(`enabled     ${yesNo(user.enabled)}`);
  if ('locked' in user) lines.push(`locked      ${yesNo(user.locked)}`);
  lines.push(`created     ${isoTime(user.createdAt)}`, `updated     ${isoTime(user.updatedAt)}`);
  return lines;
}
