/**
 * What test/ops/proxy.test.ts needs around nginx: finding it, a throwaway CA and server
 * certificate (openssl), deploy/nginx.conf rendered with its placeholders filled in and run
 * under a prefix folder of its own, and an https client with a cookie jar that trusts the test
 * CA and reports which node served each request.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where nginx is: GRANTRY_NGINX, else where Debian's nginx packages put it. */
export const NGINX_PATH = process.env.GRANTRY_NGINX ?? '/usr/sbin/nginx';

function runs(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

/**
 * Whether the proxy test can run here (pass it to describe.runIf): nginx and openssl that run.
 * A machine without them skips the test with a note on stderr; CI installs nginx and sets
 * GRANTRY_REQUIRE_OPS=1, which turns a missing one into an error instead of a quiet skip.
 */
export const nginxAvailable = existsSync(NGINX_PATH) && runs(NGINX_PATH, ['-v']) && runs('openssl', ['version']);
if (!nginxAvailable && process.env.GRANTRY_REQUIRE_OPS === '1') throw new Error(`GRANTRY_REQUIRE_OPS=1 but nginx (${NGINX_PATH}) or openssl does not run here`);
if (!nginxAvailable) process.stderr.write(`\nProxy test not run: no runnable nginx at ${NGINX_PATH} or no openssl (apt-get install -y nginx-light openssl).\n`);

/** The shipped configuration, the one the deployment guide shows. */
export const NGINX_CONF = fileURLToPath(new URL('../../deploy/nginx.conf', import.meta.url));

export interface Certificates {
  ca: string;
  certificate: string;
  key: string;
}

/**
 * A CA and a server certificate it signed, for localhost and 127.0.0.1, in `dir` (P-256 keys:
 * made in milliseconds). Returns the CA's PEM and the paths nginx reads.
 */
export function makeCertificates(dir: string): Certificates {
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...newKey, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=Grantry test CA');
  openssl('req', ...newKey, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(file('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', file('server.ext'), '-out', file('server.pem'));
  return { ca: readFileSync(file('ca.pem'), 'utf8'), certificate: file('server.pem'), key: file('server.key') };
}

/**
 * deploy/nginx.conf with every @@NAME@@ placeholder replaced by `values[NAME]`; throws when the
 * file has a placeholder `values` lacks, or `values` names one the file no longer has, so the
 * test and the file cannot drift apart.
 */
export function renderNginxConf(values: Record<string, string>): string {
  const template = readFileSync(NGINX_CONF, 'utf8');
  const used = new Set<string>();
  const rendered = template.replace(/@@([A-Z0-9_]+)@@/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`deploy/nginx.conf has a placeholder @@${name}@@ the test does not fill in`);
    used.add(name);
    return value;
  });
  const unused = Object.keys(values).filter((name) => !used.has(name));
  if (unused.length > 0) throw new Error(`deploy/nginx.conf no longer has the placeholders ${unused.join(', ')}`);
  return rendered;
}

/** Waits until something accepts TCP connections on 127.0.0.1:`port`, or fails after `timeoutMs`. */
async function waitForPort(port: number, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    if (!alive() || Date.now() > deadline) throw new Error(`nothing accepted connections on port ${port}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface RunningNginx {
  /** The error log's text (nginx writes its complaints there, not to the terminal). */
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * nginx in the foreground with `prefix` as its prefix folder: a main configuration of the test's
 * own (pid, logs and temporary files inside `prefix`, one worker so that round-robin is one
 * sequence) that includes `httpConf` in its http block, as Debian's nginx.conf includes conf.d.
 */
export async function startNginx(prefix: string, httpConf: string, port: number): Promise<RunningNginx> {
  writeFileSync(path.join(prefix, 'grantry.conf'), httpConf);
  const errorLog = path.join(prefix, 'error.log');
  writeFileSync(
    path.join(prefix, 'nginx.conf'),
    [
      'worker_processes 1;',
      `pid ${path.join(prefix, 'nginx.pid')};`,
      `error_log ${errorLog} warn;`,
      'events { worker_connections 256; }',
      'http {',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(prefix, `${t}_temp`)};`),
      '  include grantry.conf;',
      '}',
      '',
    ].join('\n'),
  );
  // As root, nginx's workers would run as nobody: keep them as the test's user (they read nothing
  // the master has not opened, but write temporary files under `prefix`).
  const user = process.getuid?.() === 0 ? ['-g', 'daemon off; user root;'] : ['-g', 'daemon off;'];
  const child: ChildProcess = spawn(NGINX_PATH, ['-p', prefix, '-c', path.join(prefix, 'nginx.conf'), ...user], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const readLog = () => (existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '');
  try {
    await waitForPort(port, 10_000, () => child.exitCode === null && child.signalCode === null);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`nginx did not start: ${(e as Error).message}\n${stderr}${readLog()}`);
  }
  return {
    errorLog: readLog,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM'); // nginx's fast shutdown
      await exited;
    },
  };
}

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The node that served it: host:port from the test's X-Grantry-Upstream header. */
  upstream: string;
}

/**
 * A client of https://localhost:<port> that trusts the test CA, keeps cookies like a browser
 * (name → value; an expired or empty one is dropped), never follows redirects, and opens a
 * connection per request.
 */
export class HttpsClient {
  readonly cookies = new Map<string, string>();

  constructor(
    readonly origin: string,
    private readonly ca: string,
  ) {}

  request(method: string, pathOrUrl: string, options: { form?: Record<string, string>; headers?: Record<string, string>; cookies?: boolean } = {}): Promise<HttpsResponse> {
    const url = new URL(pathOrUrl, this.origin);
    const headers: Record<string, string> = { ...options.headers };
    const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    if (options.cookies !== false && this.cookies.size > 0) headers.cookie = [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ');
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, { method, headers, ca: this.ca, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => {
          if (options.cookies !== false) this.absorb(res.headers['set-cookie'] ?? []);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, upstream: String(res.headers['x-grantry-upstream'] ?? '') });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  get(pathOrUrl: string, headers: Record<string, string> = {}) {
    return this.request('GET', pathOrUrl, { headers });
  }

  post(pathOrUrl: string, form: Record<string, string>, headers: Record<string, string> = {}) {
    return this.request('POST', pathOrUrl, { form, headers });
  }

  private absorb(lines: string[]): void {
    for (const line of lines) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || attributes.some((a) => /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}
