/** Console pages of OAuth applications (clients): list, form, details, one-time secret. */
import type { Client, SubjectType } from '../../../storage/repositories.js';
import { html } from '../html.js';
import { badge, type Cell, csrfField, errorSummary, fieldError, type FieldErrors, invalid, pager, postButton, table, when, whenCell, yesNo } from './common.js';
import { type ConsoleFrame, consoleLayout, type NavKey } from './layout.js';

const SIDE_LABEL = { backoffice: 'Back office', storefront: 'Storefront' } as const;
const GRANT_LABEL: Record<string, string> = {
  authorization_code: 'Authorization code',
  refresh_token: 'Refresh token',
  client_credentials: 'Client credentials',
  password: 'Password (legacy)',
};
const SUBJECT_LABEL: Record<SubjectType, string> = {
  public: 'Public: the same for every application of the side',
  pairwise: 'Pairwise: one for this application only',
};
/** The ID token signature when the application chose none. */
const SERVER_ALG_LABEL = 'Server default (the current signing key)';

/**
 * Where an applications page lives: the admin's list of every application, or "My
 * applications" (the signed-in user's own). Same pages, different root and wording.
 */
export interface AppSection {
  mine: boolean;
  /** e.g. /admin/console/applications or /admin/console/my/applications */
  root: string;
  title: string;
  nav: NavKey;
}

export interface ClientRow {
  client: Client;
  ownerName: string | undefined;
}

export interface ListFilters {
  side?: string;
  type?: string;
  grant?: string;
  active?: string;
  q?: string;
}

function option(value: string, label: string, selected: string | undefined) {
  return html`<option value="${value}"${value === (selected ?? '') ? html` selected` : ''}>${label}</option>`;
}

export function applicationsListPage(
  frame: ConsoleFrame,
  input: { section: AppSection; rows: ClientRow[]; filters: ListFilters; page: number; total: number; grantTypes: readonly string[]; notice?: string; sides: readonly string[] },
): string {
  const { section, filters } = input;
  const rows = input.rows.map(({ client, ownerName }): Cell[] => [
    html`<a href="${section.root}/${client.clientId}">${client.name}</a>`,
    ...(section.mine ? [] : [SIDE_LABEL[client.side]]),
    { value: client.clientId, className: 'id' },
    client.type,
    client.grants.map((g) => GRANT_LABEL[g] ?? g).join(', '),
    ...(section.mine ? [] : [ownerName ?? '—']),
    badge(client.active, 'active', 'inactive'),
    whenCell(client.createdAt),
    whenCell(client.lastUsedAt),
  ]);
  const headers = section.mine
    ? ['Name', 'Client ID', 'Type', 'Grants', 'State', 'Created', 'Last used']
    : ['Name', 'Side', 'Client ID', 'Type', 'Grants', 'Owner', 'State', 'Created', 'Last used'];
  return consoleLayout(
    frame,
    section.title,
    html`<div class="actions"><a class="button primary" href="${section.root}/new">New application</a></div>
<form class="panel filters" method="get" action="${section.root}" role="search" aria-label="Filter applications">
<div class="grow"><label for="q">Name or client ID</label><input id="q" name="q" type="search" value="${filters.q ?? ''}"></div>
${section.mine || input.sides.length < 2
  ? ''
  : html`<div><label for="f-side">Side</label><select id="f-side" name="side">${option('', 'Any', filters.side)}${input.sides.map((s) => option(s, SIDE_LABEL[s as keyof typeof SIDE_LABEL] ?? s, filters.side))}</select></div>`}
<div><label for="f-type">Type</label><select id="f-type" name="type">${option('', 'Any', filters.type)}${option('confidential', 'Confidential', filters.type)}${option('public', 'Public', filters.type)}</select></div>
<div><label for="f-grant">Grant</label><select id="f-grant" name="grant">${option('', 'Any', filters.grant)}${input.grantTypes.map((g) => option(g, GRANT_LABEL[g] ?? g, filters.grant))}</select></div>
<div><label for="f-active">State</label><select id="f-active" name="active">${option('', 'Any', filters.active)}${option('yes', 'Active', filters.active)}${option('no', 'Inactive', filters.active)}</select></div>
<div class="actions"><button class="secondary" type="submit">Filter</button></div>
</form>
${table(section.title, headers, rows, 'No application matches.')}
${pager(section.root, { ...filters }, input.page, input.total)}`,
    { nav: section.nav, notice: input.notice },
  );
}

