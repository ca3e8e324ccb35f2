/**
 * What every test in test/browser needs around Debian's Chromium (driven by playwright-core),
 * written once: finding the browser and launching it, a page axe-core can be injected into, the
 * accessibility check, the screenshots at desktop and phone width, a loopback redirect URI, and
 * keyboard navigation. The tests keep what they check; this module only drives the browser.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { type Backend, BACKENDS } from './backends.js';

/** Where the browser is: GRANTRY_CHROMIUM, else where Debian's chromium package puts it. */
export const CHROMIUM_PATH = process.env.GRANTRY_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Whether the browser tests can run here (pass it to describe.runIf). A machine without Chromium
 * skips them with a note on stderr, so that `npm test` works anywhere; CI installs Chromium and
 * sets GRANTRY_REQUIRE_BROWSER=1, which turns a missing one into an error instead of a quiet skip.
 */
export const chromiumAvailable = existsSync(CHROMIUM_PATH);
if (!chromiumAvailable && process.env.GRANTRY_REQUIRE_BROWSER === '1') throw new Error(`GRANTRY_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM_PATH}`);
if (!chromiumAvailable) process.stderr.write(`\nBrowser tests not run: no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium).\n`);

/**
 * Chromium, headless, as it runs in a container: no sandbox (it needs privileges containers
 * lack), no GPU (there is none), and no background requests (the tests have no network and must
 * not depend on one).
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/**
 * A page in a fresh context that bypasses the CSP, which axe-core needs to be injected (the
 * pages still send their CSP, and a context without bypassCSP is how a test checks it holds).
 * Waits give up after 10 seconds, so a missing element fails with its own message well before
 * the test's timeout.
 */
export async function newPageForAxe(browser: Browser): Promise<Page> {
  const page = await (await browser.newContext({ bypassCSP: true })).newPage();
  page.setDefaultTimeout(10_000);
  return page;
}

/** Read once per test file: it is injected into every page checked. */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The part of an axe-core result the failure lines name. */
interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/**
 * axe-core's serious and critical violations on the page (moderate and minor ones are not
 * failures), one line each naming `pageName`, the rule and the elements. Returned rather than
 * asserted, so that a test collects every page's lines and reports them all at once.
 */
export async function seriousAccessibilityViolations(page: Page, pageName: string): Promise<string[]> {
  await page.addScriptTag({ content: AXE_SOURCE });
  const violations = (await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
    return (await axe.run()).violations;
  })) as AxeViolation[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${pageName}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/**
 * test-artifacts/<name>/, where a test file's screenshots go for a person to look at (git
 * ignores the folder; playwright makes it on the first screenshot).
 */
export function artifactsFolder(name: string): string {
  return path.resolve('test-artifacts', name);
}

/**
 * Full-page screenshots at desktop (1280 px) and phone (390 px) width, as <pageName>-<width>.png
 * in `folder`, so the responsive layout can be looked at; the page gets its size back after.
 */
export async function screenshotAtDesktopAndPhoneWidths(page: Page, folder: string, pageName: string): Promise<void> {
  const size = page.viewportSize();
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 1280 ? 800 : 844 });
    await page.screenshot({ path: path.join(folder, `${pageName}-${width}.png`), fullPage: true });
  }
  if (size) await page.setViewportSize(size);
}

/**
 * axe-core's serious violations and the two screenshots of a page, on the first backend only:
 * the HTML is the same on SQLite and PostgreSQL, so a second pass would only overwrite the same
 * files and double the slowest tests of the suite. The flows and the page's own assertions still
 * run on every backend.
 */
export async function auditAndPhotograph(page: Page, folder: string, pageName: string, backend: Backend): Promise<string[]> {
  if (backend !== BACKENDS[0]) return [];
  const failures = await seriousAccessibilityViolations(page, pageName);
  await screenshotAtDesktopAndPhoneWidths(page, folder, pageName);
  return failures;
}

/**
 * A loopback HTTP server standing for the client application: it answers any request with what
 * it received, so the browser ends the flow on a real page whose URL holds the code or error.
 * Resolves to its redirect URI (http://127.0.0.1:<port>/callback) and its shutdown.
 */
async function startRedirectTarget(): Promise<{ uri: string; close(): Promise<void> }> {
  const app = createServer((request, response) => response.end(`received ${request.url}`));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  return {
    uri: `http://127.0.0.1:${(app.address() as AddressInfo).port}/callback`,
    close: () => new Promise<void>((resolve) => app.close(() => resolve())),
  };
}

/** What the tests of a describe block drive: set by its beforeAll, so read it in tests and hooks. */
export interface ChromiumAndClientApplication {
  browser: Browser;
  /** The client application's redirect URI: register it on the client, read the code from page.url(). */
  callback: string;
}

/**
 * Launches Chromium and starts a redirect target for the tests of the describe block it is
 * called in, and closes both after them. Call it after the block's own beforeAll and afterAll
 * that start and close the test server: vitest runs before-hooks in order and after-hooks in
 * reverse, so the server is up before the browser and outlives it.
 */
export function useChromiumAndClientApplication(): ChromiumAndClientApplication {
  const shared = {} as ChromiumAndClientApplication;
  let redirectTarget: { close(): Promise<void> } | undefined;
  beforeAll(async () => {
    const target = await startRedirectTarget();
    redirectTarget = target;
    shared.callback = target.uri;
    shared.browser = await launchChromium();
  });
  afterAll(async () => {
    await shared.browser?.close();
    await redirectTarget?.close();
  });
  return shared;
}

/**
 * Presses Tab until the focused element's aria-label, text or id is `name` (at most 40 times),
 * and fails if it never is: proof that a keyboard user reaches the control, unlike a click.
 */
export async function tabTo(page: Page, name: string): Promise<void> {
  for (let i = 0; i < 40; i += 1) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const element = (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null; textContent: string | null; id: string } | null } }).document.activeElement;
      return element ? [element.getAttribute('aria-label') ?? '', (element.textContent ?? '').trim(), element.id] : [];
    });
    if (focused.includes(name)) return;
  }
  throw new Error(`"${name}" cannot be reached with the Tab key`);
}
