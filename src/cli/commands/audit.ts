/** `grantry audit list`: the audit trail, newest first. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { AUDIT_KINDS } from '../../management/audit.js';
import { CLI } from '../../management/principal.js';
import { SIDE_NAMES, type SideName } from '../../oauth/sides.js';
import type { AuditEvent } from '../../storage/repositories.js';
import { loadCliConfig, withGrantry } from '../context.js';
import { action, isoTime, type JsonObject, table, usageError } from '../output.js';

const positiveInt = (max: number) => (raw: string) => {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`must be a whole number from 1 to ${max}`);
  return n;
};

export const auditEventJson = (e: AuditEvent): JsonObject => ({
  id: e.id,
  at: isoTime(e.at),
  kind: e.kind,
  actor: e.actor,
  address: e.address,
  side: e.side,
  user_id: e.userId,
  client_id: e.clientId,
  details: { ...e.details },
});

const detailText = (details: AuditEvent['details']) =>
  Object.entries(details)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ') || '-';

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('read the audit trail of security-relevant events');

  audit
    .command('list')
    .description('list recorded events, newest first')
    .addOption(new Option('--kind <kind>', 'only events of this kind').choices([...AUDIT_KINDS]))
    .addOption(new Option('--side <side>', 'the side of --user (alone: only events of that side)').choices(SIDE_NAMES))
    .option('--user <user>', 'only events about this user: id, username (back office) or email; needs --side')
    .option('--client <client_id>', 'only events about this client')
    .option('--page <n>', 'page number', positiveInt(1_000_000), 1)
    .option('--size <n>', 'events per page', positiveInt(1000), 50)
    .option('--json', 'print {"events": [...], "total", "page", "size"} on stdout')
    .action(
      action(async (out, cmd) => {
        const o = cmd.opts<{ kind?: string; side?: SideName; user?: string; client?: string; page: number; size: number }>();
        if (o.user !== undefined && o.side === undefined) throw usageError('--user needs --side (backoffice or storefront)');
        const config = loadCliConfig(cmd);
        await withGrantry(out, config, async (grantry) => {
          // A deleted user is no longer found by name, but their events stay: an id is taken as it is.
          let userId: number | undefined;
          if (o.user !== undefined) {
            userId = /^\d+$/.test(o.user) && Number.isSafeInteger(Number(o.user)) ? Number(o.user) : (await grantry.users.get(CLI, o.side as SideName, o.user)).id;
          }
          const page = await grantry.audit.list(CLI, { kind: o.kind, side: o.side, userId, clientId: o.client, page: o.page, size: o.size });
          out.result({ events: page.items.map(auditEventJson), total: page.total, page: o.page, size: o.size }, () => {
            const summary = `${page.items.length} of ${page.total} event(s)${page.total > o.size ? ` (page ${o.page}, --size ${o.size})` : ''}`;
            if (page.items.length === 0) return summary;
            const rows = table(
              ['AT', 'KIND', 'ACTOR', 'ADDRESS', 'SIDE', 'USER', 'CLIENT', 'DETAILS'],
              page.items.map((e) => [isoTime(e.at), e.kind, e.actor, e.address ?? '-', e.side ?? '-', e.userId === null ? '-' : String(e.userId), e.clientId ?? '-', detailText(e.details)]),
            );
            return [...rows, '', summary];
          });
        });
      }),
    );
}
