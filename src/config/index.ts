/**
 * Every setting Grantry reads, its default, its environment variable and its documentation,
 * in one place. The README's configuration table and `grantry config` are derived from
 * SETTINGS, and a test checks that the README names every one of them.
 *
 * Precedence (highest first): environment variable, config file, default.
 */
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { API_SCOPES } from '../oauth/api-scopes.js';
import { textProblem } from '../security/input.js';
import { DEFAULT_MIN_PASSWORD_LENGTH, MAX_MIN_PASSWORD_LENGTH } from '../security/password-policy.js';

export const SIGNING_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/**
 * Whose X-Forwarded-For the server believes: nobody's (false), the proxies at these addresses
 * and CIDR ranges, or a number of proxy hops in front of it. Fastify (proxy-addr) then takes the
 * client's address as the right-most address of the chain that is not a trusted proxy.
 */
export type TrustProxy = false | string[] | number;

export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  databaseUrl: string;
  dataDir: string;
  backendPrefix: string;
  storefrontEnabled: boolean;
  storefrontName: string;
  backofficeName: string;
  logoUrl: string | undefined;
  accentColor: string;
  accessTokenTtl: number;
  authorizationCodeTtl: number;
  sessionTtl: number;
  signingAlgorithm: SigningAlgorithm;
  signingKeyFile: string;
  signingKey: string | undefined;
  secret: string | undefined;
  adminUsername: string;
  adminEmail: string;
  adminPassword: string | undefined;
  passwordMinLength: number;
  trustProxy: TrustProxy;
  logLevel: string;
  refreshTokenTtl: number;
  refreshGracePeriod: number;
  passwordGrantEnabled: boolean;
  timeOrderedTokens: boolean;
  rememberConsent: boolean;
  scopes: Record<string, string>;
  defaultScope: string;
  corsAllowedOrigins: string[];
  corsAllowedHeaders: string[];
  corsMaxAge: number;
  cleanupInterval: number;
  cleanupBatchSize: number;
  auditRetention: number;
  keyRotationDelay: number;
  keyRefreshInterval: number;
  bruteForceMaxFailures: number;
  bruteForceWindow: number;
  guestMaxAuthorizations: number;
  requestTimeout: number;
  headersTimeout: number;
  keepAliveTimeout: number;
  maxConnections: number;
  /** Server processes `grantry start` runs on one port; 1 runs the server in the start process itself. */
  workers: number;
  /** json, pretty, or auto (pretty when stdout is a terminal). */
  logFormat: LogFormat;
  /** Port of the separate Prometheus listener; undefined serves no metrics. */
  metricsPort: number | undefined;
  metricsHost: string;
  /** Seconds in-flight requests get to finish after SIGTERM/SIGINT before their connections are closed. */
  shutdownTimeout: number;
  /** Seconds /readyz answers 503 after SIGTERM/SIGINT, while still serving, before the server stops accepting. */
  shutdownDelay: number;
  /** Most connections each server process holds to PostgreSQL. */
  databasePoolSize: number;
}

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

type Parser<T> = (raw: unknown) => T;

interface Setting<K extends keyof Config> {
  key: K;
  /** Name in the JSON config file. */
  file: string;
  env: string;
  description: string;
  /** Shown in the docs; undefined means "derived" or "none". */
  defaultText: string;
  parse: Parser<Config[K]>;
}

class ConfigError extends Error {}
export { ConfigError };

const fail = (msg: string): never => {
  throw new ConfigError(msg);
};

const integer =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) fail(`must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return n;
  };

const text: Parser<string> = (raw) => {
  if (typeof raw !== 'string' || raw.trim() === '') fail(`must be a non-empty string, got ${JSON.stringify(raw)}`);
  return (raw as string).trim();
};

const optionalText: Parser<string | undefined> = (raw) => (raw === undefined || raw === '' ? undefined : text(raw));

const boolean: Parser<boolean> = (raw) => {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string') {
    const v = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
  }
  return fail(`must be true or false, got ${JSON.stringify(raw)}`);
};

const publicUrl: Parser<string> = (raw) => {
  const value = text(raw);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(`must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(`must use http or https, got ${url.protocol}`);
  if (url.search || url.hash || url.username || url.password) fail('must not carry a query, fragment or credentials');
  // The issuer is derived from this URL: keep it without a trailing slash.
  return value.replace(/\/+$/, '');
};

