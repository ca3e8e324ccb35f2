import { readFileSync } from 'node:fs';
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

  it('every setting is documented in the README with its environment variable and file key', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const s of SETTINGS) {
      expect(readme, `README lacks ${s.env}`).toContain(`\`${s.env}\``);
      expect(readme, `README lacks ${s.file}`).toContain(`\`${s.file}\``);
    }
  });
});
