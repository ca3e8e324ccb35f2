/**
 * The frame of every console page: skip link, top bar with the navigation and the signed-in
 * user, one h1, and the page body. Rendering only; what a user may do is decided elsewhere.
 */
import { html, type SafeHtml } from '../html.js';
import { documentHead } from '../layout.js';

export const CONSOLE_STYLESHEET_PATH = '/assets/console.css';
export const CONSOLE_SCRIPT_PATH = '/assets/console.js';

/** Who is signed in, and where the console lives: what every page needs for its frame. */
export interface ConsoleFrame {
  /** The back office's product name (backoffice_name), in the header and every title. */
  productName: string;
  base: string;
  userName: string;
  isAdmin: boolean;
  logoutAction: string;
  csrfToken: string;
}

export type NavKey = 'applications' | 'users' | 'keys' | 'audit' | 'my' | 'profile';

export interface PageOptions {
  /** Which navigation entry is the current page's section. */
  nav?: NavKey;
  /** A short confirmation of what the last action did ("Application deactivated."). */
  notice?: string;
  /** Links back up, shown above the h1. */
  breadcrumbs?: Array<{ href: string; label: string }>;
}

function navItems(frame: ConsoleFrame): Array<{ key: NavKey; href: string; label: string }> {
  const mine = [
    { key: 'my' as const, href: `${frame.base}/my/applications`, label: 'My applications' },
    { key: 'profile' as const, href: `${frame.base}/profile`, label: 'Profile' },
  ];
  if (!frame.isAdmin) return mine;
  return [
    { key: 'applications', href: `${frame.base}/applications`, label: 'Applications' },
    { key: 'users', href: `${frame.base}/users`, label: 'Users' },
    { key: 'keys', href: `${frame.base}/keys`, label: 'Signing keys' },
    { key: 'audit', href: `${frame.base}/audit`, label: 'Audit trail' },
    ...mine,
  ];
}

export function consoleLayout(frame: ConsoleFrame | undefined, title: string, body: SafeHtml, options: PageOptions = {}): string {
  const product = frame ? ` · ${frame.productName}` : '';
  return html`${documentHead(`${title} · Console${product}`, CONSOLE_STYLESHEET_PATH, CONSOLE_SCRIPT_PATH)}
<body>
<a class="skip" href="#main">Skip to main content</a>
<header class="topbar">
<div class="topbar-inner">
<span class="brand">${frame?.productName ?? ''} <span class="sub">Console</span></span>
${frame
  ? html`<nav aria-label="Console">
<ul>${navItems(frame).map((item) => html`<li><a href="${item.href}"${item.key === options.nav ? html` aria-current="page"` : ''}>${item.label}</a></li>`)}</ul>
</nav>
<form class="signout" method="post" action="${frame.logoutAction}">
<input type="hidden" name="csrf_token" value="${frame.csrfToken}">
<span class="who">${frame.userName}</span>
<button class="link" type="submit">Sign out</button>
</form>`
  : ''}
</div>
</header>
<main id="main" tabindex="-1">
${options.breadcrumbs?.length
  ? html`<nav class="crumbs" aria-label="Breadcrumb"><ol>${options.breadcrumbs.map((c) => html`<li><a href="${c.href}">${c.label}</a></li>`)}</ol></nav>`
  : ''}
<h1>${title}</h1>
${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ''}
${body}
</main>
</body>
</html>
`.value;
}

/**
 * The console's stylesheet: a wide layout with tables, on top of nothing (the login card's
 * stylesheet is for a single centred form). Focus is always visible; below 640 px the
 * navigation wraps and each table row becomes a card of labelled lines (wider tables would
 * scroll sideways, hiding columns a phone user may not know are there).
 */