const backendPrefix: Parser<string> = (raw) => {
  const value = text(raw).replace(/^\/+|\/+$/g, '');
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(value)) fail(`must be a single path segment of letters, digits, "-" or "_", got ${JSON.stringify(raw)}`);
  if (['api', 'oauth2-token', 'assets', '.well-known', 'account'].includes(value)) fail(`"${value}" is reserved for storefront routes`);
  return value;
};

/** The longest product name: what a browser tab and a phone's header line can show. */
const MAX_PRODUCT_NAME = 60;

/** A product name shown on the pages of one side ("Acme Store"): one line of text. */
const productName: Parser<string> = (raw) => {
  const value = text(raw);
  if (value.length > MAX_PRODUCT_NAME) fail(`must be at most ${MAX_PRODUCT_NAME} characters, got ${value.length}`);
  if (textProblem(value)) fail('must not contain control characters');
  return value;
};

const LOGO_RULE = 'must be an https URL or a path on this server starting with "/"';

/**
 * The logo's address: an https URL (the page CSP then allows images from its origin, and only
 * from it) or a path on this server. Anything else is refused rather than rendered: javascript:
 * and data: URLs, plain http (mixed content, and readable and changeable on the way), and
 * "//host" or "/\host", which a browser reads as another host.
 */
const logoUrl: Parser<string | undefined> = (raw) => {
  if (raw === undefined || raw === '') return undefined;
  const value = text(raw);
  if (value.length > 2000 || !/^[\x21-\x7e]+$/.test(value)) fail(`${LOGO_RULE}, in printable ASCII without spaces (at most 2000 characters)`);
  if (value.startsWith('/')) {
    if (value.startsWith('//') || value.includes('\\')) fail(`${LOGO_RULE}; "//" and "\\" would point at another host, got ${JSON.stringify(value)}`);
    return value;
  }
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:') return fail(`${LOGO_RULE}, got ${JSON.stringify(value)}`);
  if (url.username || url.password) fail('must not carry credentials');
  return url.href;
};

const accentColor: Parser<string> = (raw) => {
  const value = text(raw);
  return /^#[0-9a-fA-F]{6}$/.test(value) ? value.toLowerCase() : fail(`must be a colour written #rrggbb (e.g. #4338ca), got ${JSON.stringify(value)}`);
};

const algorithm: Parser<SigningAlgorithm> = (raw) => {
  const value = text(raw);
  const found = SIGNING_ALGORITHMS.find((a) => a.toLowerCase() === value.toLowerCase());
  return found ?? fail(`must be one of ${SIGNING_ALGORITHMS.join(', ')}, got ${JSON.stringify(value)}`);
};

const logLevel: Parser<string> = (raw) => {
  const value = text(raw);
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  return levels.includes(value) ? value : fail(`must be one of ${levels.join(', ')}`);
};

/** JSON text of a setting; invalid JSON is a ConfigError (named by loadConfig), not a SyntaxError. */
const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch (e) {
    return fail(`is not valid JSON: ${(e as Error).message}`);
  }
};

/** A list from a JSON array or a comma-separated string. */
const list =
  (check: (item: string) => string | undefined): Parser<string[]> =>
  (raw) => {
    let items: unknown = raw;
    if (typeof raw === 'string') items = raw.trim().startsWith('[') ? parseJson(raw) : raw.split(',');
    if (!Array.isArray(items) || !items.every((i) => typeof i === 'string')) return fail('must be a list of strings (JSON array or comma-separated)');
    const values = (items as string[]).map((i) => i.trim()).filter((i) => i !== '');
    for (const v of values) {
      const problem = check(v);
      if (problem) fail(`${JSON.stringify(v)} ${problem}`);
    }
    return [...new Set(values)];
  };

