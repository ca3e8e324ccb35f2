/**
 * The server's log stream and request ids. Log lines are pino's JSON lines (one object per
 * line, for a log collector) or, for a person at a terminal, one readable line each made by the
 * small formatter below. Every line of a request carries its id (pino's reqId), which the
 * response returns in X-Request-Id.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/index.js';

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * An X-Request-Id a trusted proxy sends is kept when it is this long at most and made of
 * visible ASCII: it is copied into every log line and a response header, where anything else
 * could forge lines or headers.
 */
const SANE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** Whether the peer at `address`, `hop` hops from this server, is a trusted proxy (trust_proxy). */
export type ProxyTrust = (address: string, hop: number) => boolean;

/**
 * Fastify's genReqId: the X-Request-Id of a request that comes straight from a trusted proxy
 * (so that the proxy's log lines and ours share the id), when it is sane; otherwise a fresh
 * random id. A client that connects directly cannot choose its id.
 */
export function requestIdOf(trust: ProxyTrust | false): (request: IncomingMessage) => string {
  return (request) => {
    const sent = request.headers[REQUEST_ID_HEADER];
    const peer = request.socket.remoteAddress;
    if (trust && typeof sent === 'string' && peer !== undefined && SANE_REQUEST_ID.test(sent) && trust(peer, 0)) return sent;
    return randomUUID();
  };
}

/**
 * The id of the request whose handler is running, for log lines written outside its logger
 * (audit events): set once per request around its handler (server.ts).
 */
export const requestContext = new AsyncLocalStorage<string>();

export const currentRequestId = (): string | undefined => requestContext.getStore();

/** Whether log lines written to `out` are made readable: log_format pretty, or auto on a terminal. */
export function isPretty(format: Config['logFormat'], out: NodeJS.WritableStream): boolean {
  return format === 'pretty' || (format === 'auto' && (out as { isTTY?: boolean }).isTTY === true);
}

/** Fastify's logger option: none when silent, else pino at the level, in the format, to `out`. */
export function loggerOptions(config: Config, out: NodeJS.WritableStream): false | { level: string; stream: { write(line: string): void } } {
  if (config.logLevel === 'silent') return false;
  const stream = isPretty(config.logFormat, out) ? { write: (line: string) => void out.write(prettyLine(line)) } : out;
  return { level: config.logLevel, stream };
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** Fields pino adds to every line, or that the readable line shows in its own place. */
const NOT_SHOWN = new Set(['level', 'time', 'pid', 'hostname', 'reqId', 'msg']);

/** A value as key=value shows it: plain when it has no spaces or quotes, else as JSON. */
const shown = (value: unknown) => (typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value));

/** The fields of a nested object worth a key=value each (a request, a response, an error, an audit event). */
function fieldsOf(key: string, value: unknown): Array<[string, unknown]> {
  if (value === null || typeof value !== 'object') return [[key, value]];
  const entries = Object.entries(value as Record<string, unknown>).filter(([k, v]) => v !== null && v !== undefined && k !== 'stack' && typeof v !== 'object');
  return entries.map(([k, v]) => [`${key}.${k}`, v]);
}

/**
 * One pino JSON line as one readable line: time, level, request id, message, then the other
 * fields as key=value (an error's stack on the lines after it, indented).
 */
export function prettyLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const time = new Date(typeof record.time === 'number' ? record.time : Date.now()).toISOString().replace('T', ' ').replace('Z', '');
  const level = (LEVELS[record.level as number] ?? String(record.level)).padEnd(5);
  const id = record.reqId === undefined ? '' : ` [${String(record.reqId)}]`;
  const fields = Object.entries(record)
    .filter(([k]) => !NOT_SHOWN.has(k))
    .flatMap(([k, v]) => fieldsOf(k, v))
    .map(([k, v]) => `${k}=${shown(v)}`);
  const stack = (record.err as { stack?: unknown } | undefined)?.stack;
  const tail = typeof stack === 'string' ? `\n    ${stack.split('\n').join('\n    ')}` : '';
  return `${time} ${level}${id} ${String(record.msg ?? '')}${fields.length > 0 ? ` ${fields.join(' ')}` : ''}${tail}\n`;
}
