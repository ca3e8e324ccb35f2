import { describe, expect, it } from 'vitest';
import { redirectUriMatches, redirectUriProblem } from '../../src/oauth/redirect-uri.js';

describe('redirectUriMatches: exact string match (RFC 9700 §4.1)', () => {
  const registered = 'https://app.example/callback';
  it.each([
    ['identical', 'https://app.example/callback', true],
    ['upper-case host', 'https://APP.example/callback', false],
    ['upper-case path', 'https://app.example/Callback', false],
    ['trailing slash', 'https://app.example/callback/', false],
    ['extra segment', 'https://app.example/callback/x', false],
    ['dot segment', 'https://app.example/x/../callback', false],
    ['added query', 'https://app.example/callback?x=1', false],
    ['fragment', 'https://app.example/callback#x', false],
    ['userinfo', 'https://user@app.example/callback', false],
    ['default port spelled out', 'https://app.example:443/callback', false],
    ['http instead of https', 'http://app.example/callback', false],
    ['prefix only', 'https://app.example/call', false],
    ['other host sharing a prefix', 'https://app.example.evil.example/callback', false],
  ])('%s', (_name, requested, expected) => {
    expect(redirectUriMatches(requested, registered)).toBe(expected);
  });

  it('lets the port of a loopback IP redirect vary (RFC 8252 §7.3)', () => {
    expect(redirectUriMatches('http://127.0.0.1:53124/cb', 'http://127.0.0.1/cb')).toBe(true);
    expect(redirectUriMatches('http://127.0.0.1:1/cb', 'http://127.0.0.1:8080/cb')).toBe(true);
    expect(redirectUriMatches('http://[::1]:4000/cb', 'http://[::1]/cb')).toBe(true);
  });

  it('keeps everything else of a loopback redirect exact', () => {
    expect(redirectUriMatches('http://127.0.0.1:5000/other', 'http://127.0.0.1/cb')).toBe(false);
    expect(redirectUriMatches('http://[::1]:5000/cb', 'http://127.0.0.1/cb')).toBe(false);
    expect(redirectUriMatches('https://127.0.0.1:5000/cb', 'http://127.0.0.1/cb')).toBe(false);
    expect(redirectUriMatches('http://127.0.0.1:99999/cb', 'http://127.0.0.1/cb')).toBe(false);
    // "localhost" is a name, not a loopback IP literal: no port exception (RFC 8252 §8.3).
    expect(redirectUriMatches('http://localhost:5000/cb', 'http://localhost/cb')).toBe(false);
  });
});

describe('redirectUriProblem: registration rules (RFC 9700 §2.6, RFC 6749 §3.1.2)', () => {
  it.each(['https://app.example/cb', 'http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'http://localhost:3000/cb', 'com.example.app:/oauth2redirect', 'https://app.example/cb?tenant=1'])(
    'accepts %s',
    (uri) => expect(redirectUriProblem(uri)).toBeUndefined(),
  );

  it.each([
    ['http://app.example/cb', /https/],
    ['https://app.example/cb#frag', /fragment/],
    ['https://user:pw@app.example/cb', /user information/],
    ['javascript:alert(1)', /javascript/],
    ['/relative/path', /absolute/],
    ['https://app.example/c b', /spaces/],
    ['myapp:/cb', /reverse domain/],
  ])('refuses %s', (uri, reason) => expect(redirectUriProblem(uri)).toMatch(reason));
});
