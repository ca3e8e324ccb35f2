/**
 * Client authentication at the token endpoint (RFC 6749 §2.3): client_secret_basic,
 * client_secret_post, or none for public clients. Exactly one method per request.
 */
import { textProblem } from '../security/input.js';
import { Throttle } from '../security/throttle.js';
import type { SecretHasher } from '../security/tokens.js';
import type { Client, ClientRepository } from '../storage/repositories.js';
import { OAuthError } from './errors.js';
import type { Params } from './params.js';

export type BasicCredentials = { clientId: string; clientSecret: string };

export const CLIENT_SECRET_PURPOSE = 'client-secret';

/**
 * Parses an `Authorization: Basic` header; id and secret are form-urlencoded inside it
 * (RFC 6749 §2.3.1). Undefined when the header is another scheme; invalid_client when malformed.
 */
export function parseBasicAuthorization(header: string | undefined): BasicCredentials | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw OAuthError.invalidClient('malformed Basic credentials');
  let credentials: BasicCredentials;
  try {
    const unescape = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    credentials = { clientId: unescape(decoded.slice(0, colon)), clientSecret: unescape(decoded.slice(colon + 1)) };
  } catch {
    throw OAuthError.invalidClient('malformed Basic credentials');
  }
  // The same text rule as every body parameter (Params.get): no NUL may reach the database.
  if (textProblem(credentials.clientId) || textProblem(credentials.clientSecret)) throw OAuthError.invalidClient('malformed Basic credentials');
  return credentials;
}

/** Brute-force protection of client secrets: the throttle and the caller's IP address. */
export interface ThrottleContext {
  throttle: Throttle;
  ip: string;
  now: number;
}

/**
 * With a throttle context, every wrong client secret (of a known client or not) counts against
 * the client_id and the address; once either reached its limit, the request is refused with
 * 429 before the secret is looked at, and a right secret resets the client's count.
 */
export async function authenticateClient(
  params: Params,
  basic: BasicCredentials | undefined,
  clients: ClientRepository,
  hasher: SecretHasher,
  throttle?: ThrottleContext,
): Promise<Client> {
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  if (basic && bodySecret !== undefined) throw OAuthError.invalidRequest('use either HTTP Basic or client_secret in the body, not both');
  if (basic && bodyId !== undefined && bodyId !== basic.clientId) throw OAuthError.invalidRequest('client_id in the body differs from the HTTP Basic client');
  const clientId = basic?.clientId ?? bodyId;
  const secret = basic?.clientSecret ?? bodySecret;
  if (clientId === undefined) throw OAuthError.invalidClient('no client authentication was included');

  const client = clientId.length <= 128 ? await clients.findByClientId(clientId) : undefined;
  if (client?.type === 'public') {
    if (secret !== undefined) throw OAuthError.invalidRequest('public clients must not send a client_secret');
  } else {
    // Only a presented secret is a guess worth counting. Check-then-count (not reserve, as for
    // passwords) keeps the token endpoint's hot path free of writes: a burst of parallel guesses
    // can pass the limit by its size, which against a 256-bit secret changes nothing.
    const keys = throttle && secret !== undefined ? Throttle.clientKeys(clientId, throttle.ip) : [];
    const verdict = throttle && keys.length > 0 ? await throttle.throttle.check(keys, throttle.now) : undefined;
    if (verdict && verdict.retryAfter > 0) throw OAuthError.tooManyAttempts(verdict.retryAfter);
    if (!client?.secretHash || secret === undefined || !hasher.verify(CLIENT_SECRET_PURPOSE, secret, client.secretHash)) {
      if (throttle && keys.length > 0) await throttle.throttle.fail(keys, throttle.now);
      throw OAuthError.invalidClient(secret === undefined && client ? 'the client secret is required' : 'client authentication failed');
    }
    if (throttle && verdict) await throttle.throttle.succeed(keys, verdict);
  }
  if (!client || !client.active) throw OAuthError.invalidClient('client authentication failed');
  return client;
}
