/** Console pages of the signing keys and the audit trail. */
import type { AuditEvent, StoredSigningKey } from '../../../storage/repositories.js';
import { html } from '../html.js';
import { type Cell, csrfField, errorSummary, fieldError, type FieldErrors, invalid, pager, table, whenCell } from './common.js';
import { type ConsoleFrame, consoleLayout } from './layout.js';

const STATE_TEXT: Record<string, string> = {
  signing: 'signing new tokens',
  pending: 'published, signs later',
  retiring: 'replaced, still verifies',
  expired: 'no longer published',
};

export function keysPage(
  frame: ConsoleFrame,
  input: { root: string; keys: Array<{ key: StoredSigningKey; state: string }>; algorithms: readonly string[]; values: { alg: string; delay: string }; errors: FieldErrors; notice?: string },
): string {
  const rows = input.keys.map(({ key, state }): Cell[] => [
    { value: key.kid, className: 'id' },
    key.alg,
    STATE_TEXT[state] ?? state,
    whenCell(key.createdAt),
    whenCell(key.activatesAt),
    whenCell(key.publishedUntil, '—'),
  ]);
  return consoleLayout(
    frame,
    'Signing keys',
    html`${table('Signing keys', ['Key id', 'Algorithm', 'State', 'Created', 'Signs from', 'Published until'], rows, 'No signing key.')}
<h2>Rotate</h2>
${errorSummary(input.errors)}
<form class="panel" method="post" action="${input.root}/rotate" novalidate>
${csrfField(frame.csrfToken)}
<p class="muted">A new key is published at once and signs new tokens after the delay, so that clients caching the published keys learn it first. The current key keeps verifying the tokens it signed until they expire.</p>
<label for="alg">Algorithm</label>
<select id="alg" name="alg"${invalid(input.errors, 'alg')}>${input.algorithms.map((a) => html`<option value="${a}"${a === input.values.alg ? html` selected` : ''}>${a}</option>`)}</select>
${fieldError(input.errors, 'alg')}
<label for="delay">Delay before it signs (seconds)</label>
<input id="delay" name="delay" type="text" inputmode="numeric" value="${input.values.delay}"${invalid(input.errors, 'delay')}>
${fieldError(input.errors, 'delay')}
<div class="actions"><button class="primary" type="submit">Rotate the signing key</button></div>
</form>`,
    { nav: 'keys', notice: input.notice },
  );
}

export interface AuditFilters {
  kind?: string;
  side?: string;
  user?: string;
  client?: string;
}

export function auditPage(
  frame: ConsoleFrame,
  input: { root: string; events: AuditEvent[]; kinds: readonly string[]; sides: readonly string[]; filters: AuditFilters; page: number; total: number; error?: string },
): string {
  const { filters } = input;
  const rows = input.events.map((e): Cell[] => [
    whenCell(e.at),
    e.kind,
    e.actor,
    e.address ?? '—',
    e.side ? `${e.side}${e.userId !== null ? ` user ${e.userId}` : ''}` : '—',
    e.clientId ? { value: e.clientId, className: 'id' } : '—',
    // Values such as changed=name,grants,redirectUris are one long word: let them break.
    { value: Object.entries(e.details).map(([k, v]) => `${k}=${String(v)}`).join(' '), className: 'wrap' },
  ]);
  const opt = (value: string, label: string, selected: string | undefined) => html`<option value="${value}"${value === (selected ?? '') ? html` selected` : ''}>${label}</option>`;
  return consoleLayout(
    frame,
    'Audit trail',
    html`<form class="panel filters" method="get" action="${input.root}" role="search" aria-label="Filter events">
<div><label for="f-kind">Event</label><select id="f-kind" name="kind">${opt('', 'Any', filters.kind)}${input.kinds.map((k) => opt(k, k, filters.kind))}</select></div>
<div><label for="f-side">Side of the user</label><select id="f-side" name="side">${opt('', 'Any', filters.side)}${input.sides.map((s) => opt(s, s, filters.side))}</select></div>
<div><label for="f-user">User id</label><input id="f-user" name="user" type="text" inputmode="numeric" value="${filters.user ?? ''}"></div>
<div class="grow"><label for="f-client">Client ID</label><input id="f-client" name="client" type="text" value="${filters.client ?? ''}"></div>
<div class="actions"><button class="secondary" type="submit">Filter</button></div>
</form>
${input.error ? html`<p class="error" role="alert">${input.error}</p>` : ''}
${table('Events, newest first', ['When', 'Event', 'By', 'Address', 'User', 'Client', 'Details'], rows, 'No event matches.')}
${pager(input.root, { ...filters }, input.page, input.total)}`,
    { nav: 'audit' },
  );
}
