/**
 * Form bodies with thousands of fields are refused by the parser, before any check: such a body
 * used to be parsed in quadratic time (seconds of CPU). The fuzzing of every endpoint is in
 * test/fuzz/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe.each(BACKENDS)('oversized forms (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  it.each(['/oauth2-token', '/oauth2-token/revoke', '/admin/oauth2-token/login', '/oauth2-token/authorize'])('POST %s with thousands of repeated fields is refused by the parser (400)', async (path) => {
    const body = 'a&'.repeat(32_000);
    const response = await fetch(server.url + path, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect(response.status).toBe(400);
    if (path.startsWith('/oauth2-token') && !path.endsWith('authorize')) expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });
});
