/** The HTML pages: login, consent, signed-in, sign-out and error. Rendering only, no decisions. */
import type { SideName } from '../../oauth/sides.js';
import type { Brand } from './brand.js';
import { html } from './html.js';
import { layout } from './layout.js';

export function loginPage(input: {
  brand: Brand;
  side: SideName;
  /** The application that sent the user here (from the authorize request), when it is known on this side. */
  clientName?: string;
  action: string;
  csrfToken: string;
  returnTo: string | undefined;
  login?: string;
  error?: string;
}): string {
  const isBackoffice = input.side === 'backoffice';
  return layout(
    input.brand,
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
    input.clientName ? { heading: `Sign in to continue to ${input.clientName}` } : {},
  );
}

export function consentPage(input: {
  brand: Brand;
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
    input.brand,
    'Authorize access',
    html`<p><strong>${input.clientName}</strong> wants to access your account <strong>${input.userName}</strong>.</p>
${input.scopes.length
  ? html`<p>It asks to:</p><ul class="scopes">${input.scopes.map((s) => html`<li>${s.description} <code>${s.name}</code></li>`)}</ul>`
  : html`<p class="muted">It asks only to know that it is you: no access to your data.</p>`}
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
  );
}

export function signedInPage(input: { brand: Brand; userName: string; logoutAction: string; csrfToken: string; accountPath: string }): string {
  return layout(
    input.brand,
    'Signed in',
    html`<p>You are signed in as <strong>${input.userName}</strong>.</p>
<p><a href="${input.accountPath}">Your account</a>: the applications you have allowed, and your password.</p>
<form method="post" action="${input.logoutAction}">
<input type="hidden" name="csrf_token" value="${input.csrfToken}">
<div class="actions"><button class="secondary" type="submit">Sign out</button></div>
</form>`,
  );
}

/**
 * RP-initiated logout, when the request cannot prove it comes from the application the user
 * is signed in to: the user decides. Staying signed in goes to the account page.
 */
export function signOutConfirmPage(input: {
  brand: Brand;
  action: string;
  csrfToken: string;
  userName: string;
  clientName: string | undefined;
  hidden: Record<string, string>;
  accountPath: string;
}): string {
  return layout(
    input.brand,
    'Sign out?',
    html`<p>${input.clientName ? html`<strong>${input.clientName}</strong> asks to sign you out` : 'An application asks to sign you out'} of your account <strong>${input.userName}</strong>.</p>
<form method="post" action="${input.action}">
<input type="hidden" name="csrf_token" value="${input.csrfToken}">
${Object.entries(input.hidden).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<div class="actions">
<a class="secondary button" href="${input.accountPath}">Stay signed in</a>
<button class="primary" type="submit" name="confirm" value="yes">Sign out</button>
</div>
</form>`,
  );
}

export function signedOutPage(input: { brand: Brand; loginPath: string }): string {
  return layout(
    input.brand,
    'Signed out',
    html`<p>You are signed out.</p>
<p><a href="${input.loginPath}">Sign in again</a></p>`,
  );
}

/**
 * An error page: what went wrong in plain words, what to do next, and the technical detail
 * (error code and description, for whoever the user asks for help) in a small muted line.
 */
export function errorPage(brand: Brand, input: { title: string; message: string; technical?: string }): string {
  return layout(
    brand,
    input.title,
    html`<p class="error" role="alert">${input.message}</p>
${input.technical ? html`<p class="technical">Technical detail: ${input.technical}</p>` : ''}`,
  );
}

/**
 * The authorize endpoint's page for a request that cannot be trusted (unknown client, bad or
 * unregistered redirect URI): the user cannot be sent back, only told to start again from the
 * application, which is named when this side knows it.
 */
export function invalidSignInLinkPage(brand: Brand, input: { clientName?: string; technical: string }): string {
  return errorPage(brand, {
    title: 'This sign-in link is not valid',
    message: input.clientName
      ? `This link to sign in to ${input.clientName} is not valid. Go back to the application and try again.`
      : 'This link to sign in is not valid: the application that sent you here is not known to this site. Go back to the application and try again.',
    technical: input.technical,
  });
}
