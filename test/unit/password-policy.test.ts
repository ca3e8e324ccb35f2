import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { checkPassword } from '../../src/management/users.js';
import { randomToken } from '../../src/security/tokens.js';
import { COMMON_PASSWORD_MESSAGE, commonPasswordsLoaded, isCommonPassword, passwordPolicyProblem } from '../../src/security/password-policy.js';

const policy = (password: string, names: string[] = [], minLength = 12) => passwordPolicyProblem(password, { minLength, names });

describe('password policy', () => {
  it('loads the list of common passwords on the first check only', () => {
    // Loading the configuration (as every CLI command does) does not load the list.
    expect(loadConfig({ env: {} }).passwordMinLength).toBe(12);
    expect(commonPasswordsLoaded()).toBe(false);
    expect(policy('a-fine-long-password-1')).toBeUndefined();
    expect(commonPasswordsLoaded()).toBe(true);
  });

  it('refuses passwords shorter than the minimum length, counted in characters', () => {
    expect(policy('v8#kT2!mq9Z')).toBe('the password must have at least 12 characters');
    expect(policy('v8#kT2!mq9Zx')).toBeUndefined();
    expect(policy('v8#kT2!mq9Z', [], 8)).toBeUndefined();
    expect(policy('v8#kT2!mq9Zx', [], 13)).toBe('the password must have at least 13 characters');
    // Eleven emoji are 22 UTF-16 units but eleven characters.
    expect(policy('😀'.repeat(11))).toBe('the password must have at least 12 characters');
    expect(() => checkPassword('short-pw')).toThrow('at least 12 characters');
  });

  it('refuses common and breached passwords, in any case and after NFKC', () => {
    expect(isCommonPassword('password')).toBe(true);
    for (const common of ['qwerty123456', 'QWERTY123456', 'Qwerty123456', 'qazwsxedcrfv', 'leavemealone', '１２３４５６qwerty']) {
      expect(policy(common), common).toBe(COMMON_PASSWORD_MESSAGE);
    }
    expect(policy('iloveyou', [], 8)).toBe(COMMON_PASSWORD_MESSAGE);
    expect(COMMON_PASSWORD_MESSAGE).toBe('this password is too common; choose another');
    expect(() => checkPassword('1q2w3e4r5t6y')).toThrow('this password is too common; choose another');
  });

  it('refuses the username and the local part of the email', () => {
    expect(policy('rosalind.franklin', ['rosalind.franklin', 'rf@example.com'])).toMatch(/must not be the username or the email/);
    expect(policy('Rosalind.Franklin', ['rosalind.franklin'])).toMatch(/must not be the username or the email/);
    expect(policy('rosalind.franklin', ['rf', 'rosalind.franklin@example.com'])).toMatch(/must not be the username or the email/);
    expect(() => checkPassword('rosalind.franklin', 12, [undefined, 'rosalind.franklin@example.com'])).toThrow(/must not be the username/);
    expect(policy('rosalind.franklin-1953', ['rosalind.franklin', 'rosalind.franklin@example.com'])).toBeUndefined();
  });

  it('refuses the whole email address too, in any case and compatibility form', () => {
    expect(policy('rf@example.com', ['rosalind.franklin', 'rf@example.com'])).toMatch(/must not be the username or the email/);
    expect(policy('RF@Example.COM', ['rosalind.franklin', 'rf@example.com'])).toMatch(/must not be the username or the email/);
    expect(policy('ｒｆ＠ｅｘａｍｐｌｅ.ｃｏｍ', ['rosalind.franklin', 'rf@example.com'])).toMatch(/must not be the username or the email/);
    expect(() => checkPassword('rosalind.franklin@example.com', 12, ['rosalind.franklin', 'rosalind.franklin@example.com'])).toThrow(/must not be the username or the email address/);
    // Another address, or the address with more to it, is not the user's.
    expect(policy('rf@example.org', ['rosalind.franklin', 'rf@example.com'])).toBeUndefined();
    expect(policy('rf@example.com-1953', ['rosalind.franklin', 'rf@example.com'])).toBeUndefined();
  });

  it('accepts passwords like the generated ones', () => {
    for (let i = 0; i < 200; i++) expect(policy(randomToken(18), [], 24)).toBeUndefined();
  });

  it('takes password_min_length from 8 to 24 (the length of generated passwords)', () => {
    expect(loadConfig({ env: { GRANTRY_PASSWORD_MIN_LENGTH: '16' } }).passwordMinLength).toBe(16);
    for (const bad of ['7', '25']) expect(() => loadConfig({ env: { GRANTRY_PASSWORD_MIN_LENGTH: bad } })).toThrow(/GRANTRY_PASSWORD_MIN_LENGTH/);
  });
});
