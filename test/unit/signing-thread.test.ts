import { execFileSync } from 'node:child_process';
import { constants, generateKeyPairSync, verify } from 'node:crypto';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SigningThreads, type SignatureRequest, threadFor } from '../../src/security/signing-thread.js';

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };

const verifies = (input: string, request: SignatureRequest, publicKey: ReturnType<typeof rsa>['publicKey'], signature: string) =>
  verify(request.algorithm, Buffer.from(input), { key: publicKey, padding: request.padding, saltLength: request.saltLength }, Buffer.from(signature, 'base64url'));

describe.each([
  ['two signing threads', 2],
  ['no signing thread (libuv pool)', 0],
])('signatures with %s', (_name, count) => {
  const threads = new SigningThreads(count);
  afterAll(() => threads.terminate());

  it('answers each request with its own signature, whatever the keys and their order', async () => {
    expect(threads.size).toBe(count);
    const keys = [rsa(), rsa(), generateKeyPairSync('ed25519')];
    // Interleaved keys and algorithms, many at once: every answer must reach its own caller.
    const requests = Array.from({ length: 60 }, (_, i) => {
      const pair = keys[i % 3]!;
      const request: SignatureRequest = i % 3 === 2 ? { algorithm: null, key: pair.privateKey } : i % 2 ? { algorithm: 'sha256', key: pair.privateKey, ...PSS } : { algorithm: 'sha256', key: pair.privateKey };
      return { input: `header.payload-${i}`, pair, request };
    });
    const signatures = await Promise.all(requests.map(({ input, request }) => threads.sign(input, request)));
    for (const [n, { input, pair, request }] of requests.entries()) {
      expect(signatures[n]).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(verifies(input, request, pair.publicKey, signatures[n]!)).toBe(true);
    }
  });

  it('holds at most three private keys per thread (by the thread\'s own count), and sends a dropped key again when it signs again', async () => {
    const keys = Array.from({ length: 5 }, () => generateKeyPairSync('ed25519'));
    // Rotations one after another, then a retired key again: every signature still verifies.
    for (const [n, pair] of [...keys, keys[0]!, keys[4]!].entries()) {
      const request: SignatureRequest = { algorithm: null, key: pair.privateKey };
      const signature = await threads.sign(`rotation.${n}`, request);
      expect(verifies(`rotation.${n}`, request, pair.publicKey, signature)).toBe(true);
    }
    expect(threads.keysHeld).toBe(count === 0 ? 0 : 3);
    // Many at once over the five keys: keys dropped while signatures with them are still queued.
    const requests = Array.from({ length: 60 }, (_, i) => ({ input: `mixed.${i}`, pair: keys[i % 5]! }));
    const signatures = await Promise.all(requests.map(({ input, pair }) => threads.sign(input, { algorithm: null, key: pair.privateKey })));
    for (const [n, { input, pair }] of requests.entries()) expect(verifies(input, { algorithm: null, key: pair.privateKey }, pair.publicKey, signatures[n]!)).toBe(true);
    expect(threads.keysHeld).toBe(count === 0 ? 0 : 3);
  });

  it('refuses what node:crypto refuses, and goes on signing', async () => {
    const ed = generateKeyPairSync('ed25519');
    // Ed25519 takes no digest: node:crypto throws, the caller gets the error.
    await expect(threads.sign('a.b', { algorithm: 'sha256', key: ed.privateKey })).rejects.toThrow();
    const signature = await threads.sign('a.b', { algorithm: null, key: ed.privateKey });
    expect(verify(null, Buffer.from('a.b'), ed.publicKey, Buffer.from(signature, 'base64url'))).toBe(true);
  });
});

describe('a signing thread that dies', () => {
  it('fails what it had, then signs on (in the pool, until a new thread is started)', async () => {
    const threads = new SigningThreads(1);
    const { privateKey, publicKey } = rsa();
    const request: SignatureRequest = { algorithm: 'sha256', key: privateKey };
    // The thread has the key now.
    expect(verifies('before', request, publicKey, await threads.sign('before', request))).toBe(true);
    const inFlight = Array.from({ length: 20 }, (_, i) => threads.sign(`in-flight-${i}`, request));
    await threads.terminate();
    const settled = await Promise.allSettled(inFlight);
    const failed = settled.filter((s) => s.status === 'rejected');
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) expect(String((f as PromiseRejectedResult).reason)).toMatch(/the signing thread exited/);
    for (const [i, s] of settled.entries()) if (s.status === 'fulfilled') expect(verifies(`in-flight-${i}`, request, publicKey, s.value)).toBe(true);
    expect(verifies('after', request, publicKey, await threads.sign('after', request))).toBe(true);
    await threads.terminate();
  });
});

/** How many of `threads` still run once none does, or after 5 s. */
async function runningAfterUpTo5s(threads: SigningThreads): Promise<number> {
  for (let waited = 0; threads.running > 0 && waited < 5_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
  return threads.running;
}

describe('signing threads that are replaced', () => {
  it('make the signatures they were given, then end', async () => {
    const threads = new SigningThreads(1);
    const { privateKey, publicKey } = rsa();
    const request: SignatureRequest = { algorithm: 'sha256', key: privateKey };
    const inFlight = Array.from({ length: 20 }, (_, i) => threads.sign(`in-flight-${i}`, request));
    expect(threads.running).toBe(1);
    threads.retire();
    // Unlike terminate, nothing given before retire fails.
    for (const [i, signature] of (await Promise.all(inFlight)).entries()) expect(verifies(`in-flight-${i}`, request, publicKey, signature)).toBe(true);
    expect(await runningAfterUpTo5s(threads)).toBe(0);
  });

  it('end at once when idle', async () => {
    const threads = new SigningThreads(1);
    const ed = generateKeyPairSync('ed25519');
    await threads.sign('a.b', { algorithm: null, key: ed.privateKey });
    expect(threads.running).toBe(1);
    threads.retire();
    expect(await runningAfterUpTo5s(threads)).toBe(0);
  });
});

describe('the thread a signature goes to', () => {
  it('is the one with the shortest queue among those that can sign now; a dead one only when all are', () => {
    const dead = { name: 'dead', queued: 0, usable: false };
    const busy = { name: 'busy', queued: 5, usable: true };
    const idle = { name: 'idle', queued: 1, usable: true };
    expect(threadFor([dead, busy, idle])?.name).toBe('idle');
    expect(threadFor([dead, busy])?.name).toBe('busy');
    // None can sign: the first, whose signatures then go to libuv's pool until it starts again.
    expect(threadFor([dead, { ...dead, name: 'dead too' }])?.name).toBe('dead');
    expect(threadFor([])).toBeUndefined();
  });
});

describe('the process signing threads', () => {
  it('do not keep a process alive once its signatures are made', () => {
    // A CLI command that signed (a token from the CLI, a key check) must end by itself.
    const module = path.resolve('dist/security/signing-thread.js');
    const script = `
      const { generateKeyPairSync } = await import('node:crypto');
      const { signOnThread, setSigningProcesses } = await import(${JSON.stringify(module)});
      setSigningProcesses(1);
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      process.stdout.write(String((await signOnThread('a.b', { algorithm: 'sha256', key: privateKey })).length));
    `;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000, encoding: 'utf8' });
    expect(output).toBe('342');
  });

  it('are one per core beyond the event loops of the server processes', () => {
    const cores = availableParallelism();
    expect(SigningThreads.forProcesses(1).size).toBe(Math.min(4, cores - 1));
    // As many processes as cores: no core to spare, signatures go to the pool.
    expect(SigningThreads.forProcesses(cores).size).toBe(0);
  });
});
