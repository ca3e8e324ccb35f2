/**
 * The two faces of the platform. Each side is its own issuer with its own user store, login
 * session, authorize endpoint and API audience, so tokens of one side never work on the other.
 */
import type { Config } from '../config/index.js';

export type SideName = 'backoffice' | 'storefront';
export const SIDE_NAMES: readonly SideName[] = ['backoffice', 'storefront'];

export interface Side {
  name: SideName;
  /** URL path prefix of this side's routes: '/admin' for the back office, '' for the storefront. */
  prefix: string;
  /** RFC 8414 issuer identifier. */
  issuer: string;
  /** The `aud` of access tokens for this side's API. */
  audience: string;
  authorizePath: string;
  loginPath: string;
  logoutPath: string;
  /** OpenID Connect UserInfo endpoint (Core §5.3). */
  userinfoPath: string;
  /** OpenID Connect RP-initiated logout (RP-Initiated Logout 1.0 §2). */
  endSessionPath: string;
  /** OpenID Connect Discovery 1.0 §4: the issuer followed by /.well-known/openid-configuration. */
  openidConfigurationPath: string;
  apiPath: string;
  /** The administration console: back office only (it uses the back-office login and session). */
  consolePath?: string;
  /** The signed-in user's own account pages (authorized applications, password). */
  accountPath: string;
  sessionCookie: string;
}

export function buildSides(config: Config): Side[] {
  const secure = config.publicUrl.startsWith('https:');
  // __Host- cookies are bound to the exact host and path '/', which browsers only allow with Secure.
  const cookie = (name: string) => (secure ? `__Host-${name}` : name);
  const make = (name: SideName, prefix: string): Side => ({
    name,
    prefix,
    issuer: config.publicUrl + prefix,
    audience: `${config.publicUrl}${prefix}/api`,
    authorizePath: `${prefix}/oauth2-token/authorize`,
    loginPath: `${prefix}/oauth2-token/login`,
    logoutPath: `${prefix}/oauth2-token/logout`,
    userinfoPath: `${prefix}/oauth2-token/userinfo`,
    endSessionPath: `${prefix}/oauth2-token/end-session`,
    openidConfigurationPath: `${prefix}/.well-known/openid-configuration`,
    apiPath: `${prefix}/api`,
    ...(name === 'backoffice' ? { consolePath: `${prefix}/console` } : {}),
    accountPath: `${prefix}/account`,
    sessionCookie: cookie(name === 'backoffice' ? 'grantry_bo_session' : 'grantry_sf_session'),
  });
  // With the storefront disabled the back office takes the unprefixed paths (as in the original product).
  if (!config.storefrontEnabled) return [make('backoffice', '')];
  return [make('backoffice', `/${config.backendPrefix}`), make('storefront', '')];
}

/** The sides this server serves, looked up by name. */
export class SideRegistry {
  readonly all: readonly Side[];
  private readonly byName: Map<SideName, Side>;

  constructor(config: Config) {
    this.all = buildSides(config);
    this.byName = new Map(this.all.map((s) => [s.name, s]));
  }

  get(name: SideName): Side | undefined {
    return this.byName.get(name);
  }

  /** The side; throws for a side this server does not serve (the storefront when disabled). */
  require(name: SideName): Side {
    const side = this.byName.get(name);
    if (!side) throw new Error(`the ${name} side is not enabled on this server`);
    return side;
  }
}