const origin = (value: string) => {
  if (value === '*') return undefined;
  return /^https?:\/\/[A-Za-z0-9.\-]+(:\d{1,5})?$|^https?:\/\/\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(value) ? undefined : 'is not an origin (scheme://host[:port], or *)';
};
const headerName = (value: string) => (/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(value) ? undefined : 'is not a header name');
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Known scopes: a JSON object {"name": "description"} or a comma-separated list of names. */
const scopes: Parser<Record<string, string>> = (raw) => {
  let value: unknown = raw;
  if (typeof raw === 'string') {
    const text = raw.trim();
    value = text.startsWith('{') ? parseJson(text) : Object.fromEntries(text.split(',').map((n) => n.trim()).filter(Boolean).map((n) => [n, n]));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('must be an object of scope names to descriptions, or a comma-separated list of names');
  for (const [name, description] of Object.entries(value)) {
    if (!SCOPE_TOKEN.test(name)) fail(`scope name ${JSON.stringify(name)} has characters RFC 6749 §3.3 does not allow`);
    if (typeof description !== 'string') fail(`the description of scope ${name} must be a string`);
  }
  return value as Record<string, string>;
};

const scopeList: Parser<string> = (raw) => {
  if (typeof raw !== 'string') return fail('must be a space-separated string of scope names');
  const names = raw.split(' ').filter(Boolean);
  if (!names.every((n) => SCOPE_TOKEN.test(n))) fail('has characters RFC 6749 §3.3 does not allow');
  return names.join(' ');
};

const NAME_THE_PROXIES = "list the proxies' addresses (e.g. 127.0.0.1, 10.0.0.0/8) or give a hop count (the number of proxies in front of Grantry)";
const TRUSTS_ANYONE = `would trust any client to name its own address in X-Forwarded-For, and so to escape the per-address limits: ${NAME_THE_PROXIES}`;
const TRUSTS_TOO_MANY = `would trust a large part of the internet to name its own address in X-Forwarded-For, and so to escape the per-address limits (a range of proxies is at most an IPv4 /8 or an IPv6 /16): ${NAME_THE_PROXIES}`;
const MAX_PROXY_HOPS = 100;
/** The widest range of proxies: no proxy network is wider, and a wider range trusts a share of the internet. */
const WIDEST_PREFIX = { 4: 8, 6: 16 } as const;

/**
 * IPv6 spaces that hold an IPv4 address in the bits after their prefix: IPv4-mapped (proxy-addr
 * matches IPv4 clients against it, so ::ffff:0:0/96 alone trusts every IPv4 client),
 * IPv4-compatible, NAT64 (RFC 6052) and 6to4 (RFC 3056).
 */
const IPV4_IN_IPV6: ReadonlyArray<readonly [string, number]> = [['::ffff:0:0', 96], ['::', 96], ['64:ff9b::', 96], ['2002::', 16]];

const subnet = (address: string, prefix: number) => {
  const range = new BlockList();
  range.addSubnet(address, prefix, 'ipv6');
  return range;
};

/**
 * How wide an IPv4 range an IPv6 range trusts through those spaces, as an IPv4 prefix length:
 * 0 when it contains one of them, its prefix less the space's inside one (::ffff:10.0.0.0/104
 * is 10.0.0.0/8), 32 when it holds no IPv4.
 */
const ipv4PrefixWithin = (address: string, prefix: number): number => {
  for (const [space, length] of IPV4_IN_IPV6) {
    if (prefix <= length ? subnet(address, prefix).check(space, 'ipv6') : subnet(space, length).check(address, 'ipv6')) return Math.max(0, prefix - length);
  }
  return 32;
};

/**
 * A trusted proxy's IPv4 or IPv6 address, or a CIDR range of them (as proxy-addr takes it), no
 * wider than a proxy network can be, also when IPv4 addresses are written in IPv6.
 */
const proxyAddress = (value: string): string | undefined => {
  const [address = '', prefix, ...rest] = value.split('/');
  // isIP accepts zone ids (fe80::1%eth0), which proxy-addr does not.
  const version = address.includes('%') || rest.length > 0 || prefix === '' ? 0 : isIP(address);
  if (version === 0) return 'is not an IP address or CIDR range (e.g. 10.0.0.1, 10.0.0.0/8, 2001:db8::/32)';
  if (prefix === undefined) return undefined;
  const bits = version === 4 ? 32 : 128;
  if (/^0+$/.test(prefix)) return TRUSTS_ANYONE;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits) return `needs a prefix length from 1 to ${bits} after the "/"`;
  const length = Number(prefix);
  const tooWide = version === 4 ? length < WIDEST_PREFIX[4] : length < WIDEST_PREFIX[6] || ipv4PrefixWithin(address, length) < WIDEST_PREFIX[4];
  return tooWide ? TRUSTS_TOO_MANY : undefined;
};
const proxyAddresses = list(proxyAddress);

