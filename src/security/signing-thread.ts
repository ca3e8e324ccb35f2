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
 * So one thread per core beyond the event loop's takes the signatures in turn from its own
 * queue, whatever the event loop is doing. Messages carry strings, which cost little to copy:
 * the JWS signing input one way, the base64url signature the other.
 */
import type { KeyObject } from 'node:crypto';
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

/** Signatures answered in one message at most: what queued up while the thread signed, up to this many. */
const BATCH_MAX = 8;

// The thread's code, evaluated there: a file beside this one would have to be found from the
// compiled output and from the tests' sources alike.
const THREAD_SOURCE = `
const { parentPort, receiveMessageOnPort } = require('node:worker_threads');
const { sign } = require('node:crypto');
const keys = new Map();
function signed([id, input, algorithm, keyNumber, key, padding, saltLength]) {
  if (key) keys.set(keyNumber, key);
  try {
    return [id, sign(algorithm, Buffer.from(input), { key: keys.get(keyNumber), padding, saltLength }).toString('base64url')];
  } catch (error) {
    return [id, undefined, String((error && error.message) || error)];
  }
}
parentPort.on('message', (request) => {
  const answers = [signed(request)];
  for (let next; answers.length < ${BATCH_MAX} && (next = receiveMessageOnPort(parentPort)); ) answers.push(signed(next.message));
  parentPort.postMessage(answers);
});
`;

const SIGNING_THREADS_MAX = 4;

const keyNumbers = new WeakMap<KeyObject, number>();
let lastKeyNumber = 0;

function keyNumberOf(key: KeyObject): number {
  let number = keyNumbers.get(key);
  if (number === undefined) keyNumbers.set(key, (number = ++lastKeyNumber));
  return number;
}

class SigningThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (signature: string) => void; reject: (error: Error) => void }>();
  /** The keys this thread holds. */
  private sent = new Set<number>();
  private lastId = 0;

  get queued(): number {
    return this.pending.size;
  }

  sign(input: string, { algorithm, key, padding, saltLength }: SignatureRequest): Promise<string> {
    const worker = this.worker ?? this.start();
    const id = ++this.lastId;
    const keyNumber = keyNumberOf(key);
    const send = !this.sent.has(keyNumber);
    if (send) this.sent.add(keyNumber);
    return new Promise<string>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // An idle thread does not keep the process alive; one with signatures to make does.
      if (this.pending.size === 1) worker.ref();
      worker.postMessage([id, input, algorithm, keyNumber, send ? key : undefined, padding, saltLength]);
    });
  }

  private start(): Worker {
    // Not the process's node flags: --input-type=module would make the source a module, where require is undefined.
    const worker = new Worker(THREAD_SOURCE, { eval: true, execArgv: [] });
    worker.unref();
    worker.on('message', (answers: Array<[number, string | undefined, string | undefined]>) => {
      for (const [id, signature, error] of answers) {
        const waiter = this.pending.get(id);
        if (!waiter) continue;
        this.pending.delete(id);
        if (signature !== undefined) waiter.resolve(signature);
        else waiter.reject(new Error(`signing failed: ${error}`));
      }
      if (this.pending.size === 0) worker.unref();
    });
    // A thread that died (it should not) fails what it had; the next signature starts another.
    const fail = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.sent = new Set();
      for (const waiter of this.pending.values()) waiter.reject(new Error(`the signing thread ${why}`));
      this.pending.clear();
    };
    worker.on('error', (error) => fail(`failed: ${error.message}`));
    worker.on('exit', (code) => fail(`exited (${code})`));
    this.worker = worker;
    return worker;
  }
}

const threads = Array.from({ length: Math.min(SIGNING_THREADS_MAX, Math.max(1, availableParallelism() - 1)) }, () => new SigningThread());

/** The base64url signature of `input` (UTF-8), made on the signing thread with the shortest queue. */
export function signOnThread(input: string, request: SignatureRequest): Promise<string> {
  let thread = threads[0] as SigningThread;
  for (const other of threads) if (other.queued < thread.queued) thread = other;
  return thread.sign(input, request);
}