/** What the form shows: what was typed (after an error) or the client's current settings. */
export interface ClientFormValues {
  side: string;
  name: string;
  type: string;
  grants: string[];
  redirectUris: string;
  /** One per line, as in the textarea. */
  postLogoutRedirectUris: string;
  /** '' for the server's signing key. */
  idTokenSignedResponseAlg: string;
  subjectType: string;
  scopes: string[];
  owner: string;
  skipConsent: boolean;
  allowGuests: boolean;
}

export function applicationFormPage(
  frame: ConsoleFrame,
  input: {
    section: AppSection;
    /** The client being edited; undefined on the create form. */
    client?: Client;
    values: ClientFormValues;
    errors: FieldErrors;
    grantTypes: readonly string[];
    scopes: Readonly<Record<string, string>>;
    sides: readonly string[];
    /** The algorithms an ID token may be signed with. */
    algorithms: readonly string[];
    subjectTypes: readonly SubjectType[];
  },
): string {
  const { section, values, errors, client } = input;
  const action = client ? `${section.root}/${client.clientId}/edit` : `${section.root}/new`;
  const title = client ? `Edit ${client.name}` : 'New application';
  const checkbox = (name: string, value: string, checked: boolean, label: string, id: string) =>
    html`<label for="${id}"><input type="checkbox" id="${id}" name="${name}" value="${value}"${checked ? html` checked` : ''}> ${label}</label>`;
  // In "My applications", skipping consent and the legacy password grant are for admins only
  // (ClientManager refuses them): not offered, except one an admin already allowed on this
  // application, shown so that the form sends it back (kept) or the user can drop it.
  const offerSkipConsent = !section.mine || client?.skipConsent === true;
  const grantTypes = input.grantTypes.filter((g) => !section.mine || g !== 'password' || client?.grants.includes('password') === true);
  const options = [
    offerSkipConsent ? checkbox('skip_consent', 'yes', values.skipConsent, 'Skip user consent (first-party applications)', 'skip_consent') : '',
    section.mine ? '' : checkbox('allow_guests', 'yes', values.allowGuests, 'Allow guests (storefront, authorization code): tokens without sign-in', 'allow_guests'),
  ].filter((o) => o !== '');
  return consoleLayout(
    frame,
    title,
    html`${errorSummary(errors)}
<form class="panel" method="post" action="${action}" novalidate>
${csrfField(frame.csrfToken)}
${client
  ? html`<dl class="facts"><dt>Side</dt><dd>${SIDE_LABEL[client.side]}</dd><dt>Type</dt><dd>${client.type}</dd><dt>Client ID</dt><dd><code>${client.clientId}</code></dd></dl>`
  : html`${section.mine || input.sides.length < 2
      ? html`<input type="hidden" name="side" value="${section.mine ? 'backoffice' : (input.sides[0] ?? 'backoffice')}">`
      : html`<fieldset${invalid(errors, 'side')}><legend>Side</legend><div class="checks">
${input.sides.map((s) => html`<label for="side-${s}"><input type="radio" id="side-${s}" name="side" value="${s}"${values.side === s ? html` checked` : ''}> ${SIDE_LABEL[s as keyof typeof SIDE_LABEL] ?? s} users</label>`)}
</div>${fieldError(errors, 'side')}</fieldset>`}
<fieldset${invalid(errors, 'type', 'type-hint')}><legend>Type</legend>
<p class="hint" id="type-hint">Confidential applications run on a server and get a secret; public ones (mobile apps, single-page apps) have none and must use PKCE.</p>
<div class="checks">
<label for="type-confidential"><input type="radio" id="type-confidential" name="type" value="confidential"${values.type !== 'public' ? html` checked` : ''}> Confidential</label>
<label for="type-public"><input type="radio" id="type-public" name="type" value="public"${values.type === 'public' ? html` checked` : ''}> Public</label>
</div>${fieldError(errors, 'type')}</fieldset>`}
<label for="name">Name</label>
<input id="name" name="name" type="text" maxlength="255" required value="${values.name}"${invalid(errors, 'name')}>
${fieldError(errors, 'name')}
<fieldset${invalid(errors, 'grants')}><legend>Grant types</legend><div class="checks">
${grantTypes.map((g) => checkbox('grants', g, values.grants.includes(g), GRANT_LABEL[g] ?? g, `grant-${g}`))}
</div>${fieldError(errors, 'grants')}</fieldset>
<label for="redirect_uris">Redirect URIs</label>
<p class="hint" id="redirect-hint">One per line. https, a loopback address (http://127.0.0.1/…) or an app scheme such as com.example.app:/callback.</p>
<textarea id="redirect_uris" name="redirect_uris" rows="3"${invalid(errors, 'redirectUris', 'redirect-hint')}>${values.redirectUris}</textarea>
${fieldError(errors, 'redirectUris')}
<label for="post_logout_redirect_uris">Post-logout redirect URIs</label>
<p class="hint" id="post-logout-hint">Where the application may send people back after they sign out. One per line, with the same rules as the redirect URIs; only for applications with the authorization code grant.</p>
<textarea id="post_logout_redirect_uris" name="post_logout_redirect_uris" rows="2"${invalid(errors, 'postLogoutRedirectUris', 'post-logout-hint')}>${values.postLogoutRedirectUris}</textarea>
${fieldError(errors, 'postLogoutRedirectUris')}
<label for="id_token_signed_response_alg">ID token signature</label>
<p class="hint" id="alg-hint">The algorithm that signs the ID tokens this application receives. Keep the server default unless the application can check only one kind of signature.</p>
<select id="id_token_signed_response_alg" name="id_token_signed_response_alg"${invalid(errors, 'idTokenSignedResponseAlg', 'alg-hint')}>${option('', SERVER_ALG_LABEL, values.idTokenSignedResponseAlg)}${input.algorithms.map((a) => option(a, a, values.idTokenSignedResponseAlg))}</select>
${fieldError(errors, 'idTokenSignedResponseAlg')}
<label for="subject_type">Subject identifiers</label>
<p class="hint" id="subject-hint">The identifier of each user that the application receives. Pairwise keeps applications from matching their users with each other's. Changing it gives every user a new identifier at this application.</p>
<select id="subject_type" name="subject_type"${invalid(errors, 'subjectType', 'subject-hint')}>${input.subjectTypes.map((t) => option(t, SUBJECT_LABEL[t], values.subjectType))}</select>
${fieldError(errors, 'subjectType')}
<fieldset${invalid(errors, 'scopes')}><legend>Scopes the application may be granted</legend><div class="checks">
${Object.entries(input.scopes).map(([name, description]) => checkbox('scopes', name, values.scopes.includes(name), `${name} — ${description}`, `scope-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`))}
</div>${fieldError(errors, 'scopes')}</fieldset>
${section.mine
  ? html`<p class="hint">With the client credentials grant the application acts as you. Skipping the consent page and the legacy password grant can only be allowed by an administrator.</p>`
  : html`<label for="owner">Owner user (client credentials)</label>
<p class="hint" id="owner-hint">The user the application acts as with the client credentials grant: id, username or email of a user of its side.</p>
<input id="owner" name="owner" type="text" value="${values.owner}"${invalid(errors, 'owner', 'owner-hint')}>
${fieldError(errors, 'owner')}`}
${options.length || errors.skipConsent || errors.allowGuests
  ? html`<fieldset><legend>Options</legend>${options.length ? html`<div class="checks">
${options}
</div>` : ''}${fieldError(errors, 'skipConsent')}${fieldError(errors, 'allowGuests')}</fieldset>`
  : ''}
<div class="actions">
<button class="primary" type="submit">${client ? 'Save changes' : 'Create application'}</button>
<a class="button secondary" href="${client ? `${section.root}/${client.clientId}` : section.root}">Cancel</a>
</div>
</form>`,
    {
      nav: section.nav,
      breadcrumbs: [{ href: section.root, label: section.title }, ...(client ? [{ href: `${section.root}/${client.clientId}`, label: client.name }] : [])],
    },
  );
}

