/**
 * DATABASE_URL as people read it: which SQLite file or PostgreSQL database it names, with any
 * password masked. Free of the database drivers, so `grantry config` and messages can use it
 * without loading them.
 */
import path from 'node:path';

const MASK = '****';
/** Query parameters that carry a password (libpq's password, and sslpassword). */
const isPasswordParameter = (name: string) => /password/i.test(name);

/**
 * postgres://grantry:s3cret@db/grantry → postgres://grantry:****@db/grantry, and
 * postgres://grantry@db/grantry?password=s3cret → postgres://grantry@db/grantry?password=****
 */
export function withoutPassword(databaseUrl: string): string {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    // Not a URL this parser accepts (the database driver may be more lenient): mask by pattern.
    return databaseUrl
      .replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:)[^/?#@]*@/i, `$1${MASK}@`)
      .replace(/([?&][^=&#]*password[^=&#]*=)[^&#]*/gi, `$1${MASK}`);
  }
  if (url.password) url.password = MASK;
  const names = [...new Set([...url.searchParams.keys()])].filter(isPasswordParameter);
  if (!url.password && names.length === 0) return databaseUrl;
  if (names.length > 0) {
    // Rebuilt by hand, so the other parameters keep their spelling and '*' stays unencoded.
    url.search = url.search
      .slice(1)
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        const name = eq < 0 ? pair : pair.slice(0, eq);
        let decoded = name;
        try {
          decoded = decodeURIComponent(name.replace(/\+/g, ' '));
        } catch {
          // keep the raw name
        }
        return isPasswordParameter(decoded) ? `${name}=${MASK}` : pair;
      })
      .join('&');
  }
  return url.href;
}

/** The file of a sqlite: URL as given ('' or ':memory:' for an in-memory database); undefined for PostgreSQL. */
export function sqliteFileOf(databaseUrl: string): string | undefined {
  if (!databaseUrl.startsWith('sqlite:')) return undefined;
  return databaseUrl.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
}

/**
 * "SQLite database /srv/grantry/var/grantry.sqlite" (the absolute path, so a relative data_dir
 * shows where it really is) or "PostgreSQL database postgres://grantry:****@db/grantry".
 */
export function describeDatabase(databaseUrl: string): string {
  const file = sqliteFileOf(databaseUrl);
  if (file === undefined) return `PostgreSQL database ${withoutPassword(databaseUrl)}`;
  return `SQLite database ${file === '' || file === ':memory:' ? '(in memory)' : path.resolve(file)}`;
}
