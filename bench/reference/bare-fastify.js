#!/usr/bin/env node
/**
 * The ceiling of a bearer-protected GET: a bare Fastify 5 server in its own process answering
 * GET / with a small JSON object (no authentication, no database). Environment: PORT (0 = any
 * free port). Run under child_process.fork, it sends {ready, port} over IPC once listening;
 * alone, it prints the address.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/', async () => ({ id: '1', type: 'users', attributes: { username: 'bench' } }));

const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
const { port } = app.server.address();
if (process.send) {
  process.send({ ready: true, port });
  // The parent ending (or closing the channel) ends this server too.
  process.on('disconnect', () => process.exit(0));
} else console.log(`bare Fastify listening on ${address}`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
