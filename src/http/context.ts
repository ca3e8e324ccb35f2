import type { Grantry } from '../app.js';
import type { BrowserSessions } from './browser-session.js';
import type { CorsPolicy } from './cors.js';

/** What every route plugin gets: the core, the browser session helper and the CORS policy. */
export interface HttpContext {
  grantry: Grantry;
  browser: BrowserSessions;
  cors: CorsPolicy;
}