/**
 * trust_proxy: false (or 0, or nothing listed), a hop count, or trusted proxy addresses and
 * CIDR ranges. true is refused rather than read as "trust every X-Forwarded-For": behind a proxy
 * that appends the address it saw, a client could then claim any address it likes.
 */
const trustProxy: Parser<TrustProxy> = (raw) => {
  let value = raw;
  if (typeof raw === 'string') {
    const word = raw.trim().toLowerCase();
    if (['false', 'no', 'off'].includes(word)) value = false;
    else if (['true', 'yes', 'on'].includes(word)) value = true;
    else if (/^\d+$/.test(word)) value = Number(word);
  }
  if (value === false || value === 0) return false;
  if (value === true) return fail(`true ${TRUSTS_ANYONE}`);
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= 1 && value <= MAX_PROXY_HOPS ? value : fail(`a hop count must be a whole number from 1 to ${MAX_PROXY_HOPS}, got ${JSON.stringify(raw)}`);
  }
  const addresses = proxyAddresses(value);
  return addresses.length > 0 ? addresses : false;
};

/** The most server processes `grantry start` runs: more only add memory and database connections. */
export const MAX_WORKERS = 64;

/**
 * workers: a whole number of server processes, or "auto" for one per CPU the process may use
 * (os.availableParallelism(), at most MAX_WORKERS).
 */
const workers: Parser<number> = (raw) => {
  if (typeof raw === 'string' && raw.trim().toLowerCase() === 'auto') return Math.min(availableParallelism(), MAX_WORKERS);
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_WORKERS) fail(`must be a whole number from 1 to ${MAX_WORKERS}, or auto (one per CPU), got ${JSON.stringify(raw)}`);
  return n;
};

const logFormat: Parser<LogFormat> = (raw) => {
  const value = text(raw).toLowerCase();
  return (LOG_FORMATS as readonly string[]).includes(value) ? (value as LogFormat) : fail(`must be one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(raw)}`);
};

/** A port, or nothing (undefined) for "off"; 0 asks the system for a free port. */
const optionalPort: Parser<number | undefined> = (raw) => (raw === undefined || raw === '' ? undefined : integer(0, 65535)(raw));

// Defaults that depend on other settings are resolved in loadConfig().
const DERIVED = Symbol('derived');

function setting<K extends keyof Config>(
  key: K,
  file: string,
  env: string,
  defaultValue: Config[K] | typeof DERIVED,
  parse: Parser<Config[K]>,
  description: string,
  defaultText?: string,
): Setting<K> & { defaultValue: Config[K] | typeof DERIVED } {
  return {
    key,
    file,
    env,
    parse,
    description,
    defaultValue,
    defaultText: defaultText ?? (defaultValue === DERIVED || defaultValue === undefined ? '(none)' : String(defaultValue)),
  };
}

