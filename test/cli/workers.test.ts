/**
 * `grantry start --workers N`: N real server processes on one port, sharing the database. The
 * workers are found as the primary's children in /proc, and the one serving a connection as the
 * process holding its socket.
 */
import net from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { TestBrowser } from '../helpers/browser.js';
import { childrenOf, eventually, isRunning, LISTENING_LINE, PinnedConnection, type RunningCluster, servingPid, startCluster, WORKERS_LINE } from '../helpers/cluster.js';
import { type DataDir, freshDataDir } from '../helpers/server.js';
import { CliProcess, cliEnv, expectFailure, okJson, onlyJson, runCli } from './run.js';

const ADMIN_PASSWORD = 'cluster-admin-pass-1';
const WORKER_START_TIMEOUT = 180_000;

/** Kills whatever is left of a cluster after a failed assertion. */
function killCluster(cluster: RunningCluster | undefined, primary?: CliProcess): void {
  const p = cluster?.process ?? primary;
  if (!p) return;
  for (const pid of childrenOf(p.child.pid as number)) process.kill(pid, 'SIGKILL');
  p.kill();
}

/** Opens connections until one is served by each of `pids`; returns them by pid. */
async function connectionsTo(url: string, port: number, pids: number[]): Promise<Map<number, PinnedConnection>> {
  const found = new Map<number, PinnedConnection>();
  for (let attempt = 0; attempt < 8 * pids.length && found.size < pids.length; attempt += 1) {
    const connection = new PinnedConnection(url);
    const jwks = await connection.request('GET', '/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(jwks.headers['content-type']).toMatch(/^application\/json/);
    expect(Array.isArray(jwks.json.keys) && jwks.json.keys.length > 0).toBe(true);
    const holders = servingPid(port, connection.localPort as number, pids);
    expect(holders, `the connection from port ${connection.localPort} is served by one worker`).toHaveLength(1);
    const pid = holders[0] as number;
    if (found.has(pid)) connection.close();
    else found.set(pid, connection);
  }
  return found;
}

const apiUsers = (connection: PinnedConnection, token: string) =>
  connection.request('GET', '/admin/api/users', { accept: 'application/vnd.api+json', authorization: `Bearer ${token}` });

const clientCredentials = (connection: PinnedConnection, client: { client_id: string; client_secret: string }) => {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret }).toString();
  return connection.request('POST', '/oauth2-token', { 'content-type': 'application/x-www-form-urlencoded' }, body);
};

