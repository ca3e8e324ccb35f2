/**
 * Decides once whether the PostgreSQL suite runs. Every integration test runs on SQLite, and
 * on PostgreSQL when one answers at GRANTRY_TEST_POSTGRES_URL (default: the local server).
 * GRANTRY_REQUIRE_POSTGRES=1 (set by CI) turns a missing PostgreSQL into a failure.
 */
import { generateKeyPairSync } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string | null;
    /** One RS256 seed key (PKCS#8 PEM) for the in-process test servers that choose none. */
    testSigningKey: string;
  }
}

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';

const banner = (text: string) => `\n${'='.repeat(78)}\n${text}\n${'='.repeat(78)}\n`;

export default async function setup(project: TestProject) {
  project.provide('testSigningKey', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const url = process.env.GRANTRY_TEST_POSTGRES_URL || DEFAULT_URL;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  let reachable = false;
  let reason = '';
  try {
    await client.connect();
    await client.query('select 1');
    reachable = true;
  } catch (e) {
    reason = (e as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
  if (!reachable) {
    if (process.env.GRANTRY_REQUIRE_POSTGRES === '1') {
      throw new Error(`GRANTRY_REQUIRE_POSTGRES=1 but PostgreSQL at ${url} is not reachable: ${reason}`);
    }
    const message = banner(`PostgreSQL suite SKIPPED: no PostgreSQL at ${url} (${reason}).\nOnly the SQLite suite runs. Set GRANTRY_TEST_POSTGRES_URL to run both.`);
    process.stderr.write(message);
    project.provide('postgresUrl', null);
    return () => process.stderr.write(message);
  }
  process.stderr.write(`Integration tests run on SQLite and on PostgreSQL (${url}).\n`);
  project.provide('postgresUrl', url);
  return undefined;
}