export function applicationPage(frame: ConsoleFrame, input: { section: AppSection; client: Client; ownerName: string | undefined; notice?: string }): string {
  const { section, client } = input;
  const base = `${section.root}/${client.clientId}`;
  return consoleLayout(
    frame,
    client.name,
    html`<div class="panel">
<dl class="facts">
<dt>Client ID</dt><dd><code>${client.clientId}</code></dd>
<dt>Side</dt><dd>${SIDE_LABEL[client.side]}</dd>
<dt>Type</dt><dd>${client.type}</dd>
<dt>State</dt><dd>${badge(client.active, 'active', 'inactive')}</dd>
<dt>Grant types</dt><dd>${client.grants.map((g) => GRANT_LABEL[g] ?? g).join(', ')}</dd>
<dt>Redirect URIs</dt><dd>${client.redirectUris.length ? client.redirectUris.map((u) => html`<code>${u}</code><br>`) : 'none'}</dd>
<dt>Post-logout redirect URIs</dt><dd>${client.postLogoutRedirectUris.length ? client.postLogoutRedirectUris.map((u) => html`<code>${u}</code><br>`) : 'none'}</dd>
<dt>ID token signature</dt><dd>${client.idTokenSignedResponseAlg ?? SERVER_ALG_LABEL}</dd>
<dt>Subject identifiers</dt><dd>${SUBJECT_LABEL[client.subjectType]}</dd>
<dt>Scopes</dt><dd>${client.scopes.join(' ') || 'none'}</dd>
<dt>Owner user</dt><dd>${input.ownerName ?? 'none'}</dd>
<dt>Skip consent</dt><dd>${yesNo(client.skipConsent)}</dd>
${client.side === 'storefront' ? html`<dt>Allow guests</dt><dd>${yesNo(client.allowGuests)}</dd>` : ''}
<dt>Created</dt><dd>${when(client.createdAt)}</dd>
<dt>Last changed</dt><dd>${when(client.updatedAt)}</dd>
<dt>Last used</dt><dd>${when(client.lastUsedAt)}</dd>
</dl>
</div>
<h2>Actions</h2>
<div class="actions">
<a class="button primary" href="${base}/edit">Edit</a>
${postButton(`${base}/active`, frame.csrfToken, client.active ? 'Deactivate' : 'Activate', 'secondary', { active: client.active ? 'no' : 'yes' })}
${client.type === 'confidential' ? html`<a class="button secondary" href="${base}/regenerate-secret">Regenerate secret</a>` : ''}
<a class="button secondary" href="${base}/revoke-tokens">Revoke all tokens</a>
<a class="button danger" href="${base}/delete">Delete</a>
</div>`,
    { nav: section.nav, notice: input.notice, breadcrumbs: [{ href: section.root, label: section.title }] },
  );
}

/** The secret of a confidential client, shown in the answer that created it and never again. */
export function secretPage(frame: ConsoleFrame, input: { section: AppSection; client: Client; secret: string; created: boolean }): string {
  const { section, client } = input;
  return consoleLayout(
    frame,
    input.created ? `${client.name} created` : `New secret for ${client.name}`,
    html`<div class="panel">
<p class="warning" role="alert"><strong>Copy the client secret now.</strong> It is shown only on this page and cannot be shown again: the server keeps only a keyed hash of it.${input.created ? '' : ' The previous secret no longer works.'}</p>
<dl class="facts">
<dt>Client ID</dt><dd><code id="client-id">${client.clientId}</code></dd>
<dt>Client secret</dt><dd><div class="secret"><code id="client-secret">${input.secret}</code>
<button class="secondary" type="button" data-copy="client-secret" data-status="copy-status" hidden>Copy secret</button></div>
<p class="muted" id="copy-status" role="status"></p></dd>
</dl>
<div class="actions"><a class="button primary" href="${section.root}/${client.clientId}">I have saved the secret</a></div>
</div>`,
    { nav: section.nav, breadcrumbs: [{ href: section.root, label: section.title }] },
  );
}
