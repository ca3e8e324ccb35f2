import type { Grantry } from '../app.js';
import type { BrowserSessions } from './browser-session.js';
import type { CorsPolicy } from './cors.js';
import type { Branding } from './views/brand.js';

/** What every route plugin gets: the core, the browser session helper, the CORS policy and each side's brand for its pages. */
export interface HttpContext {
  grantry: Grantry;
  browser: BrowserSessions;
  cors: CorsPolicy;
  branding: Branding;
}
