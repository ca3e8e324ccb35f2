/**
 * `grantry client ...`: OAuth clients. Secrets are shown once, at creation or rotation, and
 * never again.
 */
import { type Command, Option } from 'commander';
import type { Grantry } from '../../app.js';
import { SIGNING_ALGORITHMS } from '../../config/index.js';
import { SIDE_NAMES, type SideName } from '../../oauth/sides.js';
import type { ClientUpdate } from '../../management/clients.js';
import { type Client, type ClientType, GRANT_TYPES, SUBJECT_TYPES } from '../../storage/repositories.js';
import { loadCliConfig, warnIfSideDisabled, withGrantry } from '../context.js';
import { action, isoTime, isoTimeOrNull, type JsonObject, type Output, table, usageError } from '../output.js';
import { CLI } from '../../management/principal.js';

/** Repeatable options: every occurrence is added to the list (undefined until the first one). */
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];
const jsonOption = (what: string) => new Option('--json', `print ${what} as one JSON object on stdout`);

/** What --id-token-alg takes for "no algorithm of its own": the server's signing key signs its ID tokens. */
const SERVER_ALG = 'server';
const idTokenAlgOption = (serverNote: string) =>
  new Option('--id-token-alg <alg>', `algorithm of its OpenID Connect ID tokens; ${SERVER_ALG}: that of the server's signing key ${serverNote}`).choices([...SIGNING_ALGORITHMS, SERVER_ALG]);
const subjectTypeOption = (defaultNote: string) =>
  new Option('--subject-type <type>', `the user identifier (sub) its ID tokens carry: public, the same for every client of the side${defaultNote}, or pairwise, one for this client only`).choices(SUBJECT_TYPES);
const postLogoutHelp = 'where OpenID Connect sign-out may send the browser back to, repeatable; the rule of --redirect-uri; authorization_code clients only';

/** The client without its secret hash: that never leaves the database. */
export function clientJson(client: Client): JsonObject {
  return {
    client_id: client.clientId,
    name: client.name,
    side: client.side,
    type: client.type,
    grants: [...client.grants],
    redirect_uris: [...client.redirectUris],
    post_logout_redirect_uris: [...client.postLogoutRedirectUris],
    scopes: [...client.scopes],
    owner_user_id: client.ownerUserId,
    allow_guests: client.allowGuests,
    skip_consent: client.skipConsent,
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    subject_type: client.subjectType,
    active: client.active,
    created_at: isoTime(client.createdAt),
    updated_at: isoTime(client.updatedAt),
    last_used_at: isoTimeOrNull(client.lastUsedAt),
  };
}