export const CONSOLE_STYLESHEET = `
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;color:#111827}
a{color:#3730a3}
a:hover{color:#1e1b4b}
:focus-visible{outline:3px solid #4f46e5;outline-offset:2px}
.skip{position:absolute;left:.5rem;top:-3rem;background:#fff;color:#111827;padding:.5rem .75rem;border-radius:6px;z-index:10}
.skip:focus{top:.5rem}
.topbar{background:#1e1b4b;color:#fff}
.topbar-inner{max-width:72rem;margin:0 auto;padding:.6rem 1rem;display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.5rem}
.brand{font-weight:700;letter-spacing:.02em}
.brand .sub{font-weight:400;opacity:.85}
.topbar nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem}
.topbar nav a{color:#e0e7ff;text-decoration:none;padding:.35rem .6rem;border-radius:6px;display:inline-block}
.topbar nav a:hover{background:#312e81;color:#fff}
.topbar nav a[aria-current=page]{background:#fff;color:#1e1b4b;font-weight:600}
.topbar :focus-visible{outline-color:#fbbf24}
.signout{margin:0 0 0 auto;display:flex;align-items:center;gap:.5rem}
.who{color:#e0e7ff;font-size:.9rem}
.signout .link{color:#fff;background:transparent;border:1px solid #818cf8;padding:.3rem .7rem}
main{max-width:72rem;margin:0 auto;padding:1.25rem 1rem 3rem}
main:focus{outline:none}
h1{font-size:1.5rem;margin:.25rem 0 1rem}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.crumbs ol{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem;font-size:.9rem}
.crumbs li+li::before{content:"/";margin-right:.25rem;color:#6b7280}
.panel{background:#fff;border-radius:10px;padding:1.25rem;box-shadow:0 1px 2px rgba(0,0,0,.08);margin:1rem 0}
.panel>:first-child,.panel>input[type=hidden]:first-child+*{margin-top:0}.panel>:last-child{margin-bottom:0}
.notice{background:#ecfdf5;color:#065f46;border:1px solid #a7f3d0;border-radius:8px;padding:.6rem .75rem}
.error-summary,.error{background:#fef2f2;color:#991b1b;border:1px solid #fecaca;border-radius:8px;padding:.6rem .75rem;margin:0 0 1rem}
.field-error{color:#b91c1c;font-size:.9rem;margin:.25rem 0 0}
.warning{background:#fffbeb;color:#78350f;border:1px solid #fde68a;border-radius:8px;padding:.6rem .75rem}
.muted{color:#4b5563;font-size:.9rem}
label,.label{display:block;font-weight:600;font-size:.95rem;margin:.9rem 0 .25rem}
fieldset{border:0;padding:0;margin:.9rem 0 0}
legend{font-weight:600;font-size:.95rem;padding:0;margin-bottom:.25rem}
.checks label{display:flex;align-items:center;gap:.5rem;font-weight:400;margin:.2rem 0}
.checks input{flex:none}
.hint{color:#4b5563;font-size:.85rem;margin:.1rem 0 .25rem}
input[type=text],input[type=email],input[type=password],input[type=search],input[type=number],select,textarea{width:100%;max-width:36rem;padding:.5rem .65rem;border:1px solid #6b7280;border-radius:8px;font:inherit;background:#fff;color:inherit}
textarea{min-height:6rem;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9rem}
[aria-invalid=true]{border-color:#b91c1c;border-width:2px}
input[type=checkbox],input[type=radio]{width:1.1rem;height:1.1rem;accent-color:#4338ca}
button,.button{font:inherit;font-weight:600;border:1px solid transparent;border-radius:8px;padding:.5rem 1rem;cursor:pointer;text-decoration:none;display:inline-block;line-height:1.5}
.primary{background:#4338ca;color:#fff}.primary:hover{background:#3730a3;color:#fff}
.secondary{background:#e5e7eb;color:#111827;border-color:#d1d5db}.secondary:hover{background:#d1d5db;color:#111827}
.danger{background:#b91c1c;color:#fff}.danger:hover{background:#991b1b;color:#fff}
.actions{display:flex;gap:.6rem;flex-wrap:wrap;align-items:center;margin-top:1.25rem}
.actions form{margin:0}
.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end}
.filters label{margin:0 0 .25rem}
.filters div{min-width:9rem;flex:1 1 9rem}
.filters .grow{flex:3 1 14rem}
.filters .actions{margin:0;flex:0 0 auto}
.table-wrap{overflow-x:auto;background:#fff;border-radius:10px;box-shadow:0 1px 2px rgba(0,0,0,.08);margin:1rem 0}
table{border-collapse:collapse;width:100%;font-size:.92rem}
caption{text-align:left;padding:.6rem .75rem;font-weight:600;color:#374151}
th,td{padding:.55rem .75rem;text-align:left;border-top:1px solid #e5e7eb;vertical-align:top}
th{background:#f9fafb;font-weight:600;white-space:nowrap}
td.id,code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85em;word-break:break-all}
td.id{min-width:calc(16ch + 1.5rem)}
td.when span{white-space:nowrap}
td.wrap{overflow-wrap:anywhere;min-width:12rem}
code{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}
.badge{display:inline-block;font-size:.78rem;font-weight:600;padding:.05rem .5rem;border-radius:999px;background:#e5e7eb;color:#1f2937}
.badge.on{background:#d1fae5;color:#065f46}.badge.off{background:#fee2e2;color:#991b1b}
dl.facts{display:grid;grid-template-columns:minmax(8rem,12rem) 1fr;gap:.4rem 1rem;margin:0}
dl.facts dt{font-weight:600;color:#374151}
dl.facts dd{margin:0;word-break:break-word}
.tabs{display:flex;flex-wrap:wrap;border-bottom:2px solid #d1d5db;margin:0 0 .5rem}
.tabs a{padding:.5rem .75rem;margin-bottom:-2px;border-bottom:3px solid transparent;color:#374151;font-weight:600;text-decoration:none}
.tabs a:hover{color:#1e1b4b;border-bottom-color:#9ca3af}
.tabs a[aria-current=page]{color:#3730a3;border-bottom-color:#4338ca}
.pager{display:flex;gap:.75rem;align-items:center;flex-wrap:wrap}
.secret{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}
.secret code{font-size:1rem;padding:.4rem .6rem;background:#f9fafb;border:1px solid #d1d5db}
@media (max-width:640px){
  .signout{margin-left:0;width:100%}
  dl.facts{grid-template-columns:1fr}
  dl.facts dd{margin-bottom:.5rem}
  .panel{padding:1rem}
  .actions button,.actions .button{flex:1 1 auto;text-align:center}
  /* Tables become one card per row, each line "column: value" (the header row stays for screen readers). */
  .stack thead{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
  .stack,.stack tbody,.stack tr,.stack td{display:block;width:auto}
  .stack caption{display:block}
  .stack tr{border-top:1px solid #e5e7eb;padding:.4rem 0}
  .stack td{display:grid;grid-template-columns:6.5rem minmax(0,1fr);gap:.75rem;border:0;padding:.2rem .75rem;min-width:0;overflow-wrap:anywhere;justify-items:start}
  .stack td::before{content:attr(data-label);font:600 .9rem/1.6 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#374151}
}
`;

/**
 * The copy button of a one-time secret: the only script of the console, served as a file so the
 * CSP stays free of inline script. Without script the secret can still be selected by hand.
 */
export const CONSOLE_SCRIPT = `'use strict';
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('button[data-copy]').forEach(function (button) {
    var source = document.getElementById(button.getAttribute('data-copy'));
    var status = document.getElementById(button.getAttribute('data-status'));
    if (!source) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      var text = source.textContent || '';
      var done = function () { if (status) status.textContent = 'Copied to the clipboard.'; };
      var fallback = function () {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        try { document.execCommand('copy'); done(); } catch (e) { if (status) status.textContent = 'Selected: press Ctrl+C to copy.'; }
      };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
      else fallback();
    });
  });
});
`;
