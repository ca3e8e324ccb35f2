/**
 * Signatures made on threads of their own, each with a queue of its own.
 *
 * An RSA signature is the one large cost of a token response (some 270 µs of a core): made on
 * the event loop's thread it would halve what that thread serves. libuv's thread pool would take
 * it, but its four threads are shared with password hashes and file work, and four signing
 * threads beside the event loop on a 2-core machine starve the loop: measured with RS256
 * client_credentials, the pool signing gave 2,680-2,770 tokens/s and the pool cut to one thread
 * 3,030-3,140. Bounding the pool's signatures from the event loop instead was worse
 * (1,400-1,550): the pool then idles between signatures until the busy loop hands over the next.
 * So each server process has one signing thread per core beyond the event loops' of all the
 * processes (grantry start --workers), which takes the signatures in turn from its own queue,
 * whatever the event loop is doing. With no core to spare (as many processes as cores), or while
 * a thread cannot be started, signatures go to libuv's pool as before. Messages carry strings,
 * which cost little to copy: the JWS signing input one way, the base64url signature the other.
 */
import { sign as cryptoSign, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** node:crypto's sign() arguments besides the data; the key is sent to a thread once, then named by number. */
export interface SignatureRequest {
  algorithm: string | null;
  key: KeyObject;
  /** RSA-PSS: padding and salt length, as node:crypto's sign() takes them. */
  padding?: number;
  saltLength?: number;
}

// The thread's code, evaluated there: a file beside this one would have to be found from the
// compiled output and from the tests' sources alike.
const THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { sign } = require('node:crypto');
const keys = new Map();
parentPort.on('message', ([id, input, algorithm, keyNumber, key, padding, saltLength, forget]) => {
  if (forget) keys.delete(forget);
  if (key) keys.set(keyNumber, key);
  try {
    parentPort.postMessage([id, sign(algorithm, Buffer.from(input), { key: keys.get(keyNumber), padding, saltLength }).toString('base64url'), undefined, keys.size]);
  } catch (error) {
    parentPort.postMessage([id, undefined, String((error && error.message) || error), keys.size]);
  }
});
`;

const SIGNING_THREADS_MAX = 4;
/**
 * Private keys a thread holds at most: the active RS256 and PS256 keys (ID tokens may use the
 * other RSA algorithm) and one more while a rotation hands over. The least recently used goes
 * when a fourth arrives, so a thread's copies stay bounded however often keys rotate (before,
 * it kept every key it was ever sent); a key used again after it was dropped is sent again.
 */
const KEYS_PER_THREAD = 3;
/** After a thread failed to start or died, how long its signatures go to libuv's pool before it is tried again. */
const RETRY_AFTER_MS = 10_000;

const keyNumbers = new WeakMap<KeyObject, number>();
let lastKeyNumber = 0;

function keyNumberOf(key: KeyObject): number {
  let number = keyNumbers.get(key);
  if (number === undefined) keyNumbers.set(key, (number = ++lastKeyNumber));
  return number;
}

/** node:crypto's callback form: the signature made in libuv's thread pool. */
const signInPool = (input: string, { algorithm, key, padding, saltLength }: SignatureRequest) =>
  new Promise<string>((resolve, reject) =>
    cryptoSign(algorithm, Buffer.from(input), { key, padding, saltLength }, (error, signature) => (error ? reject(error) : resolve(signature.toString('base64url')))),
  );

type Waiter = { resolve: (signature: string) => void; reject: (error: Error) => void };

class SigningThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Waiter>();
  /** The keys sent to the thread and not dropped since, each with the id of the last signature it was used for. */
  private sent = new Map<number, number>();
  /** How many keys the thread itself said it held, with its last answer. */
  private keysInThread = 0;
  private lastId = 0;
  private failedAt = -Infinity;
  /** Replaced: ends once the signatures it was given are made. */
  private retiring = false;

  get queued(): number {
    return this.pending.size;
  }

  /** Whether a signature given now would go to the thread: it runs, or may be started again. */
  get usable(): boolean {
    return this.worker !== undefined || Date.now() - this.failedAt >= RETRY_AFTER_MS;
  }

  sign(input: string, request: SignatureRequest): Promise<string> {
    const worker = this.worker ?? (this.usable ? this.start() : undefined);
    if (!worker) return signInPool(input, request);
    const id = ++this.lastId;
    const keyNumber = keyNumberOf(request.key);
    const send = !this.sent.has(keyNumber);
    const forget = send && this.sent.size >= KEYS_PER_THREAD ? this.leastRecentlyUsedKey() : undefined;
    return new Promise<string>((resolve, reject) => {
      try {
        worker.postMessage([id, input, request.algorithm, keyNumber, send ? request.key : undefined, request.padding, request.saltLength, forget]);
      } catch (error) {
        reject(error as Error);
        return;
      }
      // The thread handles messages in order: signatures already queued with a forgotten key are made first.
      if (forget !== undefined) this.sent.delete(forget);
      this.sent.set(keyNumber, id);
      this.pending.set(id, { resolve, reject });
      // An idle thread does not keep the process alive; one with signatures to make does.
      if (this.pending.size === 1) worker.ref();
    });
  }

  /** How many private keys the thread held at its last answer, by its own count. */
  get keysHeld(): number {
    return this.keysInThread;
  }

  private leastRecentlyUsedKey(): number | undefined {
    let oldest: [number, number] | undefined;
    for (const entry of this.sent) if (!oldest || entry[1] < oldest[1]) oldest = entry;
    return oldest?.[0];
  }

  /** Whether the thread runs now. */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Ends the thread once the signatures it was given are made (they do not fail, as with terminate). */
  retire(): void {
    this.retiring = true;
    if (this.pending.size === 0) void this.worker?.terminate();
  }

  /** Ends the thread; what it had to sign fails. For the tests of a thread that dies. */
  async terminate(): Promise<void> {
    await this.worker?.terminate();
  }

  private start(): Worker | undefined {
    let worker: Worker;
    try {
      // Not the process's node flags (--input-type=module would make the source a module, where
      // require is undefined) nor its environment (secrets a signature does not need).
      worker = new Worker(THREAD_SOURCE, { eval: true, execArgv: [], env: {} });
    } catch {
      this.failedAt = Date.now();
      return undefined;
    }
    worker.unref();
    worker.on('message', ([id, signature, error, keysHeld]: [number, string | undefined, string | undefined, number]) => {
      this.keysInThread = keysHeld;
      const waiter = this.pending.get(id);
      if (!waiter) return;
      this.pending.delete(id);
      if (this.pending.size === 0) {
        worker.unref();
        if (this.retiring) void worker.terminate();
      }
      if (signature !== undefined) waiter.resolve(signature);
      else waiter.reject(new Error(`signing failed: ${error}`));
    });
    // A thread that died (it should not), or an answer that could not be read, fails what the
    // thread had; its signatures go to the pool for a while, then a new thread is started.
    const fail = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failedAt = Date.now();
      this.sent = new Map();
      this.keysInThread = 0;
      const waiters = [...this.pending.values()];
      this.pending.clear();
      for (const waiter of waiters) waiter.reject(new Error(`the signing thread ${why}`));
      void worker.terminate();
    };
    worker.on('error', (error: unknown) => fail(`failed: ${error instanceof Error ? error.message : String(error)}`));
    worker.on('messageerror', () => fail('sent an answer that could not be read'));
    worker.on('exit', (code) => fail(`exited (${code})`));
    this.worker = worker;
    return worker;
  }
}

/**
 * The thread with the shortest queue among those that can take a signature now. A thread that
 * died has an empty queue, and would otherwise draw every signature to libuv's pool until it is
 * started again while the others idle. Undefined without threads (libuv's pool then).
 */
export function threadFor<T extends { queued: number; usable: boolean }>(threads: readonly T[]): T | undefined {
  let chosen: T | undefined;
  for (const thread of threads) if (thread.usable && (!chosen || thread.queued < chosen.queued)) chosen = thread;
  return chosen ?? threads[0];
}

const threadsFor = (processes: number) => Math.min(SIGNING_THREADS_MAX, Math.max(0, Math.floor(availableParallelism() / Math.max(1, processes)) - 1));

/** The signing threads of one process: `count` of them, or none (every signature to libuv's pool). */
export class SigningThreads {
  private readonly threads: SigningThread[];

  constructor(count: number) {
    this.threads = Array.from({ length: Math.min(SIGNING_THREADS_MAX, Math.max(0, count)) }, () => new SigningThread());
  }

  /** Threads for a process that is one of `processes` on this machine: one per core beyond their event loops. */
  static forProcesses(processes: number): SigningThreads {
    return new SigningThreads(threadsFor(processes));
  }

  get size(): number {
    return this.threads.length;
  }

  /** The most private keys one of the threads held at its last answer. */
  get keysHeld(): number {
    return Math.max(0, ...this.threads.map((thread) => thread.keysHeld));
  }

  /** The base64url signature of `input` (UTF-8), made on the thread with the shortest queue. */
  sign(input: string, request: SignatureRequest): Promise<string> {
    const thread = threadFor(this.threads);
    return thread ? thread.sign(input, request) : signInPool(input, request);
  }

  /** How many of the threads run now. */
  get running(): number {
    return this.threads.filter((thread) => thread.running).length;
  }

  /** Ends each thread once it has made the signatures it was given. */
  retire(): void {
    for (const thread of this.threads) thread.retire();
  }

  async terminate(): Promise<void> {
    await Promise.all(this.threads.map((thread) => thread.terminate()));
  }
}

let processThreads = SigningThreads.forProcesses(1);

/**
 * Sizes this process's signing threads for `processes` server processes on the machine (the
 * composition root calls it with the workers setting, before any signature). Threads replaced
 * end once they have made what they were given, so a process that builds several servers (the
 * tests) does not collect idle threads.
 */
export function setSigningProcesses(processes: number): void {
  const count = threadsFor(processes);
  if (count === processThreads.size) return;
  processThreads.retire();
  processThreads = new SigningThreads(count);
}

/** The base64url signature of `input` (UTF-8), on this process's signing threads. */
export const signOnThread = (input: string, request: SignatureRequest): Promise<string> => processThreads.sign(input, request);
