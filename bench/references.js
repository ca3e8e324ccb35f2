/**
 * The reference servers, each in its own process (child_process.fork): a bare Fastify GET, a
 * bare Fastify POST that signs a JWT, and
 * node-oidc-provider (bench/reference/oidc-provider.js) with the parent side of its IPC.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './load.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** oidc-provider warns on every start that Node 20 is not its supported runtime; it works. */
const KNOWN_NOISE = /Unsupported runtime|allowedPolicy function called/;

/** Forks `script` with `env`, resolves with the child and its ready message. */
async function start(script, env) {
  const port = await freePort();
  const child = fork(path.join(here, 'reference', script), [], { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    for (const line of chunk.split('\n')) {
      if (line.trim() && !KNOWN_NOISE.test(line)) {
        stderr += `${line}\n`;
        process.stderr.write(`[${script}] ${line}\n`);
      }
    }
  });
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 30 s`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready: ${stderr.trim()}`)));
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve(message);
    });
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  return { child, ready, base: `http://127.0.0.1:${ready.port}`, stop };
}

export async function startBareFastify() {
  const { base, stop, child } = await start('bare-fastify.js', {});
  return { url: `${base}/`, pid: child.pid, stop };
}

/**
 * A bare Fastify POST that signs a JWT with `alg` (bench/reference/bare-token.js), as a target of
 * the client_credentials workload: the ceiling of a token response without any of its checks.
 */
export async function startBareToken(alg) {
  const { base, stop, child } = await start('bare-token.js', { ALG: alg });
  return { pid: child.pid, tokenUrl: `${base}/token`, clientId: 'bench', clientSecret: 'bench', stop };
}

/** One request to the child at a time: each answer belongs to the last question. */
function ask(child, message) {
  return new Promise((resolve, reject) => {
    child.once('message', (answer) => (answer.error ? reject(new Error(`oidc-provider: ${answer.error}`)) : resolve(answer)));
    child.send(message);
  });
}

/**
 * node-oidc-provider with `alg`, as a target of the workloads (bench/workloads.js): its token
 * and introspection endpoints from its discovery document, its client, and fresh codes and
 * refresh tokens from its own models.
 */
export async function startOidcProvider(alg) {
  const { child, ready, base, stop } = await start('oidc-provider.js', { ALG: alg });
  const metadata = await (await fetch(`${base}/.well-known/openid-configuration`)).json();
  const smoke = await ask(child, { smoke: true });
  return {
    name: 'node-oidc-provider',
    pid: child.pid,
    tokenUrl: metadata.token_endpoint,
    introspectionUrl: metadata.introspection_endpoint,
    clientId: ready.clientId,
    clientSecret: ready.clientSecret,
    redirectUri: 'https://bench.example/cb',
    smoke: smoke.smoke,
    mintCodes: async (count) => (await ask(child, { mint: 'codes', count })).codes,
    refreshTokens: async (count) => (await ask(child, { mint: 'refresh', count })).refreshTokens,
    stop: async () => {
      child.send({ stop: true });
      await stop();
    },
  };
}
