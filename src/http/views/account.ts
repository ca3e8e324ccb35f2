/**
 * The account pages of either side: the overview, the authorized applications with "Remove
 * access", and the password form. Rendering only; what a user may do is decided in
 * src/management/account.ts. Every page goes through accountPage(), the one place that frames
 * them with the side's brand.
 */
import type { Brand } from './brand.js';
import { when } from './console/common.js';
import { html, type SafeHtml } from './html.js';
import { layout } from './layout.js';

/** Who is signed in, and where their account pages live: what every account page needs. */
export interface AccountFrame {
  brand: Brand;
  /** The side's account path ('/account', '/admin/account'). */
  base: string;
  userName: string;
  logoutAction: string;
  csrfToken: string;
}

export interface ApplicationView {
  clientId: string;
  name: string;
  scopes: Array<{ name: string; description: string }>;
  allowedAt: number;
  lastUsedAt: number | null;
  /** Let through without the consent page: removing its access does not make it ask. */
  skipConsent: boolean;
}

type AccountSection = 'overview' | 'applications' | 'password';

/** The account navigation: a way back to the overview, the current page marked. */
function accountNav(frame: AccountFrame, current: AccountSection | undefined): SafeHtml {
  const items = [
    { key: 'overview', href: frame.base, label: 'Overview' },
    { key: 'applications', href: `${frame.base}/applications`, label: 'Applications' },
    { key: 'password', href: `${frame.base}/password`, label: 'Password' },
  ];
  return html`<nav class="account-nav" aria-label="Account"><ul>${items.map(
    (item) => html`<li><a href="${item.href}"${item.key === current ? html` aria-current="page"` : ''}>${item.label}</a></li>`,
  )}</ul></nav>`;
}

/** The frame of every account page: brand, navigation, one h1, an optional confirmation. */
function accountPage(frame: AccountFrame, current: AccountSection | undefined, title: string, body: SafeHtml, notice?: string): string {
  return layout(
    frame.brand,
    title,
    html`${accountNav(frame, current)}
${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
${body}`,
  );
}

/** A date as "2024-05-01 12:00 UTC", machine-readable too. */
const date = (epoch: number) => html`<time datetime="${new Date(epoch * 1000).toISOString()}">${when(epoch)}</time>`;

export function accountOverviewPage(frame: AccountFrame, input: { email: string; notice?: string }): string {
  return accountPage(
    frame,
    'overview',
    'Your account',
    html`<p>You are signed in as <strong>${frame.userName}</strong>${frame.userName === input.email ? '' : html` (${input.email})`}.</p>
<ul class="account-links">
<li><a href="${frame.base}/applications">Authorized applications</a><span class="muted">The applications you have allowed to use your account, and removing their access.</span></li>
<li><a href="${frame.base}/password">Change password</a><span class="muted">Signs you out everywhere else.</span></li>
</ul>
<form method="post" action="${frame.logoutAction}">
<input type="hidden" name="csrf_token" value="${frame.csrfToken}">
<div class="actions"><button class="secondary" type="submit">Sign out</button></div>
</form>`,
    input.notice,
  );
}

export function applicationsPage(frame: AccountFrame, input: { applications: ApplicationView[]; notice?: string }): string {
  const body = input.applications.length
    ? html`<p class="muted">These applications can use your account. Removing an application's access revokes its tokens at once; it then needs your permission again to get new ones, unless it is allowed to sign you in without asking.</p>
<ul class="apps">${input.applications.map(
        (app) => html`<li>
<h2>${app.name}</h2>
${app.scopes.length
  ? html`<p class="muted">It may:</p><ul class="scopes">${app.scopes.map((s) => html`<li>${s.description} <code>${s.name}</code></li>`)}</ul>`
  : html`<p class="muted">It may use the API on your behalf.</p>`}
<p class="dates">Allowed on ${date(app.allowedAt)}<br>${app.lastUsedAt === null ? 'Not used recently' : html`Last used ${date(app.lastUsedAt)}`}</p>
${app.skipConsent ? html`<p class="muted">It is allowed to sign you in without asking: after you remove its access, it gets new tokens the next time you use it.</p>` : ''}
<form method="post" action="${frame.base}/applications/${encodeURIComponent(app.clientId)}/remove">
<input type="hidden" name="csrf_token" value="${frame.csrfToken}">
<button class="secondary" type="submit" aria-label="Remove access for ${app.name}">Remove access</button>
</form>
</li>`,
      )}</ul>`
    : html`<p>No application has access to your account. When you allow one, it is listed here, and you can remove its access at any time.</p>`;
  return accountPage(frame, 'applications', 'Authorized applications', body, input.notice);
}

/** Which field the error is about, so that it is marked and announced with it. */
export type PasswordField = 'current_password' | 'new_password' | 'confirm_password';

export function passwordPage(frame: AccountFrame, input: { error?: string; errorField?: PasswordField; minLength: number }): string {
  const field = (name: PasswordField, label: string, autocomplete: string, hint?: string) => {
    const invalid = input.error !== undefined && input.errorField === name;
    const describedBy = [hint ? `${name}-hint` : '', invalid ? 'password-error' : ''].filter((id) => id !== '').join(' ');
    return html`<label for="${name}">${label}</label>
${hint ? html`<p class="hint" id="${name}-hint">${hint}</p>` : ''}
<input id="${name}" name="${name}" type="password" autocomplete="${autocomplete}" required${invalid ? html` aria-invalid="true"` : ''}${describedBy ? html` aria-describedby="${describedBy}"` : ''}>`;
  };
  return accountPage(
    frame,
    'password',
    'Change password',
    html`${input.error ? html`<div id="password-error"><p class="error" role="alert">${input.error}</p></div>` : ''}
<form method="post" action="${frame.base}/password">
<input type="hidden" name="csrf_token" value="${frame.csrfToken}">
${field('current_password', 'Current password', 'current-password')}
${field('new_password', 'New password', 'new-password', `At least ${input.minLength} characters, not a common password, not your name or email.`)}
${field('confirm_password', 'Confirm new password', 'new-password')}
<p class="muted">Changing your password signs you out on every other device and ends the access of the applications you have allowed; they ask you to sign in again.</p>
<div class="actions"><button class="primary" type="submit">Change password</button></div>
</form>`,
  );
}

/** An account error page (404, 403), with the navigation to carry on from. */
export function accountErrorPage(frame: AccountFrame, title: string, description: string): string {
  return accountPage(frame, undefined, title, html`<p class="error" role="alert">${description}</p>`);
}
