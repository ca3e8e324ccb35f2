import { describe, expect, it } from 'vitest';
import { addressKey, THROTTLE_PURPOSE, Throttle } from '../../src/security/throttle.js';
import { SecretHasher } from '../../src/security/tokens.js';
import type { FailureWindow, ThrottleRepository } from '../../src/storage/repositories.js';

describe('brute-force throttle keys', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::FFFF:10.1.2.3', '10.1.2.3'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8:abcd:12::1', '2001:db8:abcd:12::/64'],
    ['2001:DB8:ABCD:0012:ffff:1:2:3', '2001:db8:abcd:12::/64'],
    ['2001:db8:abcd:12:aaaa:bbbb:cccc:dddd', '2001:db8:abcd:12::/64'],
    ['2001:db8::', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::1.2.3.4', '64:ff9b:0:0::/64'],
    ['1::2:3:4:5:6:7', '1:0:2:3::/64'],
  ])('an address counts by %s → %s (IPv6 per /64)', (ip, expected) => {
    expect(addressKey(ip)).toBe(expected);
  });

  it('login keys are the login normalised as the account lookup does it; each key kind has its limit', () => {
    expect(Throttle.loginKeys('storefront', ' Alice@Example.COM. ', '::ffff:192.0.2.1')).toEqual(['login:storefront:alice@example.com:192.0.2.1', 'ip:192.0.2.1']);
    expect(Throttle.loginKeys('backoffice', '\uFF2F\uFF4C\uFF47\uFF41', '192.0.2.1')).toEqual(['login:backoffice:olga:192.0.2.1', 'ip:192.0.2.1']);
    expect(Throttle.clientKeys('abc', '192.0.2.1')).toEqual(['client:abc:192.0.2.1', 'ip:192.0.2.1']);
    expect(Throttle.visitorKeys('2001:db8:1:2:3:4:5:6')).toEqual(['visitor:2001:db8:1:2::/64']);
    const throttle = new Throttle({} as ThrottleRepository, new SecretHasher('x'.repeat(32)), { maxFailures: 5, window: 900, guestAuthorizations: 7 });
    expect(['login:backoffice:a:1.2.3.4', 'client:abc:1.2.3.4', 'ip:1.2.3.4', 'visitor:1.2.3.4'].map((k) => throttle.limitOf(k))).toEqual([5, 10, 100, 7]);
  });

  it('blocks when any key reached its limit, until its window ends, and stores only keyed hashes', async () => {
    const rows = new Map<string, FailureWindow>();
    const repo: ThrottleRepository = {
      async failures(keys, since) {
        return keys.flatMap((k) => {
          const row = rows.get(k);
          return row && row.windowStart > since ? [row] : [];
        });
      },
      async recordFailure(key, now, window) {
        const row = rows.get(key);
        const next = !row || row.windowStart <= now - window ? { key, failures: 1, windowStart: now } : { ...row, failures: row.failures + 1 };
        rows.set(key, next);
        return { failures: next.failures, windowStart: next.windowStart };
      },
      async forgive(key) {
        const row = rows.get(key);
        if (row && row.failures > 0) rows.set(key, { ...row, failures: row.failures - 1 });
      },
      async reset(key) {
        rows.delete(key);
      },
    };
    const throttle = new Throttle(repo, new SecretHasher('y'.repeat(32)), { maxFailures: 2, window: 100, guestAuthorizations: 7 });
    const keys = Throttle.loginKeys('backoffice', 'bob', '192.0.2.7');
    expect(await throttle.check(keys, 1000)).toEqual({ retryAfter: 0, resettable: false });
    await throttle.fail(keys, 1000);
    expect(await throttle.check(keys, 1010)).toEqual({ retryAfter: 0, resettable: true });
    await throttle.fail(keys, 1010);
    expect(await throttle.check(keys, 1030)).toEqual({ retryAfter: 70, resettable: true });
    expect(await throttle.check(keys, 1099)).toEqual({ retryAfter: 1, resettable: true });
    expect(await throttle.check(keys, 1100)).toEqual({ retryAfter: 0, resettable: false });
    for (const stored of rows.keys()) expect(stored).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // A failure after the window starts new ones; a success forgets the account's count, not the address's.
    await throttle.fail(keys, 1200);
    expect([...rows.values()].map((r) => [r.failures, r.windowStart])).toEqual([[1, 1200], [1, 1200]]);
    await throttle.succeed(keys, await throttle.check(keys, 1201));
    expect([...rows.values()].map((r) => r.failures)).toEqual([1]);
    expect(await throttle.check(Throttle.clientKeys('c', '192.0.2.7'), 1202)).toEqual({ retryAfter: 0, resettable: false });
  });

  it('hashes each key once, and still stores the right keyed hash after it has seen more keys than it keeps', async () => {
    const asked: string[][] = [];
    const repo = { failures: async (keys: string[]) => (asked.push(keys), []) } as unknown as ThrottleRepository;
    const hasher = new SecretHasher('z'.repeat(32));
    let hashed = 0;
    const counting = Object.assign(Object.create(hasher) as SecretHasher, { hash: (purpose: string, value: string) => (hashed++, hasher.hash(purpose, value)) });
    const throttle = new Throttle(repo, counting, { maxFailures: 5, window: 900, guestAuthorizations: 7 });
    const keys = Throttle.clientKeys('abc', '192.0.2.1');
    const expected = keys.map((k) => hasher.hash(THROTTLE_PURPOSE, k));
    for (let i = 0; i < 3; i++) await throttle.check(keys, 1000);
    expect(hashed).toBe(2);
    expect(asked).toEqual([expected, expected, expected]);
    // Past the number of keys it keeps, it starts again: every answer is still the keyed hash.
    for (let i = 0; i < 10_050; i++) await throttle.check([`client:c${i}:192.0.2.1`], 1000);
    await throttle.check(keys, 1000);
    expect(asked.at(-1)).toEqual(expected);
    expect(asked.at(-2)).toEqual([hasher.hash(THROTTLE_PURPOSE, 'client:c10049:192.0.2.1')]);
    // The two first keys were let go with the others when it started again: hashed anew.
    expect(hashed).toBe(2 + 10_050 + 2);
    // Login keys (what someone typed) and long keys are never kept: hashed at every check (the
    // address key beside the login is, and was already).
    const login = Throttle.loginKeys('backoffice', 'someone', '192.0.2.1');
    const long = [`client:${'x'.repeat(300)}:192.0.2.1`];
    for (let i = 0; i < 2; i++) await throttle.check([...login, ...long], 1000);
    expect(hashed).toBe(2 + 10_050 + 2 + 2 * 2);
    expect(asked.at(-1)).toEqual([...login, ...long].map((k) => hasher.hash(THROTTLE_PURPOSE, k)));
  });
});
