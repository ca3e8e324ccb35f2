/** Pieces shared by the console pages: paging, confirmation, error pages, form fields. */
import { html, SafeHtml } from '../html.js';
import { type ConsoleFrame, consoleLayout, type PageOptions } from './layout.js';

export const PAGE_SIZE = 20;

/** "2024-05-01 12:00 UTC": one unambiguous form for every date the console shows. */
export function when(epoch: number | null | undefined, never = 'never'): string {
  if (epoch === null || epoch === undefined) return never;
  return `${new Date(epoch * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export const yesNo = (value: boolean) => (value ? 'yes' : 'no');

export function badge(on: boolean, yes: string, no: string): SafeHtml {
  return html`<span class="badge ${on ? 'on' : 'off'}">${on ? yes : no}</span>`;
}

/** Previous/next links keeping the other query parameters; the page count in words. */
export function pager(path: string, query: Record<string, string | undefined>, page: number, total: number, size = PAGE_SIZE): SafeHtml {
  const pages = Math.max(1, Math.ceil(total / size));
  const link = (n: number) => {
    const params = new URLSearchParams(Object.entries({ ...query, page: String(n) }).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
    return `${path}?${params}`;
  };
  return html`<nav class="pager" aria-label="Pages">
${page > 1 ? html`<a href="${link(page - 1)}" rel="prev">Previous page</a>` : ''}
<span>Page ${page} of ${pages} (${total} in all)</span>
${page < pages ? html`<a href="${link(page + 1)}" rel="next">Next page</a>` : ''}
</nav>`;
}

/** One cell of a console table: its content, or its content with a class (`id`, `when`, `wrap`: long words may break). */
export type Cell = SafeHtml | string | { value: SafeHtml | string; className: 'id' | 'when' | 'wrap' };

/** A date cell: date and time each kept on one line, so a narrow column breaks only between them. */
export function whenCell(epoch: number | null | undefined, never = 'never'): Cell {
  if (epoch === null || epoch === undefined) return never;
  const [day, time] = when(epoch).split(' ', 2);
  return { value: html`<time datetime="${new Date(epoch * 1000).toISOString()}"><span>${day}</span> <span>${time} UTC</span></time>`, className: 'when' };
}

/**
 * A table in a scrollable region that keyboard users can reach (axe scrollable-region-focusable).
 * Each cell carries its column's name (data-label): on a phone the stylesheet shows every row as
 * a card of "name: value" lines instead of a table wider than the screen.
 */
export function table(caption: string, headers: string[], rows: Cell[][], empty: string): SafeHtml {
  if (rows.length === 0) return html`<p class="panel">${empty}</p>`;
  const cell = (c: Cell, i: number) => {
    const { value, className } = typeof c === 'object' && !(c instanceof SafeHtml) ? c : { value: c, className: undefined };
    return html`<td data-label="${headers[i] ?? ''}"${className ? html` class="${className}"` : ''}>${value}</td>`;
  };
  return html`<div class="table-wrap" role="region" aria-label="${caption}" tabindex="0">
<table class="stack">
<caption>${caption}</caption>
<thead><tr>${headers.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>${rows.map((r) => html`<tr>${r.map(cell)}</tr>
`)}</tbody>
</table>
</div>`;
}

export function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="csrf_token" value="${token}">`;
}

/** A one-button form posting to `action` (state changes only by POST, each with its CSRF token). */
export function postButton(action: string, csrfToken: string, label: string, style: 'primary' | 'secondary' | 'danger', hidden: Record<string, string> = {}): SafeHtml {
  return html`<form method="post" action="${action}">${csrfField(csrfToken)}${Object.entries(hidden).map(([n, v]) => html`<input type="hidden" name="${n}" value="${v}">`)}<button class="${style}" type="submit">${label}</button></form>`;
}

/**
 * The confirmation step of a destructive action: names the object and says what will happen;
 * only its form carries confirm=yes.
 */
export function confirmPage(frame: ConsoleFrame, input: { title: string; question: SafeHtml; consequence: string; action: string; button: string; cancel: string }, options: PageOptions): string {
  return consoleLayout(
    frame,
    input.title,
    html`<div class="panel">
<p>${input.question}</p>
<p class="warning">${input.consequence}</p>
<div class="actions">
<form method="post" action="${input.action}">${csrfField(frame.csrfToken)}<input type="hidden" name="confirm" value="yes"><button class="danger" type="submit">${input.button}</button></form>
<a class="button secondary" href="${input.cancel}">Cancel</a>
</div>
</div>`,
    options,
  );
}

/** 403, 404 and expired-form pages inside the console frame. */
export function consoleErrorPage(frame: ConsoleFrame | undefined, title: string, message: string, options: PageOptions = {}): string {
  return consoleLayout(frame, title, html`<p class="error" role="alert">${message}</p>${frame ? html`<p><a href="${frame.base}">Back to the console</a></p>` : ''}`, options);
}

export type FieldErrors = Record<string, string | undefined>;

/** The error line of one field, tied to it with aria-describedby (see describedBy). */
export function fieldError(errors: FieldErrors, name: string): SafeHtml | '' {
  const message = errors[name];
  return message ? html`<p class="field-error" id="${name}-error">${message}</p>` : '';
}

/** The attributes that mark a field invalid and point at its error line. */
export function invalid(errors: FieldErrors, name: string, hint?: string): SafeHtml {
  const ids = [hint, errors[name] ? `${name}-error` : undefined].filter(Boolean).join(' ');
  return html`${errors[name] ? html` aria-invalid="true"` : ''}${ids ? html` aria-describedby="${ids}"` : ''}`;
}

export function errorSummary(errors: FieldErrors): SafeHtml | '' {
  const general = errors._form;
  const count = Object.entries(errors).filter(([k, v]) => k !== '_form' && v).length;
  if (!general && count === 0) return '';
  return html`<div class="error-summary" role="alert">${general ? html`<p>${general}</p>` : html`<p>Please correct the field marked below.</p>`}</div>`;
}