export const SETTINGS = [
  setting('port', 'port', 'PORT', 8080, integer(0, 65535), 'TCP port the HTTP server listens on.'),
  setting('host', 'host', 'HOST', '127.0.0.1', text, 'Address to bind; use 0.0.0.0 to listen on every interface (containers).'),
  setting('publicUrl', 'public_url', 'PUBLIC_URL', DERIVED, publicUrl, 'Public base URL of the server. The storefront issuer is this URL, the back-office issuer is this URL plus the backend prefix. Use https in production: cookies are then marked Secure.', 'http://localhost:{port}'),
  setting('databaseUrl', 'database_url', 'DATABASE_URL', DERIVED, text, 'sqlite:PATH for the embedded SQLite database, or postgres://user@host:port/db for PostgreSQL.', 'sqlite:{data_dir}/grantry.sqlite'),
  setting('dataDir', 'data_dir', 'GRANTRY_DATA_DIR', './var', text, 'Folder for the SQLite file, generated keys and the server secret (created with mode 0700).'),
  setting('backendPrefix', 'backend_prefix', 'GRANTRY_BACKEND_PREFIX', 'admin', backendPrefix, 'Path prefix of the back office (authorize, login and API) when the storefront is enabled.'),
  setting('storefrontEnabled', 'storefront_enabled', 'GRANTRY_STOREFRONT_ENABLED', true, boolean, 'Serve the storefront side. When false, the back office is served without a prefix.'),
  setting('storefrontName', 'storefront_name', 'GRANTRY_STOREFRONT_NAME', 'Store', productName, 'Product name shown on the storefront\'s sign-in, consent, account and error pages and in their titles (1 to 60 characters), e.g. Acme Store.'),
  setting('backofficeName', 'backoffice_name', 'GRANTRY_BACKOFFICE_NAME', 'Back office', productName, 'Product name shown on the back office\'s sign-in, consent, account and error pages and in the console (1 to 60 characters), e.g. Acme Back Office.'),
  setting('logoUrl', 'logo_url', 'GRANTRY_LOGO_URL', undefined, logoUrl, 'Logo shown at the top of the sign-in, consent, account and error pages of both sides instead of the product name (which becomes its alt text): an https URL, whose origin the pages\' Content-Security-Policy then allows for images, or a path on this server starting with /.'),
  setting('accentColor', 'accent_color', 'GRANTRY_ACCENT_COLOR', '#4338ca', accentColor, 'Accent colour (#rrggbb) of buttons, links and focus outlines on the sign-in, consent, account and error pages. Button text is white or near-black, whichever is readable on it; links and outlines use a darker shade when the colour is too light on white.'),
  setting('accessTokenTtl', 'access_token_ttl', 'GRANTRY_ACCESS_TOKEN_TTL', 3600, integer(60, 86400), 'Access token lifetime in seconds (expires_in).'),
  setting('authorizationCodeTtl', 'authorization_code_ttl', 'GRANTRY_AUTHORIZATION_CODE_TTL', 600, integer(10, 600), 'Authorization code lifetime in seconds (RFC 6749 recommends at most 10 minutes).'),
  setting('sessionTtl', 'session_ttl', 'GRANTRY_SESSION_TTL', 28800, integer(60, 2592000), 'Login session lifetime in seconds on the authorization server.'),
  setting('signingAlgorithm', 'signing_algorithm', 'GRANTRY_SIGNING_ALGORITHM', 'RS256', algorithm, 'JWT signing algorithm of access tokens: RS256, PS256, ES256 or EdDSA. It applies to the first key and to keys made by grantry keys rotate; changing it later takes a rotation.'),
  setting('signingKeyFile', 'signing_key_file', 'GRANTRY_SIGNING_KEY_FILE', DERIVED, text, 'PEM file of the private signing key (PKCS#8). Generated with mode 0600 on first start if missing.', '{data_dir}/signing-key.{algorithm}.pem'),
  setting('signingKey', 'signing_key', 'GRANTRY_SIGNING_KEY', undefined, optionalText, 'The private signing key itself, as PEM text; takes precedence over signing_key_file.'),
  setting('secret', 'secret', 'GRANTRY_SECRET', undefined, optionalText, 'Server secret for keyed hashes of client secrets and codes and for CSRF tokens (at least 32 characters). Generated into {data_dir}/secret if unset; every server process of one deployment must share it.'),
  setting('adminUsername', 'admin_username', 'GRANTRY_ADMIN_USERNAME', 'admin', text, 'Username of the back-office admin created on first start.'),
  setting('adminEmail', 'admin_email', 'GRANTRY_ADMIN_EMAIL', 'admin@example.com', text, 'Email of the back-office admin created on first start.'),
  setting('adminPassword', 'admin_password', 'GRANTRY_ADMIN_PASSWORD', undefined, optionalText, 'Password of the admin created on first start; a random one is generated and printed once if unset.'),
  setting('passwordMinLength', 'password_min_length', 'GRANTRY_PASSWORD_MIN_LENGTH', DEFAULT_MIN_PASSWORD_LENGTH, integer(8, MAX_MIN_PASSWORD_LENGTH), 'Minimum length, in characters, of a password being set (CLI, console, account page, first-start admin), from 8 to 24 (the length of generated passwords). New passwords are also refused when they are on the list of common and breached passwords shipped with Grantry or equal to the username, the email address or its local part. Sign-in never applies this policy: existing passwords keep working.'),
  setting('trustProxy', 'trust_proxy', 'GRANTRY_TRUST_PROXY', false, trustProxy, 'Reverse proxies whose X-Forwarded-For (and -Proto, -Host) the server believes: false (none), their IPv4 or IPv6 addresses and CIDR ranges (comma-separated or a JSON array, e.g. 127.0.0.1,10.0.0.0/8), or the number of proxies in front of the server. The client\'s address is then the right-most address in X-Forwarded-For that is not a trusted proxy. true is refused: it would let any client choose its address; so is a range wider than an IPv4 /8 or an IPv6 /16, counting IPv4 written in IPv6 (::ffff:0:0/96) as IPv4.'),
  setting('logLevel', 'log_level', 'GRANTRY_LOG_LEVEL', 'info', logLevel, 'Log level: fatal, error, warn, info, debug, trace or silent. Each request is logged only at debug and trace.'),
  setting('refreshTokenTtl', 'refresh_token_ttl', 'GRANTRY_REFRESH_TOKEN_TTL', 2592000, integer(60, 31536000), 'Refresh token lifetime in seconds (30 days by default). Each refresh rotates the token.'),
  setting('refreshGracePeriod', 'refresh_grace_period', 'GRANTRY_REFRESH_GRACE_PERIOD', 0, integer(0, 300), 'Seconds during which presenting an already-rotated refresh token again returns the pair it was exchanged for, instead of revoking the family (browsers with several tabs). 0 turns it off.'),
  setting('timeOrderedTokens', 'time_ordered_tokens', 'GRANTRY_TIME_ORDERED_TOKENS', true, boolean, 'Issue authorization codes and refresh tokens that start with the time they were made (12 hex digits before 256 random bits), stored under keys in time order, so that their inserts stay fast with millions of stored tokens. Tokens of either shape are accepted whatever the setting. Builds from before this setting cannot find such tokens: when upgrading nodes one at a time from one, set it to false, in the environment (those builds refuse a config file that names it), on the upgraded nodes until every node runs this version and no rollback is planned, then remove it.'),
  setting('passwordGrantEnabled', 'password_grant_enabled', 'GRANTRY_PASSWORD_GRANT_ENABLED', false, boolean, 'Legacy: allow the resource owner password grant (RFC 9700 forbids it) for clients that also have the password grant.'),
  setting('rememberConsent', 'remember_consent', 'GRANTRY_REMEMBER_CONSENT', true, boolean, 'Remember the scopes a user allows an application, so that later authorizations for the same or fewer scopes skip the consent page. false asks every time (and records nothing).'),
  setting('scopes', 'scopes', 'GRANTRY_SCOPES', {}, scopes, 'Scopes of your own resource servers, with the descriptions shown on the consent page: a JSON object {"name": "description"} (or, in the environment, a comma-separated list of names). The scopes of Grantry\'s own API (api, users:read, users:write, applications:read, applications:write) are always known; naming one here changes only its description.', '{}'),
  setting('defaultScope', 'default_scope', 'GRANTRY_DEFAULT_SCOPE', 'api', scopeList, 'Scope granted when a request names none (space-separated), limited to what the client is allowed and its user\'s role may hold.'),
  setting('corsAllowedOrigins', 'cors_allowed_origins', 'GRANTRY_CORS_ALLOWED_ORIGINS', [], list(origin), 'Origins allowed to call the token, revocation, introspection, metadata, JWKS and API endpoints from a browser (comma-separated, or * for any). Never applies to the authorize endpoints.', '(none)'),
  setting('corsAllowedHeaders', 'cors_allowed_headers', 'GRANTRY_CORS_ALLOWED_HEADERS', [], list(headerName), 'Request headers allowed in CORS requests besides Authorization, Content-Type and Accept.', '(none)'),
  setting('corsMaxAge', 'cors_max_age', 'GRANTRY_CORS_MAX_AGE', 600, integer(0, 86400), 'Seconds a browser may cache a CORS preflight answer.'),
  setting('cleanupInterval', 'cleanup_interval', 'GRANTRY_CLEANUP_INTERVAL', 3600, integer(0, 604800), 'Seconds between runs of the cleanup of expired codes, tokens, sessions and keys in the server; 0 turns it off (run grantry cleanup instead).'),
  setting('cleanupBatchSize', 'cleanup_batch_size', 'GRANTRY_CLEANUP_BATCH_SIZE', 1000, integer(1, 100000), 'Rows the cleanup deletes per statement, so it never holds long locks.'),
  setting('auditRetention', 'audit_retention', 'GRANTRY_AUDIT_RETENTION', 90, integer(1, 36500), 'Days the audit trail keeps its events; the cleanup deletes older ones (grantry cleanup and the server\'s own runs).'),
  setting('keyRotationDelay', 'key_rotation_delay', 'GRANTRY_KEY_ROTATION_DELAY', 3600, integer(0, 2592000), 'Seconds between publishing a new signing key in the JWKS (grantry keys rotate) and signing with it, so that resource servers caching the JWKS learn it first.'),
  setting('keyRefreshInterval', 'key_refresh_interval', 'GRANTRY_KEY_REFRESH_INTERVAL', 30, integer(1, 3600), 'Seconds between reloads of the signing keys from the database by each server process.'),
  setting('bruteForceMaxFailures', 'brute_force_max_failures', 'GRANTRY_BRUTE_FORCE_MAX_FAILURES', 5, integer(1, 1000), 'Failed sign-ins (login form and password grant) allowed per login name (a username or an email, normalised, whether or not an account has it) and client IP address within brute_force_window; after that, the name is refused from that address until the window ends. One IP address may fail 20 times this over all names, and a client_id twice this per address (wrong client secrets).'),
  setting('bruteForceWindow', 'brute_force_window', 'GRANTRY_BRUTE_FORCE_WINDOW', 900, integer(10, 86400), 'Seconds during which failed attempts are counted, from the first failure; a key that reached its limit stays blocked until its window ends. The counters live in the database, shared by every server process.'),
  setting('guestMaxAuthorizations', 'guest_max_authorizations', 'GRANTRY_GUEST_MAX_AUTHORIZATIONS', 100, integer(1, 1000000), 'Storefront guest authorizations (GET /oauth2-token/authorize-visitor, each of which stores a grant and a code) allowed per client IP address (IPv6: per /64) within brute_force_window; beyond it the endpoint redirects back with error=temporarily_unavailable and Retry-After until the window ends. Raise it when many visitors share one address (carrier-grade NAT, offices).'),
  // Slow or idle clients must not hold sockets: each one is a file descriptor, and a few hundred
  // held open would leave none for real clients and the database.
  setting('requestTimeout', 'request_timeout', 'GRANTRY_REQUEST_TIMEOUT', 30, integer(1, 3600), 'Seconds a client has to send a whole request (headers and body); a slower one is answered 408 and disconnected. A connection silent for twice this (e.g. not reading its response) is closed.'),
  setting('headersTimeout', 'headers_timeout', 'GRANTRY_HEADERS_TIMEOUT', 10, integer(1, 3600), 'Seconds a client has to send the request headers, from the moment it connects or starts a request; at most request_timeout.'),
  setting('keepAliveTimeout', 'keep_alive_timeout', 'GRANTRY_KEEP_ALIVE_TIMEOUT', 5, integer(1, 3600), 'Seconds an idle keep-alive connection stays open between requests (announced in the Keep-Alive header; Node closes it a second later, so that clients close first). Behind a reverse proxy that reuses connections, make it longer than the proxy\'s own idle timeout.'),
  setting('maxConnections', 'max_connections', 'GRANTRY_MAX_CONNECTIONS', 1000, integer(1, 1000000), 'Open client connections one server process accepts at once; a connection beyond it is closed at once. Keeps file descriptors free for the database and the connections already served (raise the open-files limit, ulimit -n, before raising this).'),
  setting('workers', 'workers', 'GRANTRY_WORKERS', 1, workers, `Server processes grantry start runs on one port (also --workers): a whole number from 1 to ${MAX_WORKERS}, or auto for one per CPU. They share the database and the signing keys; 1 serves from the start process itself. See Several processes.`),
  setting('logFormat', 'log_format', 'GRANTRY_LOG_FORMAT', 'auto', logFormat, 'Format of the log lines on stdout: json (one JSON object per line, for a log collector), pretty (one readable line each), or auto: pretty when stdout is a terminal, json otherwise. Start-up messages and the generated admin password are never log lines.'),
  setting('metricsPort', 'metrics_port', 'GRANTRY_METRICS_PORT', undefined, optionalPort, 'Port of a separate listener that serves GET /metrics in the Prometheus text format (0 takes a free port). Unset: no metrics are served. It has no authentication: keep it on an address only the monitoring system reaches (metrics_host).', '(off)'),
  setting('metricsHost', 'metrics_host', 'GRANTRY_METRICS_HOST', '127.0.0.1', text, 'Address the metrics listener binds (with metrics_port).'),
  setting('shutdownTimeout', 'shutdown_timeout', 'GRANTRY_SHUTDOWN_TIMEOUT', 10, integer(1, 3600), 'Seconds that requests in flight get to finish after SIGTERM or SIGINT; connections still open then are closed, and the database after them.'),
  setting('shutdownDelay', 'shutdown_delay', 'GRANTRY_SHUTDOWN_DELAY', 0, integer(0, 300), 'Seconds between SIGTERM or SIGINT and closing the listener, during which GET /readyz answers 503 while requests are still served: set it to the interval at which your load balancer checks /readyz, so that it stops sending traffic before the node stops accepting.'),
  setting('databasePoolSize', 'database_pool_size', 'GRANTRY_DATABASE_POOL_SIZE', 10, integer(1, 1000), 'PostgreSQL connections each server process keeps at most (every worker of grantry start --workers has its own pool). Keep the sum over all processes and nodes below the server\'s max_connections.'),
] as const;

