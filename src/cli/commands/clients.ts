/** `grantry client ...`: OAuth clients. Secrets are shown once, at creation, and never again. */
import { type Command, Option } from 'commander';
import type { Grantry } from '../../app.js';
import { SIDE_NAMES, type SideName } from '../../oauth/sides.js';
import { type Client, type ClientType, GRANT_TYPES } from '../../storage/repositories.js';
import { loadCliConfig, warnIfSideDisabled, withGrantry } from '../context.js';
import { action, isoTime, isoTimeOrNull, type JsonObject, table, usageError } from '../output.js';

const collect = (value: string, previous: string[]) => [...previous, value];
const jsonOption = (what: string) => new Option('--json', `print ${what} as one JSON object on stdout`);

/** The client without its secret hash: that never leaves the database. */
export function clientJson(client: Client): JsonObject {
  return {
    client_id: client.clientId,
    name: client.name,
    side: client.side,
    type: client.type,
    grants: [...client.grants],
    redirect_uris: [...client.redirectUris],
    skip_consent: client.skipConsent,
    active: client.active,
    created_at: isoTime(client.createdAt),
    updated_at: isoTime(client.updatedAt),
    last_used_at: isoTimeOrNull(client.lastUsedAt),
  };
}

function describeClient(client: Client): string[] {
  return [
    `client_id      ${client.clientId}`,
    `name           ${client.name}`,
    `side           ${client.side}`,
    `type           ${client.type}`,
    `grants         ${client.grants.join(', ')}`,
    `redirect URIs  ${client.redirectUris.join('\n               ') || '(none)'}`,
    `skip consent   ${client.skipConsent ? 'yes' : 'no'}`,
    `active         ${client.active ? 'yes' : 'no'}`,
    `created        ${isoTime(client.createdAt)}`,
    `last used      ${isoTimeOrNull(client.lastUsedAt) ?? 'never'}`,
  ];
}

export function registerClientCommands(program: Command): void {
  const client = program.command('client').description('manage OAuth clients');

  client
    .command('create')
    .description('register a client; a confidential client\'s secret is printed once')
    .addOption(new Option('--side <side>', 'the side whose users and API the client reaches').choices(SIDE_NAMES).makeOptionMandatory())
    .requiredOption('--name <name>', 'display name, unique per side')
    .addOption(new Option('--type <type>', 'confidential (has a secret) or public (PKCE only)').choices(['confidential', 'public']).makeOptionMandatory())
    .option('--grant <grant>', `grant type, repeatable (${GRANT_TYPES.join(', ')})`, collect, [])
    .option('--redirect-uri <uri>', 'redirect URI, repeatable; https, loopback http or a private-use scheme', collect, [])
    .option('--skip-consent', 'do not ask users to consent (first-party clients)')
    .addOption(jsonOption('the client, with client_secret for a confidential client,'))
    .action(
      action(async (out, cmd) => {
        const o = cmd.opts<{ side: SideName; name: string; type: ClientType; grant: string[]; redirectUri: string[]; skipConsent?: boolean }>();
        if (o.grant.length === 0) throw usageError(`give at least one --grant (${GRANT_TYPES.join(', ')})`);
        const config = loadCliConfig(cmd);
        await withGrantry(config, async (grantry) => {
          warnIfSideDisabled(out, grantry, o.side);
          const { client: created, clientSecret } = await grantry.clients.create({
            side: o.side,
            name: o.name,
            type: o.type,
            grants: o.grant,
            redirectUris: o.redirectUri,
            skipConsent: o.skipConsent ?? false,
          });
          if (clientSecret) out.warn('the client secret is shown only this once; store it now, it cannot be retrieved later');
          const base = clientJson(created);
          // client_secret right after client_id; spreading keeps that key order.
          const json: JsonObject = clientSecret ? { client_id: created.clientId, client_secret: clientSecret, ...base } : base;
          out.result(json, () => [
            `Created ${created.type} ${created.side} client "${created.name}".`,
            `  client_id      ${created.clientId}`,
            ...(clientSecret ? [`  client_secret  ${clientSecret}   (shown only this once)`] : []),
          ]);
        });
      }),
    );

  client
    .command('list')
    .description('list clients (secrets are never shown)')
    .addOption(new Option('--side <side>', 'only the clients of this side').choices(SIDE_NAMES))
    .addOption(jsonOption('{"clients": [...]}'))
    .action(
      action(async (out, cmd) => {
        const { side } = cmd.opts<{ side?: SideName }>();
        const config = loadCliConfig(cmd);
        await withGrantry(config, async (grantry) => {
          const clients = await grantry.clients.list(side);
          out.result({ clients: clients.map(clientJson) }, () => {
            if (clients.length === 0) return 'No clients.';
            return table(
              ['CLIENT_ID', 'SIDE', 'TYPE', 'ACTIVE', 'NAME'],
              clients.map((c) => [c.clientId, c.side, c.type, c.active ? 'yes' : 'no', c.name]),
            );
          });
        });
      }),
    );

  const byIdCommand = (name: string, description: string, run: (grantry: Grantry, clientId: string) => Promise<Client>, verb: string) =>
    client
      .command(name)
      .description(description)
      .argument('<client_id>')
      .addOption(jsonOption('the client'))
      .action(
        action(async (out, cmd) => {
          const clientId = cmd.processedArgs[0] as string;
          const config = loadCliConfig(cmd);
          await withGrantry(config, async (grantry) => {
            const found = await run(grantry, clientId);
            out.result(clientJson(found), () => (verb ? [`${verb} client ${found.clientId}.`, ''] : []).concat(describeClient(found)));
          });
        }),
      );

  byIdCommand('show', 'show one client (its secret is never shown)', (g, id) => g.clients.get(id), '');
  byIdCommand('activate', 'let a deactivated client obtain tokens again', (g, id) => g.clients.setActive(id, true), 'Activated');
  byIdCommand('deactivate', 'stop a client: no new codes or tokens, and its access tokens stop working', (g, id) => g.clients.setActive(id, false), 'Deactivated');

  client
    .command('delete')
    .description('delete a client with its grants, codes and tokens')
    .argument('<client_id>')
    .addOption(jsonOption('{"deleted": true, "client_id"}'))
    .action(
      action(async (out, cmd) => {
        const clientId = cmd.processedArgs[0] as string;
        const config = loadCliConfig(cmd);
        await withGrantry(config, async (grantry) => {
          await grantry.clients.delete(clientId);
          out.result({ deleted: true, client_id: clientId }, () => `Deleted client ${clientId} with its grants, codes and tokens.`);
        });
      }),
    );
}
