/**
 * `grantry start --workers N` seen from outside, as an operator's tools see it: the worker
 * processes are the children of the primary (/proc/PID/stat), and the process that serves a
 * connection is the one holding its socket (/proc/net/tcp and /proc/PID/fd).
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import { CliProcess } from '../cli/run.js';

/** The banner line that `start --workers` prints once every worker listens. */
export const WORKERS_LINE = /^ {2}workers {16}(\d+) processes \(pids ([\d, ]+)\)$/m;
export const LISTENING_LINE = /^Grantry listening on (http:\/\/127\.0\.0\.1:(\d+)) \(public URL [^)]+\)$/m;

/** The pids whose parent is `pid`, ascending. */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === pid) children.push(Number(entry));
  }
  return children.sort((a, b) => a - b);
}

/** Whether a process exists (a zombie counts as gone). */
export function isRunning(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The socket inode of the TCP connection between local port `serverPort` and remote port `clientPort`. */
function socketInode(serverPort: number, clientPort: number): string | undefined {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = readFileSync(table, 'utf8').trim().split('\n').slice(1);
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      const local = parseInt((f[1] ?? '').split(':')[1] ?? '', 16);
      const remote = parseInt((f[2] ?? '').split(':')[1] ?? '', 16);
      if (local === serverPort && remote === clientPort) return f[9];
    }
  }
  return undefined;
}

/** Which of `pids` holds the server end of the connection from `clientPort` to `serverPort`. */
export function servingPid(serverPort: number, clientPort: number, pids: number[]): number[] {
  const inode = socketInode(serverPort, clientPort);
  if (inode === undefined) return [];
  return pids.filter((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  });
}

export interface PinnedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Record<string, any>;
}

/** One keep-alive connection: every request goes over the same socket, so to the same worker. */
export class PinnedConnection {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  /** The client's port of the connection, once the first request has gone. */
  localPort?: number;

  constructor(readonly baseUrl: string) {}

  request(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<PinnedResponse> {
    return new Promise((resolve, reject) => {
      const req = http.request(this.baseUrl + path, { method, headers, agent: this.agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let json: Record<string, any> = {};
          try {
            json = JSON.parse(text) as Record<string, any>;
          } catch {
            // not JSON: the assertions on json fail and show the body
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
        });
        res.on('error', reject);
      });
      req.on('socket', (socket) => {
        const note = () => {
          if (this.localPort !== undefined && this.localPort !== socket.localPort) reject(new Error(`the connection was not reused (port ${this.localPort}, then ${socket.localPort})`));
          this.localPort = socket.localPort;
        };
        if (socket.localPort !== undefined) note();
        else socket.once('connect', note);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Polls `check` until it returns a value other than undefined or false; fails after `timeoutMs` with `what`. */
export async function eventually<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RunningCluster {
  process: CliProcess;
  url: string;
  port: number;
  /** The worker pids the banner named. */
  workers: number[];
}

/**
 * Starts `grantry start` with `args` (which make it run workers) and waits for the banner's
 * workers line; the machine may be busy, so starting is given a minute.
 */
export async function startCluster(args: string[], env: Record<string, string>): Promise<RunningCluster> {
  const server = new CliProcess(['start', ...args], env);
  try {
    const [, , pids] = await server.waitFor(WORKERS_LINE, args.includes('--json') ? 'stderr' : 'stdout', 60_000);
    const [, url, port] = (args.includes('--json') ? server.stderr : server.stdout).match(LISTENING_LINE) ?? [];
    return { process: server, url: url as string, port: Number(port), workers: (pids as string).split(', ').map(Number) };
  } catch (e) {
    server.kill();
    throw e;
  }
}