describe.each(BACKENDS)('grantry start --workers (%s)', (backend) => {
  let data: DataDir;
  let env: Record<string, string>;
  let configFile: string;

  beforeAll(async () => {
    data = await freshDataDir(backend, 'grantry-cli-workers-');
    configFile = path.join(data.dir, 'grantry.json');
    // The number of workers from the config file's key this time.
    writeFileSync(configFile, JSON.stringify({ workers: 2 }));
    // Idle connections pinned to a worker stay open while the test waits for restarts.
    env = cliEnv(data.dir, data.databaseUrl, { PORT: '0', GRANTRY_ADMIN_PASSWORD: ADMIN_PASSWORD, GRANTRY_CONFIG: configFile, GRANTRY_KEEP_ALIVE_TIMEOUT: '600' });
  });
  afterAll(() => data?.remove());

  it(
    'serves one port from two processes sharing the database; a killed worker is replaced (with a growing pause while it cannot start); SIGTERM stops all with exit 0',
    async () => {
      let cluster: RunningCluster | undefined;
      try {
        cluster = await startCluster([], env);
        const primary = cluster.process.child.pid as number;
        const { url, port } = cluster;
        // The banner, once, names the two workers, which are the primary's children.
        expect(cluster.workers).toHaveLength(2);
        expect(childrenOf(primary)).toEqual([...cluster.workers].sort((a, b) => a - b));
        expect(cluster.process.stdout.match(new RegExp(LISTENING_LINE.source, 'gm'))).toHaveLength(1);
        expect(cluster.process.stdout.match(/^ {2}token endpoint /gm)).toHaveLength(1);
        expect(cluster.process.stdout).toContain(`Created back-office admin "admin".`);
        expect(cluster.process.stdout).not.toContain('shown only this once'); // GRANTRY_ADMIN_PASSWORD was given

        // A client for the first admin, made by the CLI beside the running workers.
        const client = okJson(
          await runCli(['client', 'create', '--side', 'backoffice', '--name', 'Machine', '--type', 'confidential', '--grant', 'client_credentials', '--owner', 'admin', '--json'], env),
        ) as { client_id: string; client_secret: string };

        // Both workers serve connections on the one port.
        const [first, second] = cluster.workers as [number, number];
        const byPid = await connectionsTo(url, port, cluster.workers);
        expect([...byPid.keys()].sort()).toEqual([first, second].sort());
        const onFirst = byPid.get(first) as PinnedConnection;
        const onSecond = byPid.get(second) as PinnedConnection;

        // A token one worker issues, the other accepts: keys and token state are in the database.
        const issued = await clientCredentials(onFirst, client);
        expect(issued.status, issued.body).toBe(200);
        expect(issued.headers['cache-control']).toBe('no-store');
        const token = issued.json.access_token as string;
        const users = await apiUsers(onSecond, token);
        expect(users.status, users.body).toBe(200);
        expect(users.headers['content-type']).toMatch(/^application\/vnd\.api\+json/);
        expect((users.json.data as Array<{ attributes: { username: string } }>).map((u) => u.attributes.username)).toContain('admin');

        // Killing one worker: the port stays served by the other, and a replacement starts.
        onFirst.close();
        process.kill(first, 'SIGKILL');
        await cluster.process.waitFor(new RegExp(`^grantry: warning: worker ${first} exited unexpectedly \\(killed by SIGKILL\\); starting another in 0\\.25 s$`, 'm'), 'stderr');
        const stillServed = await apiUsers(onSecond, token);
        expect(stillServed.status).toBe(200);
        expect((await fetch(`${url}/.well-known/jwks.json`)).status).toBe(200);
        const [, replacement] = await cluster.process.waitFor(/^grantry: worker (\d+) started$/m, 'stderr', WORKER_START_TIMEOUT);
        const third = Number(replacement);
        expect(childrenOf(primary)).toEqual([second, third].sort((a, b) => a - b));
        expect(isRunning(first)).toBe(false);
        const afterRestart = await connectionsTo(url, port, [second, third]);
        const onThird = afterRestart.get(third);
        expect(onThird, 'the replacement serves connections').toBeDefined();
        const fromThird = await apiUsers(onThird as PinnedConnection, token);
        expect(fromThird.status).toBe(200);
        for (const c of afterRestart.values()) c.close();

        // A replacement that cannot start (its config file broke meanwhile) is tried again, each
        // time after twice the pause: no busy loop, and the other worker keeps serving.
        writeFileSync(configFile, JSON.stringify({ workers: 2, access_token_ttl: 'forever' }));
        process.kill(third, 'SIGKILL');
        const failing = /^grantry: warning: worker \d+ could not start: invalid setting "access_token_ttl" in .*grantry\.json: must be a whole number from 60 to 86400, got "forever"\ngrantry: warning: worker \d+ exited unexpectedly \(exit code 2\); starting another in ([\d.]+) s$/gm;
        await cluster.process.waitFor(new RegExp(`(${failing.source}[\\s\\S]*){3}`, 'm'), 'stderr', WORKER_START_TIMEOUT);
        const pauses = [...cluster.process.stderr.matchAll(failing)].map((m) => Number(m[1]));
        expect(pauses.length).toBeGreaterThanOrEqual(3);
        for (let i = 1; i < pauses.length; i += 1) expect(pauses[i]).toBe(Math.min(2 * (pauses[i - 1] as number), 30));
        expect((await apiUsers(onSecond, token)).status).toBe(200);
        // Mended, the next attempt serves again.
        writeFileSync(configFile, JSON.stringify({ workers: 2 }));
        const started = cluster.process.stderr.match(/^grantry: worker \d+ started$/gm)?.length ?? 0;
        await eventually('a worker to start after the mend', () => (cluster?.process.stderr.match(/^grantry: worker \d+ started$/gm)?.length ?? 0) > started, WORKER_START_TIMEOUT);
        const workers = childrenOf(primary);
        expect(workers).toHaveLength(2);
        expect(workers).toContain(second);
        onSecond.close();

        // SIGTERM to the primary: every worker closes and exits, then the primary, with 0.
        cluster.process.child.kill('SIGTERM');
        expect(await cluster.process.exited).toEqual({ code: 0, signal: null });
        for (const pid of workers) expect(isRunning(pid), `worker ${pid} is gone`).toBe(false);
        expect(cluster.process.stdout).toMatch(/\nReceived SIGTERM, shutting down\.\.\.\nStopped\.\n$/);
        expect(cluster.process.stderr).not.toMatch(/^\s+at /m);
        expect(cluster.process.stderr).not.toContain('did not close cleanly');
      } finally {
        killCluster(cluster);
      }
    },
    WORKER_START_TIMEOUT * 2,
  );
});

