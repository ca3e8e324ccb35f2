import type { Grantry } from '../app.js';
import type { BrowserSessions } from './browser-session.js';

/** What every route plugin gets: the core and the browser session helper. */
export interface HttpContext {
  grantry: Grantry;
  browser: BrowserSessions;
}