function describeClient(client: Client): string[] {
  const rows: [string, string | string[]][] = [
    ['client_id', client.clientId],
    ['name', client.name],
    ['side', client.side],
    ['type', client.type],
    ['grants', client.grants.join(', ')],
    ['redirect URIs', client.redirectUris.length ? client.redirectUris : '(none)'],
    ['post-logout URIs', client.postLogoutRedirectUris.length ? client.postLogoutRedirectUris : '(none)'],
    ['scopes', client.scopes.join(' ') || '(none)'],
    ['owner user', String(client.ownerUserId ?? '(none)')],
    ['allow guests', yesNo(client.allowGuests)],
    ['skip consent', yesNo(client.skipConsent)],
    ['ID token alg', client.idTokenSignedResponseAlg ?? `${SERVER_ALG} (the server's signing key)`],
    ['subject type', client.subjectType],
    ['active', yesNo(client.active)],
    ['created', isoTime(client.createdAt)],
    ['last used', isoTimeOrNull(client.lastUsedAt) ?? 'never'],
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  // A list goes one item a line, each under the first.
  return rows.map(([label, value]) => label.padEnd(width) + (Array.isArray(value) ? value.join(`\n${' '.repeat(width)}`) : value));
}

export function registerClientCommands(program: Command): void {
  const client = program.command('client').description('manage OAuth clients');

  client
    .command('create')
    .description('register a client; a confidential client\'s secret is printed once')
    .addOption(new Option('--side <side>', 'the side whose users and API the client reaches').choices(SIDE_NAMES).makeOptionMandatory())
    .requiredOption('--name <name>', 'display name, unique per side')
    .addOption(new Option('--type <type>', 'confidential (has a secret) or public (PKCE only)').choices(['confidential', 'public']).makeOptionMandatory())
    .option('--grant <grant>', `grant type, repeatable: ${GRANT_TYPES.join(', ')}`, collect)
    .option('--redirect-uri <uri>', 'redirect URI, repeatable; https, loopback http or a private-use scheme (required with authorization_code)', collect)
    .option('--scope <scope>', 'a scope the client may be granted, repeatable (default: the configured default_scope)', collect)
    .option('--owner <user>', 'owner user the client acts as with client_credentials (required there): id, username (back office) or email of a user of the side')
    .option('--allow-guests', 'storefront, authorization_code only: may get guest tokens without login')
    .option('--skip-consent', 'do not ask users to consent (first-party clients)')
    .option('--post-logout-redirect-uri <uri>', postLogoutHelp, collect)
    .addOption(idTokenAlgOption('(the default)'))
    .addOption(subjectTypeOption(' (the default)'))
    .addOption(jsonOption('the client, with client_secret for a confidential client,'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  grantry client create --side backoffice --name Console --type confidential --grant authorization_code --grant refresh_token --redirect-uri https://console.example/cb\n' +
        '  grantry client create --side backoffice --name Importer --type confidential --grant client_credentials --owner ops --scope api',
    )
    .action(
      action(async (out, cmd) => {
        const o = cmd.opts<{
          side: SideName;
          name: string;
          type: ClientType;
          grant?: string[];
          redirectUri?: string[];
          scope?: string[];
          owner?: string;
          allowGuests?: boolean;
          skipConsent?: boolean;
          postLogoutRedirectUri?: string[];
          idTokenAlg?: string;
          subjectType?: string;
        }>();
        if (!o.grant) throw usageError(`give at least one --grant (${GRANT_TYPES.join(', ')})`);
        const config = loadCliConfig(cmd);
        await withGrantry(out, config, async (grantry) => {
          warnIfSideDisabled(out, grantry, o.side);
          const { client: created, clientSecret } = await grantry.clients.create(CLI, {
            side: o.side,
            name: o.name,
            type: o.type,
            grants: o.grant as string[],
            redirectUris: o.redirectUri ?? [],
            skipConsent: o.skipConsent ?? false,
            scopes: o.scope,
            owner: o.owner,
            allowGuests: o.allowGuests ?? false,
            postLogoutRedirectUris: o.postLogoutRedirectUri ?? [],
            idTokenSignedResponseAlg: o.idTokenAlg === SERVER_ALG ? null : o.idTokenAlg,
            subjectType: o.subjectType,
          });
          printWithSecret(out, created, clientSecret, `Created ${created.type} ${created.side} client "${created.name}".`);
        });
      }),
    );

  client
    .command('update')
    .description('change a client\'s settings; options not given keep their value, a repeatable option given replaces the whole list')
    .argument('<client_id>')
    .option('--name <name>', 'display name, unique per side')
    .option('--grant <grant>', `grant type, repeatable: ${GRANT_TYPES.join(', ')}`, collect)
    .option('--redirect-uri <uri>', 'redirect URI, repeatable', collect)
    .option('--scope <scope>', 'a scope the client may be granted, repeatable', collect)
    .option('--owner <user>', 'owner user for client_credentials: id, username (back office) or email')
    .option('--skip-consent', 'do not ask users to consent')
    .option('--no-skip-consent', 'ask users to consent')
    .option('--allow-guests', 'storefront only: may get guest tokens without login')
    .option('--no-allow-guests', 'no guest tokens')
    .option('--post-logout-redirect-uri <uri>', postLogoutHelp, collect)
    .addOption(new Option('--no-post-logout-redirect-uris', 'remove every post-logout redirect URI').conflicts('postLogoutRedirectUri'))
    .addOption(idTokenAlgOption('again'))
    .addOption(subjectTypeOption(''))
    .addOption(jsonOption('the updated client'))
    .action(
      action(async (out, cmd) => {
        const clientId = cmd.processedArgs[0] as string;
        const o = cmd.opts<{
          name?: string;
          grant?: string[];
          redirectUri?: string[];
          scope?: string[];
          owner?: string;
          skipConsent?: boolean;
          allowGuests?: boolean;
          postLogoutRedirectUri?: string[];
          /** false with --no-post-logout-redirect-uris (commander's default for a lone --no- option is true). */
          postLogoutRedirectUris: boolean;
          idTokenAlg?: string;
          subjectType?: string;
        }>();
        const changes: ClientUpdate = {
          name: o.name,
          grants: o.grant,
          redirectUris: o.redirectUri,
          scopes: o.scope,
          owner: o.owner,
          skipConsent: o.skipConsent,
          allowGuests: o.allowGuests,
          postLogoutRedirectUris: o.postLogoutRedirectUris === false ? [] : o.postLogoutRedirectUri,
          idTokenSignedResponseAlg: o.idTokenAlg === SERVER_ALG ? null : o.idTokenAlg,
          subjectType: o.subjectType,
        };
        if (Object.values(changes).every((v) => v === undefined)) {
          throw usageError(
            'nothing to change: give at least one of --name, --grant, --redirect-uri, --scope, --owner, --[no-]skip-consent, --[no-]allow-guests, --post-logout-redirect-uri (or --no-post-logout-redirect-uris), --id-token-alg, --subject-type',
          );
        }
        const config = loadCliConfig(cmd);
        await withGrantry(out, config, async (grantry) => {
          const updated = await grantry.clients.update(CLI, clientId, changes);
          out.result(clientJson(updated), () => [`Updated client ${updated.clientId}.`, '', ...describeClient(updated)]);
        });
      }),
    );

  client
    .command('rotate-secret')
    .description('give a confidential client a new secret, printed once; the old secret stops working at once')
    .argument('<client_id>')
    .addOption(jsonOption('the client with its new client_secret'))
    .action(
      action(async (out, cmd) => {
        const clientId = cmd.processedArgs[0] as string;
        const config = loadCliConfig(cmd);
        await withGrantry(out, config, async (grantry) => {
          const { client: rotated, clientSecret } = await grantry.clients.rotateSecret(CLI, clientId);
          printWithSecret(out, rotated, clientSecret, `New secret for ${rotated.side} client "${rotated.name}"; the previous one no longer works.`);
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
        await withGrantry(out, config, async (grantry) => {
          const clients = await allClients(grantry, side);
          out.result({ clients: clients.map(clientJson) }, () => {
            if (clients.length === 0) return 'No clients.';
            return table(
              ['CLIENT_ID', 'SIDE', 'TYPE', 'ACTIVE', 'SCOPES', 'OWNER', 'GUESTS', 'NAME'],
              clients.map((c) => [c.clientId, c.side, c.type, yesNo(c.active), c.scopes.join(',') || '-', c.ownerUserId === null ? '-' : String(c.ownerUserId), yesNo(c.allowGuests), c.name]),
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
          await withGrantry(out, config, async (grantry) => {
            const found = await run(grantry, clientId);
            out.result(clientJson(found), () => (verb ? [`${verb} client ${found.clientId}.`, ''] : []).concat(describeClient(found)));
          });
        }),
      );

  byIdCommand('show', 'show one client (its secret is never shown)', (g, id) => g.clients.get(CLI, id), '');
  byIdCommand('activate', 'let a deactivated client obtain tokens again', (g, id) => g.clients.setActive(CLI, id, true), 'Activated');
  byIdCommand('deactivate', 'stop a client: no new codes or tokens, and its access tokens stop working', (g, id) => g.clients.setActive(CLI, id, false), 'Deactivated');

  client
    .command('delete')
    .description('delete a client with its grants, codes and tokens')
    .argument('<client_id>')
    .addOption(jsonOption('{"deleted": true, "client_id"}'))
    .action(
      action(async (out, cmd) => {
        const clientId = cmd.processedArgs[0] as string;
        const config = loadCliConfig(cmd);
        await withGrantry(out, config, async (grantry) => {
          await grantry.clients.delete(CLI, clientId);
          out.result({ deleted: true, client_id: clientId }, () => `Deleted client ${clientId} with its grants, codes and tokens.`);
        });
      }),
    );
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

/** Every client (of a side), page after page: the operator's list has no paging. */
async function allClients(grantry: Grantry, side: SideName | undefined): Promise<Client[]> {
  const clients: Client[] = [];
  for (let page = 1; ; page += 1) {
    const { items, total } = await grantry.clients.list(CLI, { side, page, size: 1000 });
    clients.push(...items);
    if (items.length === 0 || clients.length >= total) return clients;
  }
}

/** create and rotate-secret: the client with its secret (if any), which is never shown again. */
function printWithSecret(out: Output, client: Client, clientSecret: string | undefined, headline: string): void {
  if (clientSecret) out.warn('the client secret is shown only this once; store it now, it cannot be retrieved later');
  const base = clientJson(client);
  // client_secret right after client_id; spreading keeps that key order.
  const json: JsonObject = clientSecret ? { client_id: client.clientId, client_secret: clientSecret, ...base } : base;
  out.result(json, () => [
    headline,
    `  client_id      ${client.clientId}`,
    ...(clientSecret ? [`  client_secret  ${clientSecret}   (shown only this once)`] : []),
    `  grants         ${client.grants.join(', ')}`,
    `  scopes         ${client.scopes.join(' ') || '(none)'}`,
    `  owner user     ${client.ownerUserId ?? '(none)'}`,
    `  allow guests   ${yesNo(client.allowGuests)}`,
  ]);
}