describe('grantry start --workers on an empty database', () => {
  it(
    'GRANTRY_WORKERS=auto starts one worker per CPU; the first admin is created once, its password printed once; --json prints one object; SIGINT exits 0',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'grantry-cli-workers-'));
      let cluster: RunningCluster | undefined;
      try {
        const env = cliEnv(dir, undefined, { PORT: '0', PUBLIC_URL: 'https://login.example', GRANTRY_WORKERS: 'auto' });
        const expected = Math.min(availableParallelism(), 64);
        cluster = await startCluster(['--json'], env);
        const primary = cluster.process.child.pid as number;
        expect(cluster.workers).toHaveLength(expected);
        expect(childrenOf(primary)).toEqual([...cluster.workers].sort((a, b) => a - b));
        await cluster.process.waitFor(/^\{.*\}\n/);
        const json = onlyJson({ code: 0, stdout: cluster.process.stdout, stderr: cluster.process.stderr });
        expect(json).toEqual({
          url: cluster.url,
          public_url: 'https://login.example',
          sides: [
            { name: 'backoffice', issuer: 'https://login.example/admin', authorize_url: 'https://login.example/admin/oauth2-token/authorize', login_url: 'https://login.example/admin/oauth2-token/login', api_url: 'https://login.example/admin/api' },
            { name: 'storefront', issuer: 'https://login.example', authorize_url: 'https://login.example/oauth2-token/authorize', login_url: 'https://login.example/oauth2-token/login', api_url: 'https://login.example/api' },
          ],
          workers: expected,
        });
        // The primary prepared the database once: one key, one admin, one password, one banner.
        const stderr = cluster.process.stderr;
        expect(stderr.match(/^Generated a RS256 signing key in .*signing-key\.rs256\.pem \(mode 0600\)\.$/gm)).toHaveLength(1);
        expect(stderr.match(/^Created back-office admin "admin"\.$/gm)).toHaveLength(1);
        const passwords = [...stderr.matchAll(/shown only this once: (\S+)$/gm)].map((m) => m[1]);
        expect(passwords).toHaveLength(1);
        expect(stderr.match(new RegExp(LISTENING_LINE.source, 'gm'))).toHaveLength(1);
        expect(stderr.match(new RegExp(WORKERS_LINE.source, 'gm'))).toHaveLength(1);

        // The printed password is the admin's, whichever worker serves the sign-in.
        const browser = new TestBrowser(cluster.url);
        const page = await browser.get('/admin/oauth2-token/login');
        expect(page.status).toBe(200);
        const csrf = /name="csrf_token"[^>]*value="([^"]*)"/.exec(page.body)?.[1] ?? '';
        const login = await browser.post('/admin/oauth2-token/login', { csrf_token: csrf, login: 'admin', password: passwords[0] as string });
        expect(login.status).toBe(303);
        const users = okJson(await runCli(['user', 'list', '--side', 'backoffice', '--json'], env));
        expect((users.users as Array<{ username: string }>).map((u) => u.username)).toEqual(['admin']);

        cluster.process.child.kill('SIGINT');
        expect(await cluster.process.exited).toEqual({ code: 0, signal: null });
        for (const pid of cluster.workers) expect(isRunning(pid)).toBe(false);
        expect(cluster.process.stdout.trim().split('\n')).toHaveLength(1);
        expect(cluster.process.stderr).toMatch(/\nReceived SIGINT, shutting down\.\.\.\nStopped\.\n$/);
      } finally {
        killCluster(cluster);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    WORKER_START_TIMEOUT,
  );

  it(
    'a SIGTERM while the workers start still ends cleanly, exit 0, every worker gone',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'grantry-cli-workers-'));
      const server = new CliProcess(['start', '--workers', '2'], cliEnv(dir, undefined, { PORT: '0', GRANTRY_ADMIN_PASSWORD: ADMIN_PASSWORD }));
      try {
        const primary = server.child.pid as number;
        // The workers exist once the primary has prepared the database: stop them as they start.
        const workers = await eventually('the first worker', () => {
          const children = childrenOf(primary);
          return children.length > 0 ? children : undefined;
        });
        server.child.kill('SIGTERM');
        expect(await server.exited).toEqual({ code: 0, signal: null });
        for (const pid of workers) expect(isRunning(pid)).toBe(false);
        expect(server.stdout).toMatch(/Received SIGTERM, shutting down\.\.\.\nStopped\.\n$/);
        expect(server.stderr).not.toContain('warning');
        expect(server.stderr).not.toMatch(/^\s+at /m);
        // The database was prepared, and is whole.
        const users = okJson(await runCli(['user', 'list', '--side', 'backoffice', '--json'], cliEnv(dir, undefined)));
        expect((users.users as Array<{ username: string }>).map((u) => u.username)).toEqual(['admin']);
      } finally {
        killCluster(undefined, server);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    WORKER_START_TIMEOUT,
  );

  it(
    'a worker that cannot start fails the start with its reason (the port is taken): exit 1, no worker left',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'grantry-cli-workers-'));
      const taken = net.createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const port = (taken.address() as net.AddressInfo).port;
      const server = new CliProcess(['start', '--workers', '2'], cliEnv(dir, undefined, { PORT: String(port), GRANTRY_ADMIN_PASSWORD: ADMIN_PASSWORD }));
      try {
        const exited = await server.exited;
        expect(exited).toEqual({ code: 1, signal: null });
        expectFailure({ code: exited.code, stdout: server.stdout, stderr: server.stderr }, 1, `grantry: bind EADDRINUSE 127.0.0.1:${port}`);
        expect(server.stdout).not.toContain('Grantry listening');
        expect(childrenOf(server.child.pid as number)).toEqual([]);
      } finally {
        killCluster(undefined, server);
        taken.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    WORKER_START_TIMEOUT,
  );
});

