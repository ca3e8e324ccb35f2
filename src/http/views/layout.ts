import { html, type SafeHtml } from './html.js';
import type { AccentPalette } from './palette.js';

/** One side's brand, as a page needs it. */
export interface Brand {
  /** The side's product name ("Acme Store"): in every title, and in the header (or as the logo's alt text). */
  name: string;
  /** Shown in the header instead of the name, when configured. */
  logoUrl?: string;
  /** The stylesheet's URL, versioned by its content so that a changed colour is never served from a cache. */
  stylesheet: string;
}

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

/**
 * The frame of the sign-in, consent, account and error pages: the side's logo or product name,
 * one h1, the body. The title says the page and the product ("Sign in · Acme Store"); the
 * heading may say more than the title (which application asks).
 */
export function layout(brand: Brand, title: string, body: SafeHtml, options: { heading?: string } = {}): string {
  return html`${documentHead(`${title} · ${brand.name}`, brand.stylesheet)}
<body>
<main class="card">
<header>${brand.logoUrl ? html`<img class="logo" src="${brand.logoUrl}" alt="${brand.name}">` : html`<span class="brand">${brand.name}</span>`}</header>
<h1>${options.heading ?? title}</h1>
${body}
</main>
</body>
</html>
`.value;
}

/** The pages' stylesheet, with the accent colour (Branding builds it once per server). */
export const pageStylesheet = (colour: AccentPalette): string => `
*,*::before,*::after{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:1rem;
  font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;color:#111827}
.card{width:100%;max-width:26rem;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 1px 3px rgba(0,0,0,.1),0 8px 24px rgba(0,0,0,.06)}
header{display:flex;align-items:center;margin-bottom:1rem;min-height:2rem}
.brand{font-weight:700;font-size:1.05rem;letter-spacing:.01em;color:${colour.strong};overflow-wrap:anywhere}
.logo{display:block;max-height:2.5rem;max-width:12rem;height:auto;width:auto}
a{color:${colour.strong}}
:focus-visible{outline:2px solid ${colour.strong};outline-offset:2px}
h1{font-size:1.35rem;margin:0 0 1rem}
label{display:block;font-weight:600;font-size:.9rem;margin:.75rem 0 .25rem}
input[type=text],input[type=email],input[type=password]{width:100%;padding:.6rem .75rem;border:1px solid #d1d5db;border-radius:8px;font:inherit}
input:focus{outline:2px solid ${colour.strong};outline-offset:1px;border-color:${colour.strong}}
button{font:inherit;font-weight:600;border:0;border-radius:8px;padding:.65rem 1.1rem;cursor:pointer}
.primary{background:${colour.accent};color:${colour.onAccent}}.primary:hover{background:${colour.hover}}
.secondary{background:#e5e7eb;color:#111827}.secondary:hover{background:#d1d5db}
a.button{display:inline-block;font-weight:600;border-radius:8px;padding:.65rem 1.1rem;text-decoration:none;text-align:center;white-space:nowrap}
.actions{display:flex;gap:.75rem;justify-content:flex-end;margin-top:1.5rem;flex-wrap:wrap}
.error{background:#fef2f2;color:#991b1b;border:1px solid #fecaca;border-radius:8px;padding:.6rem .75rem;margin:0 0 1rem}
.muted{color:#4b5563;font-size:.9rem}
.technical{color:#4b5563;font-size:.8rem;margin-top:1.25rem;border-top:1px solid #e5e7eb;padding-top:.75rem;overflow-wrap:anywhere}
.card>:last-child{margin-bottom:0}
ul.scopes{padding-left:1.2rem}
code{font-size:.85em;background:#f3f4f6;padding:.1rem .3rem;border-radius:4px;word-break:break-all}
.notice{background:#ecfdf5;color:#065f46;border:1px solid #a7f3d0;border-radius:8px;padding:.6rem .75rem;margin:0 0 1rem}
.hint{color:#4b5563;font-size:.85rem;margin:0 0 .25rem}
input[aria-invalid=true]{border-color:#b91c1c;border-width:2px}
.account-nav ul{list-style:none;margin:0 0 1.25rem -.5rem;padding:0;display:flex;flex-wrap:wrap;gap:.25rem .5rem;font-size:.9rem}
.account-nav a{display:inline-block;padding:.2rem .5rem;border-radius:6px}
.account-nav a[aria-current=page]{background:#f3f4f6;color:#111827;font-weight:600;text-decoration:none}
.account-links,ul.apps{list-style:none;margin:0;padding:0}
.account-links li,ul.apps>li{border-top:1px solid #e5e7eb;padding:.75rem 0}
.account-links a{font-weight:600}
.account-links .muted{display:block}
ul.apps h2{font-size:1.05rem;margin:0 0 .25rem;overflow-wrap:anywhere}
ul.apps p{margin:.25rem 0}
ul.apps ul.scopes{margin:.25rem 0;list-style:disc}
.dates{font-size:.9rem;color:#4b5563}
@media (max-width:480px){.card{padding:1.25rem}.actions button,.actions a.button{flex:1}}
`;
