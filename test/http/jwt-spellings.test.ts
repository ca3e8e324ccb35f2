/**
 * One access token, one spelling. A JWT respelled so that a lenient base64 decoder reads the
 * same bytes (padding, "~", "+/" for "-_", unused bits set in the last character) is another
 * string: caches, deny lists and logs keyed on the token would not recognise it. The APIs,
 * introspection and revocation must treat every variant as a token they do not know.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideName } from '../../src/oauth/sides.js';
import { BACKENDS } from '../helpers/backends.js';
import { expectInactive, expectRevoked, introspect, postWithClient, revoke } from '../helpers/endpoints.js';
import type { SigningAlgorithm } from '../../src/config/index.js';
import { nonCanonicalSpellings, signatureHasEverySpelling, twinSignature } from '../helpers/jwt-spellings.js';
import { expectApiAccepts, expectApiRefuses } from '../helpers/lifecycle.js';
import type { TestServer } from '../helpers/server.js';
import { expectTokenSuccess, SIDES, type SideUser, startServerWithSideUsers, type TestClient } from '../helpers/tokens.js';

const ALGORITHMS: SigningAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];
const CASES = BACKENDS.flatMap((backend) => ALGORITHMS.map((alg) => [backend, alg] as const));

describe.each(CASES)('non-canonical spellings of an access token (%s, %s)', (backend, alg) => {
  let server: TestServer;
  let users: Record<SideName, SideUser>;

  beforeAll(async () => {
    ({ server, users } = await startServerWithSideUsers(backend, { signingAlgorithm: alg }));
  });

  /** Every other spelling, and for ES256 and EdDSA the twin signature that the maths also accepts. */
  const variantsOf = (token: string) => {
    const twin = twinSignature(token);
    return [...nonCanonicalSpellings(token).map(([, v]) => v), ...(twin ? [twin] : [])];
  };

  describe.each(SIDES)('%s', (side) => {
    let client: TestClient;
    let resourceServer: TestClient;
    let token: string;

    beforeAll(async () => {
      client = await server.createClient({ side, grants: ['client_credentials'], owner: users[side].login });
      resourceServer = await server.createClient({ side, grants: ['client_credentials'], owner: users[side].login });
      // A signature with "-" or "_" in it (almost every one), so that every variant applies.
      do token = expectTokenSuccess(await postWithClient(server.url, '/oauth2-token', client, { grant_type: 'client_credentials' }));
      while (!signatureHasEverySpelling(token));
    });

    it('the API answers 401 invalid_token to every variant', async () => {
      // ES256 and EdDSA signatures have a twin that the maths alone would accept.
      expect(twinSignature(token) === undefined).toBe(alg === 'RS256');
      for (const variant of variantsOf(token)) await expectApiRefuses(server, side, variant);
      await expectApiAccepts(server, side, token, users[side].id);
    });

    it('introspection answers {"active": false} to every variant', async () => {
      for (const variant of variantsOf(token)) expectInactive(await introspect(server.url, resourceServer, variant));
      expect((await introspect(server.url, resourceServer, token)).json.active).toBe(true);
    });

    it('revoking a variant revokes nothing', async () => {
      for (const variant of variantsOf(token)) expectRevoked(await revoke(server.url, client, variant));
      await expectApiAccepts(server, side, token, users[side].id);
    });
  });
});