describe('the workers setting', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'grantry-cli-workers-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const RULE = 'must be a whole number from 1 to 64, or auto (one per CPU)';

  it.each([
    [['--workers', '0'], {}, `grantry: invalid --workers: ${RULE}, got "0"`],
    [['--workers', '65'], {}, `grantry: invalid --workers: ${RULE}, got "65"`],
    [['--workers', '1.5'], {}, `grantry: invalid --workers: ${RULE}, got "1.5"`],
    [['--workers', 'all'], {}, `grantry: invalid --workers: ${RULE}, got "all"`],
    [[], { GRANTRY_WORKERS: '-1' }, `grantry: invalid environment variable GRANTRY_WORKERS: ${RULE}, got "-1"`],
  ])('start %j %j is refused with exit 2, starting nothing', async (args, extra, message) => {
    const result = await runCli(['start', ...args], cliEnv(dir, undefined, { PORT: '0', ...extra }));
    expectFailure(result, 2, message);
    expect(result.stdout).toBe('');
    expect(existsSync(path.join(dir, 'grantry.sqlite'))).toBe(false);
  });

  it('a bad value in the config file names the file; --json gives one error object', async () => {
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ workers: 0 }));
    const result = await runCli(['start', '--json', '--config', file], cliEnv(dir, undefined, { PORT: '0' }));
    expectFailure(result, 2, `grantry: invalid setting "workers" in ${file}: ${RULE}, got 0`);
    expect(onlyJson(result)).toEqual({ error: 'invalid_config', message: `invalid setting "workers" in ${file}: ${RULE}, got 0` });
    expect(existsSync(path.join(dir, 'grantry.sqlite'))).toBe(false);
  });

  it('grantry config shows the setting: auto as the number of CPUs, from its source', async () => {
    const auto = okJson(await runCli(['config', '--json'], cliEnv(dir, undefined, { GRANTRY_WORKERS: 'AUTO' })));
    expect(auto.settings.workers).toEqual({ env: 'GRANTRY_WORKERS', value: Math.min(availableParallelism(), 64), source: 'environment' });
    const file = path.join(dir, 'four.json');
    writeFileSync(file, JSON.stringify({ workers: 4 }));
    const fromFile = okJson(await runCli(['config', '--json', '--config', file], cliEnv(dir, undefined)));
    expect(fromFile.settings.workers).toEqual({ env: 'GRANTRY_WORKERS', value: 4, source: 'file' });
    const byDefault = okJson(await runCli(['config', '--json'], cliEnv(dir, undefined)));
    expect(byDefault.settings.workers).toEqual({ env: 'GRANTRY_WORKERS', value: 1, source: 'default' });
  });
});
