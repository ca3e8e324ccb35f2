/**
 * The subject a client's tokens carry for a user (its ID tokens', access tokens' and
 * introspection's `sub`), computed by the server's own SubjectIdentifiers: never the database id.
 */
import { expect } from 'vitest';
import type { TestServer } from './server.js';

export async function subjectAt(server: TestServer, clientId: string, userId: number): Promise<string> {
  const client = await server.grantry.repos.clients.findByClientId(clientId);
  expect(client, `client ${clientId}`).toBeDefined();
  const sub = server.grantry.subjects.of(client!, userId);
  expect(sub).not.toBe(String(userId));
  return sub;
}
