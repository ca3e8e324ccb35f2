/**
 * `grantry token revoke`: operator revocation. One token of any client (read from stdin by
 * default, so that it does not land in the shell history), or every grant of a client or of a
 * user, with all the access and refresh tokens descending from them.
 */
import { type Command, Option } from 'commander';
import { SIDE_NAMES, type SideName } from '../../oauth/sides.js';
import { loadCliConfig, withGrantry } from '../context.js';
import { action, CliError, usageError } from '../output.js';
import { readSecretLine } from '../password.js';
import { CLI } from '../../management/principal.js';
import { revokeToken } from '../../management/tokens.js';

const ONE_OF = 'give exactly one of TOKEN (or - / nothing to read it from stdin), --client CLIENT_ID or --user USER --side SIDE';

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('revoke issued tokens');

  token
    .command('revoke')
    .description('revoke one access or refresh token of any client, or every grant (all tokens) of a client or of a user')
    .argument('[token]', 'the access token (JWT) or refresh token; omitted or -: the first line of stdin (or a prompt on a terminal)')
    .option('--client <client_id>', 'revoke every grant of this client')
    .option('--user <user>', 'revoke every grant of this user: id, username (back office) or email; needs --side')
    .addOption(new Option('--side <side>', 'the side of --user').choices(SIDE_NAMES))
    .option('--json', 'print {"revoked": "access_token" | "refresh_token"} or {"revoked_grants": n} on stdout')
    .addHelpText(
      'after',
      '\nRevoking a refresh token revokes its whole grant: every access and refresh token of the same\n' +
        'authorization. Revoked access tokens are refused by the API on their next request.\n' +
        'Examples:\n' +
        '  printf "%s\\n" "$TOKEN" | grantry token revoke\n' +
        '  grantry token revoke -- "$TOKEN"      (after --, a token may start with -)\n' +
        '  grantry token revoke --client CLIENT_ID\n' +
        '  grantry token revoke --user alice --side backoffice',
    )
    .action(
      action(async (out, cmd) => {
        const argument = cmd.processedArgs[0] as string | undefined;
        const o = cmd.opts<{ client?: string; user?: string; side?: SideName }>();
        const given = [argument !== undefined, o.client !== undefined, o.user !== undefined].filter(Boolean).length;
        if (given > 1) throw usageError(ONE_OF);
        if (o.user !== undefined && o.side === undefined) throw usageError('--user needs --side (backoffice or storefront)');
        if (o.side !== undefined && o.user === undefined) throw usageError('--side goes with --user');
        const config = loadCliConfig(cmd);
        const now = () => Math.floor(Date.now() / 1000);

        if (o.client !== undefined) {
          const clientId = o.client;
          await withGrantry(out, config, async (grantry) => {
            const client = await grantry.clients.get(CLI, clientId);
            const count = await grantry.clients.revokeTokens(CLI, clientId);
            out.result({ revoked_grants: count }, () => `Revoked ${count} grant(s) of ${client.side} client ${client.clientId} ("${client.name}") with all their tokens.`);
          });
          return;
        }
        if (o.user !== undefined) {
          const [ref, side] = [o.user, o.side as SideName];
          await withGrantry(out, config, async (grantry) => {
            const { user, grants: count } = await grantry.users.revokeTokens(CLI, side, ref);
            out.result({ revoked_grants: count }, () => `Revoked ${count} grant(s) of ${side} user ${user.id} with all their tokens.`);
          });
          return;
        }

        const value = (argument === undefined || argument === '-' ? await readSecretLine('Token: ') : argument)?.trim();
        if (!value) throw usageError(`no token on standard input; ${ONE_OF}`);
        await withGrantry(out, config, async (grantry) => {
          // Revoked and recorded (with the token's side, user and client) in src/management.
          const revoked = await revokeToken(grantry, CLI, value, now());
          if (!revoked) {
            throw new CliError('unknown token: neither an access token signed by a published key nor a known refresh token', 'not_found');
          }
          out.result({ revoked: revoked.type }, () =>
            revoked.type === 'access_token' ? 'Revoked the access token.' : 'Revoked the refresh token with its grant: every access and refresh token of that authorization.',
          );
        });
      }),
    );
}
