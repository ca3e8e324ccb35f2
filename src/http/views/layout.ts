import { html, type SafeHtml } from './html.js';

export const STYLESHEET_PATH = '/assets/grantry.css';

/** The start of every page up to <body>: one place for the document's head. */
export function documentHead(title: string, stylesheet: string, script?: string): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="stylesheet" href="${stylesheet}">
${script ? html`<script src="${script}" defer></script>
` : ''}</head>`;
}

export function layout(title: string, body: SafeHtml, options: { subtitle?: string } = {}): string {
  return html`${documentHead(`${title} · Grantry`, STYLESHEET_PATH)}
<body>
<main class="card">
<header><span class="brand">Grantry</span>${options.subtitle ? html`<span class="side">${options.subtitle}</span>` : ''}</header>
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`.value;
}

export const STYLESHEET = `
*,*::before,*::after{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:1rem;
  font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;color:#111827}
.card{width:100%;max-width:26rem;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 1px 3px rgba(0,0,0,.1),0 8px 24px rgba(0,0,0,.06)}
header{display:flex;justify-content:space-between;align-items:baseline;margin-bottom:1rem}
.brand{font-weight:700;letter-spacing:.02em;color:#4338ca}
.side{font-size:.8rem;color:#6b7280;text-transform:uppercase;letter-spacing:.06em}
h1{font-size:1.35rem;margin:0 0 1rem}
label{display:block;font-weight:600;font-size:.9rem;margin:.75rem 0 .25rem}
input[type=text],input[type=email],input[type=password]{width:100%;padding:.6rem .75rem;border:1px solid #d1d5db;border-radius:8px;font:inherit}
input:focus{outline:2px solid #6366f1;outline-offset:1px;border-color:#6366f1}
button{font:inherit;font-weight:600;border:0;border-radius:8px;padding:.65rem 1.1rem;cursor:pointer}
.primary{background:#4338ca;color:#fff}.primary:hover{background:#3730a3}
.secondary{background:#e5e7eb;color:#111827}.secondary:hover{background:#d1d5db}
.actions{display:flex;gap:.75rem;justify-content:flex-end;margin-top:1.5rem;flex-wrap:wrap}
.error{background:#fef2f2;color:#991b1b;border:1px solid #fecaca;border-radius:8px;padding:.6rem .75rem;margin:0 0 1rem}
.muted{color:#6b7280;font-size:.9rem}
ul.scopes{padding-left:1.2rem}
code{font-size:.85em;background:#f3f4f6;padding:.1rem .3rem;border-radius:4px;word-break:break-all}
@media (max-width:480px){.card{padding:1.25rem}.actions button{flex:1}}
`;
