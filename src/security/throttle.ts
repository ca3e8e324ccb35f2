/**
 * Brute-force protection for passwords and client secrets: failures are counted per key in a
 * fixed window (from the first failure, `window` seconds long) in the database, so every server
 * process sees the same counts. A key that reached its limit is blocked until its window ends,
 * whatever is presented meanwhile, even the right password.
 *
 * Keys name what is counted; the limit follows from the kind of key:
 * - `login:<side>:<login>:<ip>`: one login name from one address, `maxFailures`. Per address,
 *   so an attacker elsewhere cannot lock the user out. The login is normalised exactly as the
 *   account lookup normalises it (normalizeLogin) and never depends on whether an account
 *   exists, so the answers for a known and an unknown name, in any spelling, are the same.
 * - `client:<client_id>:<ip>`: one client's secret from one address, 2 × `maxFailures`.
 * - `ip:<ip>`: everything failed from one address, 20 × `maxFailures`; never reset by a
 *   success, or one good account would let an address guess at all the others.
 * - `profile:<side>:<user id>`: a signed-in user's (or their token's) attempts to take an email
 *   address another user has, `maxFailures`. Each such refusal tells that the address is
 *   registered, so a customer must not be able to list a shop's customers by trying addresses.
 *   Per user, whatever the address: the user is known, and only they are slowed down.
 * - `visitor:<ip>`: storefront guest authorizations from one address, `guestAuthorizations`.
 *   Not failures: every guest code stores a grant without anyone signing in, so the count
 *   bounds what an anonymous address can write. Apart from `ip:`, so guests never block a
 *   sign-in.
 * Stored keys are keyed hashes (purpose "throttle"), never a raw login or address.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { ThrottleRepository } from '../storage/repositories.js';
import { normalizeLogin } from './logins.js';
import type { SecretHasher } from './tokens.js';

export const THROTTLE_PURPOSE = 'throttle';

export interface ThrottleLimits {
  /** Failures allowed per login and address (client secrets: twice, addresses: 20 times). */
  maxFailures: number;
  /** Seconds of a window. */
  window: number;
  /** Storefront guest authorizations allowed per address and window. */
  guestAuthorizations: number;
}

export interface ThrottleVerdict {
  /** Seconds until the caller may try again; 0 when it may try now. */
  retryAfter: number;
  /** Whether a key that a success resets has failures on record (else succeed() has nothing to do). */
  resettable: boolean;
}

/**
 * The part of a client address that identifies one attacker: an IPv4 address (IPv4-mapped IPv6
 * included) as is, an IPv6 address by its /64 prefix, since one host usually gets a whole /64.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1] && isIPv4(mapped[1])) return mapped[1];
  if (!isIPv6(ip)) return ip.toLowerCase();
  // Expand to eight groups; an embedded IPv4 tail is in the last 64 bits, which are dropped.
  const address = (ip.toLowerCase().split('%')[0] ?? '').replace(/\d+\.\d+\.\d+\.\d+$/, '0:0');
  const [head = '', tail] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

const isAddressKey = (key: string) => key.startsWith('ip:');

/** How many stored keys a Throttle remembers; past that it starts again. */
const STORED_KEYS_KEPT = 10_000;
/** The longest key remembered: 10,000 of them stay under a few MiB. */
const STORED_KEY_LENGTH = 200;

export class Throttle {
  /**
   * The stored form of client and address keys already seen. Every token request with a client
   * secret checks two keys (the client's and the address's), and their two keyed hashes were
   * about 3% of a client_credentials request's CPU under load; a client calls from few
   * addresses. Only those kinds, and only short ones: a login key holds what someone typed
   * (perhaps a password in the wrong field), which is kept nowhere, and a client_id can be long.
   */
  private readonly storedKeys = new Map<string, string>();

  constructor(
    private readonly repo: ThrottleRepository,
    private readonly hasher: SecretHasher,
    readonly limits: ThrottleLimits,
  ) {}

