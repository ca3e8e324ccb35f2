/** Console pages of users of both sides, and the signed-in user's own profile. */
import type { SideName } from '../../../oauth/sides.js';
import type { BackofficeUser, CustomerUser } from '../../../storage/repositories.js';
import { html } from '../html.js';
import { badge, type Cell, csrfField, errorSummary, fieldError, type FieldErrors, invalid, pager, postButton, table, when, whenCell, yesNo } from './common.js';
import { type ConsoleFrame, consoleLayout } from './layout.js';

export type AnyUser = BackofficeUser | CustomerUser;
const SIDE_LABEL = { backoffice: 'Back office', storefront: 'Storefront' } as const;

export const isBackofficeUser = (user: AnyUser): user is BackofficeUser => 'username' in user;
export const userLabel = (user: AnyUser) => (isBackofficeUser(user) ? user.username : user.email);

/** The two sides as tabs (links, the current one marked), not as buttons that look like actions. */
function sideTabs(root: string, sides: readonly SideName[], current: SideName) {
  if (sides.length < 2) return '';
  return html`<nav class="tabs" aria-label="Side">${sides.map((s) =>
    html`<a href="${root}?side=${s}"${s === current ? html` aria-current="page"` : ''}>${SIDE_LABEL[s]} users</a>`,
  )}</nav>`;
}

export function usersListPage(frame: ConsoleFrame, input: { root: string; side: SideName; sides: readonly SideName[]; users: AnyUser[]; q?: string; page: number; total: number; notice?: string }): string {
  const bo = input.side === 'backoffice';
  const rows = input.users.map((u): Cell[] => [
    html`<a href="${input.root}/${input.side}/${u.id}">${userLabel(u)}</a>`,
    bo ? (u as BackofficeUser).email : [(u as CustomerUser).firstName, (u as CustomerUser).lastName].filter(Boolean).join(' ') || '—',
    html`${badge(u.enabled, 'enabled', 'disabled')}${bo && (u as BackofficeUser).locked ? html` <span class="badge off">locked</span>` : ''}`,
    ...(bo ? [yesNo((u as BackofficeUser).isAdmin)] : []),
    whenCell(u.createdAt),
  ]);
  const caption = `${SIDE_LABEL[input.side]} users`;
  return consoleLayout(
    frame,
    'Users',
    html`${sideTabs(input.root, input.sides, input.side)}
<div class="actions"><a class="button primary" href="${input.root}/new?side=${input.side}">New ${input.side === 'backoffice' ? 'back-office' : 'storefront'} user</a></div>
<form class="panel filters" method="get" action="${input.root}" role="search" aria-label="Search users">
<input type="hidden" name="side" value="${input.side}">
<div class="grow"><label for="q">${bo ? 'Username or email' : 'Email or name'}</label><input id="q" name="q" type="search" value="${input.q ?? ''}"></div>
<div class="actions"><button class="secondary" type="submit">Search</button></div>
</form>
${table(caption, bo ? ['Username', 'Email', 'State', 'Admin', 'Created'] : ['Email', 'Name', 'State', 'Created'], rows, 'No user matches.')}
${pager(input.root, { side: input.side, q: input.q }, input.page, input.total)}`,
    { nav: 'users', notice: input.notice },
  );
}

export interface UserFormValues {
  username: string;
  email: string;
  firstName: string;
  lastName: string;
  isAdmin: boolean;
  generate: boolean;
}

/**
 * How the password is set, as an explicit choice: "Generate one" or "Type a password". (A
 * pre-checked "generate" box beside a password field let a typed password be silently replaced;
 * the server now refuses a typed password with "Generate one" chosen, next to the field.)
 */
function passwordFields(errors: FieldErrors, generate: boolean) {
  return html`<fieldset${invalid(errors, 'generate')}><legend>Password</legend>
<div class="checks">
<label for="generate"><input type="radio" id="generate" name="generate" value="yes"${generate ? html` checked` : ''}> Generate one and show it once</label>
<label for="type-password"><input type="radio" id="type-password" name="generate" value="no"${generate ? '' : html` checked`}> Type a password</label>
</div>${fieldError(errors, 'generate')}
<label for="password">Typed password</label>
<p class="hint" id="password-hint">With "Type a password": a long one (at least 12 characters unless password_min_length says otherwise), not a common password. Leave it empty to generate one.</p>
<input id="password" name="password" type="password" autocomplete="new-password"${invalid(errors, 'password', 'password-hint')}>
${fieldError(errors, 'password')}
</fieldset>`;
}

