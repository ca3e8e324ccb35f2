/** The HTML pages: login, consent, signed-in and error. Rendering only, no decisions. */
import { html } from './html.js';
import { layout } from './layout.js';

const SIDE_LABEL = { backoffice: 'Back office', storefront: 'Storefront' } as const;
type SideLabel = keyof typeof SIDE_LABEL;

export function loginPage(input: {
  side: SideLabel;
  action: string;
  csrfToken: string;
  returnTo: string | undefined;
  login?: string;
  error?: string;
}): string {
  const isBackoffice = input.side === 'backoffice';
  return layout(
    'Sign in',
    html`${input.error ? html`<p class="error" role="alert">${input.error}</p>` : ''}
<form method="post" action="${input.action}">
<input type="hidden" name="csrf_token" value="${input.csrfToken}">
${input.returnTo ? html`<input type="hidden" name="return_to" value="${input.returnTo}">` : ''}
<label for="login">${isBackoffice ? 'Username or email' : 'Email'}</label>
<input id="login" name="login" type="${isBackoffice ? 'text' : 'email'}" autocomplete="username" required autofocus value="${input.login ?? ''}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<div class="actions"><button class="primary" type="submit">Sign in</button></div>
</form>`,
    { subtitle: SIDE_LABEL[input.side] },
  );
}

export function consentPage(input: {
  side: SideLabel;
  action: string;
  csrfToken: string;
  clientName: string;
  userName: string;
  /** The scopes to ask for: only those not allowed before. */
  scopes: Array<{ name: string; description: string }>;
  /** Requested scopes the user has already allowed this application. */
  alreadyAllowed?: Array<{ name: string; description: string }>;
  hidden: Record<string, string>;
}): string {
  const already = input.alreadyAllowed ?? [];
  return layout(
    'Authorize access',
    html`<p><strong>${input.clientName}</strong> wants to access your account <strong>${input.userName}</strong>.</p>
${input.scopes.length
  ? html`<p>It asks to:</p><ul class="scopes">${input.scopes.map((s) => html`<li>${s.description} <code>${s.name}</code></li>`)}</ul>`
  : html`<p class="muted">It asks for access to the API on your behalf.</p>`}
${already.length
  ? html`<p class="muted already-allowed">You already allowed it to: ${already.map((s, i) => html`${i > 0 ? ', ' : ''}${s.description} <code>${s.name}</code>`)}.</p>`
  : ''}
<form method="post" action="${input.action}">
<input type="hidden" name="csrf_token" value="${input.csrfToken}">
${Object.entries(input.hidden).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<div class="actions">
<button class="secondary" type="submit" name="decision" value="deny">Deny</button>
<button class="primary" type="submit" name="decision" value="allow">Allow</button>
</div>
</form>`,
    { subtitle: SIDE_LABEL[input.side] },
  );
}

export function signedInPage(input: { side: SideLabel; userName: string; logoutAction: string; csrfToken: string }): string {
  return layout(
    'Signed in',
    html`<p>You are signed in as <strong>${input.userName}</strong>.</p>
<form method="post" action="${input.logoutAction}">
<input type="hidden" name="csrf_token" value="${input.csrfToken}">
<div class="actions"><button class="secondary" type="submit">Sign out</button></div>
</form>`,
    { subtitle: SIDE_LABEL[input.side] },
  );
}

export function errorPage(title: string, description: string): string {
  return layout(title, html`<p class="error" role="alert">${description}</p><p class="muted">You can close this page and return to the application.</p>`);
}
