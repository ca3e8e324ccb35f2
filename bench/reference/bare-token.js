#!/usr/bin/env node
/**
 * A reference for token responses: a bare Fastify 5 server in its own process answering POST
 * /token, a form body as the workloads send it, with a JWT signed on its event loop with ALG
 * (ES256 or RS256, a KeyObject made once) and a token-shaped JSON answer marked no-store. No
 * client, no database, no checks: what HTTP, the form, the signature and the JSON cost alone.
 * With ES256 that is a ceiling; with RS256 it is not one for Grantry, which signs RSA on a
 * thread of its own while its event loop serves other requests.
 * Environment: PORT (0 = any free port), ALG. Run under child_process.fork, it sends
 * {ready, port} over IPC once listening; alone, it prints the address.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import Fastify from 'fastify';

const alg = process.env.ALG ?? 'ES256';
const { privateKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
const signOptions = alg === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey;
const header = Buffer.from(JSON.stringify({ alg, typ: 'at+jwt', kid: 'k'.repeat(43) })).toString('base64url');

const app = Fastify({ logger: false });
app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body))));
app.post('/token', async (request, reply) => {
  const now = Math.floor(Date.now() / 1000);
  const { client_id: clientId, scope } = request.body;
  const claims = { iss: 'http://127.0.0.1/admin', sub: 's'.repeat(43), aud: 'http://127.0.0.1/admin/api', client_id: clientId, scope, jti: 'j'.repeat(34), iat: now, nbf: now, exp: now + 3600 };
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = sign('sha256', Buffer.from(input), signOptions).toString('base64url');
  reply.header('cache-control', 'no-store');
  return { token_type: 'Bearer', expires_in: 3600, access_token: `${input}.${signature}`, scope };
});

const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
const { port } = app.server.address();
if (process.send) {
  process.send({ ready: true, port });
  process.on('disconnect', () => process.exit(0));
} else console.log(`bare Fastify token POST listening on ${address}`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