export function userFormPage(frame: ConsoleFrame, input: { root: string; side: SideName; values: UserFormValues; errors: FieldErrors }): string {
  const { values, errors } = input;
  const bo = input.side === 'backoffice';
  return consoleLayout(
    frame,
    `New ${input.side === 'backoffice' ? 'back-office' : 'storefront'} user`,
    html`${errorSummary(errors)}
<form class="panel" method="post" action="${input.root}/new" novalidate>
${csrfField(frame.csrfToken)}
<input type="hidden" name="side" value="${input.side}">
${bo ? html`<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="off" value="${values.username}"${invalid(errors, 'username')}>${fieldError(errors, 'username')}` : ''}
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="off" value="${values.email}"${invalid(errors, 'email')}>${fieldError(errors, 'email')}
${bo ? '' : html`<label for="first_name">First name</label><input id="first_name" name="first_name" type="text" value="${values.firstName}">
<label for="last_name">Last name</label><input id="last_name" name="last_name" type="text" value="${values.lastName}">`}
${passwordFields(errors, values.generate)}
${bo ? html`<fieldset><legend>Role</legend><div class="checks"><label for="is_admin"><input type="checkbox" id="is_admin" name="is_admin" value="yes"${values.isAdmin ? html` checked` : ''}> Administrator</label></div></fieldset>` : ''}
<div class="actions"><button class="primary" type="submit">Create user</button><a class="button secondary" href="${input.root}?side=${input.side}">Cancel</a></div>
</form>`,
    { nav: 'users', breadcrumbs: [{ href: `${input.root}?side=${input.side}`, label: 'Users' }] },
  );
}

export function userPage(frame: ConsoleFrame, input: { root: string; side: SideName; user: AnyUser; notice?: string; password?: string }): string {
  const { user, side } = input;
  const self = `${input.root}/${side}/${user.id}`;
  const bo = isBackofficeUser(user) ? user : undefined;
  return consoleLayout(
    frame,
    userLabel(user),
    html`${input.password
  ? html`<div class="panel"><p class="warning" role="alert"><strong>Copy the new password now.</strong> It is shown only on this page.</p>
<div class="secret"><code id="new-password">${input.password}</code><button class="secondary" type="button" data-copy="new-password" data-status="copy-status" hidden>Copy password</button></div>
<p class="muted" id="copy-status" role="status"></p></div>`
  : ''}
<div class="panel"><dl class="facts">
<dt>Side</dt><dd>${SIDE_LABEL[side]}</dd>
<dt>Id</dt><dd>${user.id}</dd>
${bo ? html`<dt>Username</dt><dd>${bo.username}</dd>` : ''}
<dt>Email</dt><dd>${user.email}</dd>
${bo ? '' : html`<dt>Name</dt><dd>${[(user as CustomerUser).firstName, (user as CustomerUser).lastName].filter(Boolean).join(' ') || '—'}</dd>`}
<dt>State</dt><dd>${badge(user.enabled, 'enabled', 'disabled')}${bo?.locked ? html` <span class="badge off">locked</span>` : ''}</dd>
${bo ? html`<dt>Administrator</dt><dd>${yesNo(bo.isAdmin)}</dd>` : ''}
<dt>Created</dt><dd>${when(user.createdAt)}</dd>
<dt>Last changed</dt><dd>${when(user.updatedAt)}</dd>
</dl></div>
<h2>Actions</h2>
<div class="actions">
${postButton(`${self}/flag`, frame.csrfToken, user.enabled ? 'Disable' : 'Enable', 'secondary', { flag: 'enabled', value: user.enabled ? 'no' : 'yes' })}
${bo ? postButton(`${self}/flag`, frame.csrfToken, bo.locked ? 'Unlock' : 'Lock', 'secondary', { flag: 'locked', value: bo.locked ? 'no' : 'yes' }) : ''}
${bo ? postButton(`${self}/admin`, frame.csrfToken, bo.isAdmin ? 'Remove admin right' : 'Make admin', 'secondary', { value: bo.isAdmin ? 'no' : 'yes' }) : ''}
<a class="button secondary" href="${self}/password">Reset password</a>
<a class="button danger" href="${self}/delete">Delete</a>
</div>`,
    { nav: 'users', notice: input.notice, breadcrumbs: [{ href: `${input.root}?side=${side}`, label: 'Users' }] },
  );
}

export function passwordFormPage(frame: ConsoleFrame, input: { root: string; side: SideName; user: AnyUser; generate: boolean; errors: FieldErrors }): string {
  const self = `${input.root}/${input.side}/${input.user.id}`;
  return consoleLayout(
    frame,
    `Reset the password of ${userLabel(input.user)}`,
    html`${errorSummary(input.errors)}
<form class="panel" method="post" action="${self}/password" novalidate>
${csrfField(frame.csrfToken)}
<p class="warning">Their sessions end and the tokens they were given are revoked.</p>
${passwordFields(input.errors, input.generate)}
<div class="actions"><button class="primary" type="submit">Set password</button><a class="button secondary" href="${self}">Cancel</a></div>
</form>`,
    { nav: 'users', breadcrumbs: [{ href: `${input.root}?side=${input.side}`, label: 'Users' }, { href: self, label: userLabel(input.user) }] },
  );
}

export function profilePage(frame: ConsoleFrame, input: { user: BackofficeUser; accountPath: string }): string {
  const { user } = input;
  return consoleLayout(
    frame,
    'Profile',
    html`<div class="panel"><dl class="facts">
<dt>Username</dt><dd>${user.username}</dd>
<dt>Email</dt><dd>${user.email}</dd>
<dt>Role</dt><dd>${user.isAdmin ? 'Administrator' : 'Back-office user'}</dd>
<dt>Member since</dt><dd>${when(user.createdAt)}</dd>
</dl></div>
<p><a href="${frame.base}/my/applications">My applications</a></p>
<p><a href="${input.accountPath}">Your account</a>: the applications you have allowed to act for you, and changing your password.</p>`,
    { nav: 'profile' },
  );
}