export interface LoadOptions {
  /** Path of a JSON config file; GRANTRY_CONFIG is used when absent. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Values that win over everything (used by tests and the CLI). */
  overrides?: Partial<Config>;
}

/**
 * A setting's value given some other way than loadConfig() reads (a command-line option):
 * parsed and checked like the environment and the config file, a ConfigError naming `source`.
 */
export function parseSetting<K extends keyof Config>(key: K, raw: unknown, source: string): Config[K] {
  const s = SETTINGS.find((candidate) => candidate.key === key) as Setting<K> | undefined;
  if (!s) throw new Error(`no setting ${key}`);
  try {
    return s.parse(raw);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`invalid ${source}: ${e.message}`);
    throw e;
  }
}

/** Loads and validates the configuration; throws ConfigError naming the setting on bad input. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const configFile = options.configFile ?? env.GRANTRY_CONFIG;
  let fileValues: Record<string, unknown> = {};
  if (configFile) {
    let raw: string;
    try {
      raw = readFileSync(configFile, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${configFile}: ${(e as Error).message}`);
    }
    try {
      fileValues = JSON.parse(raw) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`config file ${configFile} is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof fileValues !== 'object' || fileValues === null || Array.isArray(fileValues)) {
      throw new ConfigError(`config file ${configFile} must hold a JSON object`);
    }
    const known = new Set(SETTINGS.map((s) => s.file));
    for (const name of Object.keys(fileValues)) {
      if (!known.has(name)) throw new ConfigError(`config file ${configFile}: unknown setting "${name}"`);
    }
  }

  const values: Partial<Record<keyof Config, unknown>> = {};
  for (const s of SETTINGS) {
    const override = options.overrides?.[s.key];
    const envValue = env[s.env];
    let raw: unknown;
    let source: string;
    if (override !== undefined) {
      values[s.key] = override;
      continue;
    } else if (envValue !== undefined && envValue !== '') {
      raw = envValue;
      source = `environment variable ${s.env}`;
    } else if (fileValues[s.file] !== undefined) {
      raw = fileValues[s.file];
      source = `setting "${s.file}" in ${configFile}`;
    } else {
      if (s.defaultValue !== DERIVED) values[s.key] = s.defaultValue;
      continue;
    }
    try {
      values[s.key] = s.parse(raw);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`invalid ${source}: ${e.message}`);
      throw e;
    }
  }

  const config = values as Config;
  config.publicUrl ??= `http://localhost:${config.port}`;
  config.databaseUrl ??= `sqlite:${path.join(config.dataDir, 'grantry.sqlite')}`;
  config.signingKeyFile ??= path.join(config.dataDir, `signing-key.${config.signingAlgorithm.toLowerCase()}.pem`);
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(config.databaseUrl)) {
    throw new ConfigError(`invalid DATABASE_URL / database_url: must start with sqlite: or postgres://, got ${JSON.stringify(config.databaseUrl)}`);
  }
  const unknownDefault = config.defaultScope.split(' ').filter((s) => s && !Object.hasOwn(config.scopes, s) && !Object.hasOwn(API_SCOPES, s));
  if (unknownDefault.length > 0) {
    throw new ConfigError(`invalid GRANTRY_DEFAULT_SCOPE / default_scope: ${unknownDefault.join(', ')} is not among the known scopes (scopes)`);
  }
  if (config.headersTimeout > config.requestTimeout) {
    throw new ConfigError(`invalid GRANTRY_HEADERS_TIMEOUT / headers_timeout: must be at most request_timeout (${config.requestTimeout}), got ${config.headersTimeout}`);
  }
  if (config.secret !== undefined && config.secret.length < 32) {
    throw new ConfigError('invalid GRANTRY_SECRET / secret: must be at least 32 characters');
  }
  return config;
}
