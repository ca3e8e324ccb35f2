import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';

describe('settings given as JSON text', () => {
  it.each([
    [{ GRANTRY_SCOPES: '{bad' }, 'GRANTRY_SCOPES'],
    [{ GRANTRY_SCOPES: '{"api": "x",}' }, 'GRANTRY_SCOPES'],
    [{ GRANTRY_CORS_ALLOWED_ORIGINS: '[bad' }, 'GRANTRY_CORS_ALLOWED_ORIGINS'],
    [{ GRANTRY_CORS_ALLOWED_HEADERS: '["X-One",' }, 'GRANTRY_CORS_ALLOWED_HEADERS'],
  ])('invalid JSON in %o is a ConfigError naming the setting', (env, name) => {
    let error: unknown;
    try {
      loadConfig({ env });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`environment variable ${name}`);
    expect((error as Error).message).toMatch(/JSON/);
  });

  it('valid JSON and comma-separated values still work', () => {
    const c = loadConfig({ env: { GRANTRY_SCOPES: '{"api": "Use the API", "read": "Read"}', GRANTRY_CORS_ALLOWED_ORIGINS: '["https://a.example", "https://b.example"]' } });
    expect(c.scopes).toEqual({ api: 'Use the API', read: 'Read' });
    expect(c.corsAllowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(loadConfig({ env: { GRANTRY_SCOPES: 'api, read', GRANTRY_CORS_ALLOWED_ORIGINS: 'https://a.example' } })).toMatchObject({
      scopes: { api: 'api', read: 'read' },
      corsAllowedOrigins: ['https://a.example'],
    });
  });
});