  /**
   * Keys of a password attempt (login form or password grant) at `login` from `ip`. Keyed on the
   * login as typed, normalised, whether or not an account has that name: keying a known account
   * otherwise (by its id, say) would make its answers differ from an unknown name's and tell
   * which names exist. So a username and its email have separate counts; the address's own
   * limit caps them together.
   */
  static loginKeys(side: string, login: string, ip: string): string[] {
    const address = addressKey(ip);
    return [`login:${side}:${normalizeLogin(login)}:${address}`, `ip:${address}`];
  }

  /** The key of a storefront guest authorization from `ip`: counted by reserve(), never released. */
  static visitorKeys(ip: string): string[] {
    return [`visitor:${addressKey(ip)}`];
  }

  /** The key of user `userId`'s email changes to addresses another user has: counted by reserve(), never released. */
  static profileKeys(side: string, userId: number): string[] {
    return [`profile:${side}:${userId}`];
  }

  /** Keys of a client-secret attempt for `clientId` from `ip`. */
  static clientKeys(clientId: string, ip: string): string[] {
    const address = addressKey(ip);
    return [`client:${clientId}:${address}`, `ip:${address}`];
  }

  /** The failures a key may have in one window. */
  limitOf(key: string): number {
    const { maxFailures } = this.limits;
    if (isAddressKey(key)) return 20 * maxFailures;
    if (key.startsWith('client:')) return 2 * maxFailures;
    if (key.startsWith('visitor:')) return this.limits.guestAuthorizations;
    return maxFailures;
  }

  /** Whether an attempt under `keys` may go ahead now: blocked when any key reached its limit. */
  async check(keys: string[], now: number): Promise<ThrottleVerdict> {
    const stored = new Map(keys.map((key) => [this.stored(key), key]));
    const windows = await this.repo.failures([...stored.keys()], now - this.limits.window);
    let retryAfter = 0;
    let resettable = false;
    for (const w of windows) {
      const key = stored.get(w.key) as string;
      if (w.failures >= this.limitOf(key)) retryAfter = Math.max(retryAfter, w.windowStart + this.limits.window - now, 1);
      if (!isAddressKey(key)) resettable = true;
    }
    return { retryAfter, resettable };
  }

  /**
   * Counts an attempt at a password before it is verified, so that attempts made in parallel
   * cannot all slip under the limit between a check and a count. Returns the seconds to wait
   * (the attempt must then not be made), or 0. A successful attempt is given back by release().
   */
  async reserve(keys: string[], now: number): Promise<number> {
    let retryAfter = 0;
    for (const key of keys) {
      const window = await this.repo.recordFailure(this.stored(key), now, this.limits.window);
      if (window.failures > this.limitOf(key)) retryAfter = Math.max(retryAfter, window.windowStart + this.limits.window - now, 1);
    }
    return retryAfter;
  }

  /** A reserved attempt succeeded: the account's failures are forgotten; the address gets its one attempt back. */
  async release(keys: string[]): Promise<void> {
    for (const key of keys) {
      if (isAddressKey(key)) await this.repo.forgive(this.stored(key));
      else await this.repo.reset(this.stored(key));
    }
  }

  /** Counts a failed attempt under every key. */
  async fail(keys: string[], now: number): Promise<void> {
    for (const key of keys) await this.repo.recordFailure(this.stored(key), now, this.limits.window);
  }

  /**
   * A successful attempt: forgets the failures of the login or client at that address (the
   * address-wide count stays). `verdict` is the check made before the attempt.
   */
  async succeed(keys: string[], verdict: ThrottleVerdict): Promise<void> {
    if (!verdict.resettable) return;
    for (const key of keys) if (!isAddressKey(key)) await this.repo.reset(this.stored(key));
  }

  private stored(key: string): string {
    const remembered = key.length <= STORED_KEY_LENGTH && (key.startsWith('client:') || isAddressKey(key));
    let stored = remembered ? this.storedKeys.get(key) : undefined;
    if (stored === undefined) {
      stored = this.hasher.hash(THROTTLE_PURPOSE, key);
      if (remembered) {
        if (this.storedKeys.size >= STORED_KEYS_KEPT) this.storedKeys.clear();
        this.storedKeys.set(key, stored);
      }
    }
    return stored;
  }
}
