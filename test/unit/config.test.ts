import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, SETTINGS } from '../../src/config/index.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({ env: {} });
    expect(c).toMatchObject({
      port: 8080,
      publicUrl: 'http://localhost:8080',
      backendPrefix: 'admin',
      storefrontEnabled: true,
      accessTokenTtl: 3600,
      authorizationCodeTtl: 600,
      signingAlgorithm: 'RS256',
      databaseUrl: 'sqlite:var/grantry.sqlite',
      requestTimeout: 30,
      headersTimeout: 10,
      keepAliveTimeout: 5,
      maxConnections: 1000,
    });
  });

  it('takes environment overrides', () => {
    const c = loadConfig({ env: { PORT: '9000', PUBLIC_URL: 'https://shop.example/', GRANTRY_BACKEND_PREFIX: 'office', GRANTRY_STOREFRONT_ENABLED: 'false', GRANTRY_SIGNING_ALGORITHM: 'es256' } });
    expect(c).toMatchObject({ port: 9000, publicUrl: 'https://shop.example', backendPrefix: 'office', storefrontEnabled: false, signingAlgorithm: 'ES256' });
  });

  it.each([
    [{ PORT: 'abc' }, /PORT.*whole number/],
    [{ PUBLIC_URL: 'ftp://x' }, /PUBLIC_URL.*http/],
    [{ GRANTRY_ACCESS_TOKEN_TTL: '5' }, /GRANTRY_ACCESS_TOKEN_TTL.*60/],
    [{ GRANTRY_AUTHORIZATION_CODE_TTL: '3600' }, /GRANTRY_AUTHORIZATION_CODE_TTL/],
    [{ GRANTRY_SIGNING_ALGORITHM: 'HS256' }, /GRANTRY_SIGNING_ALGORITHM.*RS256/],
    [{ GRANTRY_BACKEND_PREFIX: 'a/b' }, /GRANTRY_BACKEND_PREFIX/],
    [{ GRANTRY_BACKEND_PREFIX: 'api' }, /reserved/],
    [{ GRANTRY_STOREFRONT_ENABLED: 'maybe' }, /GRANTRY_STOREFRONT_ENABLED.*true or false/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL/],
    [{ GRANTRY_SECRET: 'short' }, /GRANTRY_SECRET.*32/],
    [{ GRANTRY_HEADERS_TIMEOUT: '40' }, /GRANTRY_HEADERS_TIMEOUT.*at most request_timeout \(30\)/],
    [{ GRANTRY_REQUEST_TIMEOUT: '0' }, /GRANTRY_REQUEST_TIMEOUT.*from 1/],
    [{ GRANTRY_MAX_CONNECTIONS: '0' }, /GRANTRY_MAX_CONNECTIONS.*from 1/],
  ])('refuses %o naming the setting', (env, message) => {
    expect(() => loadConfig({ env })).toThrow(message);
  });

  it('refuses unknown keys and bad JSON in the config file', () => {
    expect(() => loadConfig({ env: {}, configFile: '/nonexistent/grantry.json' })).toThrow(/cannot read config file/);
  });

  it('the README\'s settings table is SETTINGS, row for row: file key, environment variable, default and meaning', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const rows = readme.split('\n').filter((line) => /^\| `[a-z_]+` \| /.test(line) && line.split(' | ').length >= 4);
    const table = rows.filter((line) => SETTINGS.some((s) => line.startsWith(`| \`${s.file}\` |`)));
    const expected = SETTINGS.map((s) => `| \`${s.file}\` | \`${s.env}\` | ${s.defaultText === '(none)' ? '(none)' : `\`${s.defaultText}\``} | ${s.description} |`);
    expect(table).toEqual(expected);
  });
});

describe('trust_proxy', () => {
  const trustProxy = (raw: string) => loadConfig({ env: { GRANTRY_TRUST_PROXY: raw } }).trustProxy;
  const fromFile = (value: unknown) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'grantry-config-'));
    const file = path.join(dir, 'grantry.json');
    writeFileSync(file, JSON.stringify({ trust_proxy: value }));
    try {
      return loadConfig({ env: {}, configFile: file }).trustProxy;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('is off by default and with false, 0 or an empty list', () => {
    expect(loadConfig({ env: {} }).trustProxy).toBe(false);
    for (const raw of ['false', 'FALSE', 'off', 'no', '0', '[]', ' , ']) expect(trustProxy(raw), raw).toBe(false);
    for (const value of [false, 0, []]) expect(fromFile(value)).toBe(false);
  });

  it('takes trusted proxy addresses and CIDR ranges, IPv4 and IPv6, comma-separated or as a JSON array', () => {
    expect(trustProxy('127.0.0.1')).toEqual(['127.0.0.1']);
    expect(trustProxy(' 127.0.0.1, 10.0.0.0/8 ,::1, fd00::/16 ,2001:db8::/32, ::ffff:192.0.2.1 ')).toEqual(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/16', '2001:db8::/32', '::ffff:192.0.2.1']);
    expect(trustProxy('["192.168.0.0/16", "::1"]')).toEqual(['192.168.0.0/16', '::1']);
    expect(fromFile(['10.1.2.3', '172.16.0.0/12'])).toEqual(['10.1.2.3', '172.16.0.0/12']);
    expect(fromFile('10.1.2.3,10.1.2.4')).toEqual(['10.1.2.3', '10.1.2.4']);
  });

  it('takes a hop count', () => {
    expect(trustProxy('1')).toBe(1);
    expect(trustProxy('2')).toBe(2);
    expect(fromFile(1)).toBe(1);
  });

  it.each(['true', 'TRUE', 'yes', 'on'])('refuses %s: it would trust any X-Forwarded-For', (raw) => {
    expect(() => trustProxy(raw)).toThrow(/GRANTRY_TRUST_PROXY.*would trust any client.*list the proxies' addresses \(e\.g\. 127\.0\.0\.1, 10\.0\.0\.0\/8\) or give a hop count/);
  });

  // proxy-addr matches an IPv4 client against an IPv6 range through the IPv4-mapped space, so
  // ::ffff:0:0/96 trusts every IPv4 client as surely as true does; the other IPv6 spaces that
  // embed IPv4 addresses (compatible, NAT64, 6to4) are held to the same IPv4 /8.
  it.each([
    ['::ffff:0:0/96'],
    ['::ffff:0.0.0.0/97'],
    ['::ffff:10.0.0.0/103'],
    ['::ffff:0:0/95'],
    ['::/96'],
    ['::/80'],
    ['64:ff9b::/96'],
    ['2002::/16'],
    ['0.0.0.0/1,128.0.0.0/1', '0.0.0.0/1'],
    ['10.0.0.1, 128.0.0.0/1', '128.0.0.0/1'],
    ['10.0.0.0/7'],
    ['2000::/3'],
    ['fd00::/8'],
  ])('refuses %s: a range that wide would trust a large part of the internet', (raw, entry = raw) => {
    expect(() => trustProxy(raw)).toThrow(/^invalid environment variable GRANTRY_TRUST_PROXY: /);
    expect(() => trustProxy(raw)).toThrow(`${JSON.stringify(entry)} would trust a large part of the internet`);
    expect(() => trustProxy(raw)).toThrow("list the proxies' addresses (e.g. 127.0.0.1, 10.0.0.0/8) or give a hop count");
    expect(() => fromFile(raw.split(','))).toThrow(/"trust_proxy".*would trust a large part of the internet/);
  });

  it('takes ranges up to /8 for IPv4 and /16 for IPv6, and IPv4-mapped ranges up to ::ffff:0:0/104 (an IPv4 /8)', () => {
    const ranges = ['10.0.0.0/8', '::ffff:10.0.0.0/104', '::ffff:192.0.2.0/120', 'fd00::/16', '2001:db8::/32', '2002:c000:200::/40', '::1', '::1/128', '64:ff9b::c000:200/120'];
    expect(trustProxy(ranges.join(','))).toEqual(ranges);
  });

  it('refuses true in the config file too', () => {
    expect(() => fromFile(true)).toThrow(/"trust_proxy".*would trust any client.*hop count/);
  });

  it.each([
    ['proxy.internal', /"proxy\.internal" is not an IP address or CIDR range/],
    ['10.0.0.1, 10.0.0.256', /"10\.0\.0\.256" is not an IP address or CIDR range/],
    ['010.0.0.1', /"010\.0\.0\.1" is not an IP address/],
    ['10.0.0.0/33', /"10\.0\.0\.0\/33".*prefix length from 1 to 32/],
    ['fd00::/129', /"fd00::\/129".*prefix length from 1 to 128/],
    ['10.0.0.0/', /"10\.0\.0\.0\/" is not an IP address or CIDR range/],
    ['10.0.0.0/8/8', /"10\.0\.0\.0\/8\/8" is not an IP address or CIDR range/],
    ['10.0.0.0/255.0.0.0', /"10\.0\.0\.0\/255\.0\.0\.0".*prefix length/],
    ['0.0.0.0/0', /"0\.0\.0\.0\/0" would trust any client/],
    ['::/0', /"::\/0" would trust any client/],
    ['fe80::1%eth0', /"fe80::1%eth0" is not an IP address/],
    ['-1', /"-1" is not an IP address or CIDR range/],
    ['1.5', /"1\.5" is not an IP address or CIDR range/],
    ['1000', /hop count.*from 1 to 100/],
    ['[1, 2]', /must be a list of strings/],
    ['["10.0.0.1"', /GRANTRY_TRUST_PROXY.*JSON/],
  ])('refuses %s with a message naming the entry', (raw, message) => {
    expect(() => trustProxy(raw)).toThrow(/^invalid environment variable GRANTRY_TRUST_PROXY: /);
    expect(() => trustProxy(raw)).toThrow(message);
  });
});
