/**
 * Property-based fuzzing of every endpoint on real servers, SQLite and PostgreSQL (issue 6):
 * thousands of generated requests per backend (HEAD and CORS preflights among them), from a
 * fixed seed. Every answer must be a non-5xx in the endpoint's documented format, within the
 * timeout, never echoing the request into an error description or a page; re-spelled tokens and
 * repeated parameters are never accepted; and a batch of refused requests leaves the stored
 * data as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { apiRequests, pageRequests, tokenRequests, tokenSiblingRequests } from './arbitraries.js';
import { FUZZ_RUNS, type FuzzFixture, FuzzStats, fuzzGroup, startFuzzServer } from './harness.js';

/** Generous: a group runs for seconds, and fast-check may shrink a failure with more requests. */
const GROUP_TIMEOUT = 120_000;
/**
 * Requests each backend must have sent, so that a CI run (SQLite and PostgreSQL) sends at least
 * 10,000 (issue 6). The groups' default batches (1 to 6 requests each) send about 5,600 with any
 * seed (5,400 to 5,900 over 300 seeds), so only a change that sends fewer fails here.
 * GRANTRY_FUZZ_RUNS (a quick replay) sets the work by hand instead.
 */
const MIN_REQUESTS = FUZZ_RUNS === undefined ? 5_000 : 0;

describe.each(BACKENDS)('fuzzing every endpoint (%s)', (backend) => {
  let fx: FuzzFixture;
  let stats: FuzzStats;
  beforeAll(async () => {
    fx = await startFuzzServer(backend);
    stats = new FuzzStats();
  });
  afterAll(async () => {
    if (stats) console.log(stats.summary(backend));
    await fx?.server.close();
  });

  it('token endpoint: every grant type, form and JSON bodies, Basic headers', () => fuzzGroup(fx, stats, 1, tokenRequests(fx), 490), GROUP_TIMEOUT);
  it('revocation and introspection with a valid confidential client', () => fuzzGroup(fx, stats, 2, tokenSiblingRequests(fx), 260), GROUP_TIMEOUT);
  it('APIs with valid, mangled and re-spelled bearer tokens; discovery and JWKS', () => fuzzGroup(fx, stats, 3, apiRequests(fx), 410), GROUP_TIMEOUT);
  it('authorize (with and without a session, consent), guest authorize, login and logout', () => fuzzGroup(fx, stats, 4, pageRequests(fx), 510), GROUP_TIMEOUT);
  it(`sent at least ${MIN_REQUESTS} requests`, () => {
    expect(stats.requests).toBeGreaterThanOrEqual(MIN_REQUESTS);
  });
});
