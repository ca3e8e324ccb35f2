/**
 * The password policy, applied wherever a password is set (never at sign-in, so existing
 * passwords keep working): a minimum length (setting password_min_length), no password from the
 * list of common and breached passwords shipped with Grantry, and not the user's own username,
 * email address or the local part of their email.
 *
 * The list is `passwords-common` of @zxcvbn-ts/language-common (MIT): the most common passwords
 * of the xato corpus of breached passwords, stored compressed in the package. It is loaded on the
 * first check, into a Set (O(1) lookups), so start-up and CLI commands that set no password pay
 * nothing. Comparisons are on the NFKC form in lower case (the list is lower case).
 */
import { createRequire } from 'node:module';

export const DEFAULT_MIN_PASSWORD_LENGTH = 12;
/** The highest password_min_length: the length of the passwords Grantry generates. */
export const MAX_MIN_PASSWORD_LENGTH = 24;

export const COMMON_PASSWORD_MESSAGE = 'this password is too common; choose another';

let common: Set<string> | undefined;

const folded = (text: string) => text.normalize('NFKC').toLowerCase();

function commonPasswords(): Set<string> {
  if (!common) {
    const require = createRequire(import.meta.url);
    const { dictionary } = require('@zxcvbn-ts/language-common') as { dictionary: { 'passwords-common': string[] } };
    common = new Set(dictionary['passwords-common'].map(folded));
  }
  return common;
}

/** Whether the password (NFKC, any case) is on the shipped list of common passwords. */
export function isCommonPassword(password: string): boolean {
  return commonPasswords().has(folded(password));
}

/**
 * What the policy refuses in a new password, as a message, or undefined. `names` are the user's
 * username and email: the password may equal neither the username, nor the email address, nor
 * its local part (whoever knows the address would try both).
 */
export function passwordPolicyProblem(password: string, options: { minLength: number; names?: readonly (string | undefined)[] }): string | undefined {
  // Counted in code points, as a user counts characters.
  if ([...password].length < options.minLength) return `the password must have at least ${options.minLength} characters`;
  const candidate = folded(password);
  for (const name of options.names ?? []) {
    if (!name) continue;
    const own = name.includes('@') ? [name, name.slice(0, name.lastIndexOf('@'))] : [name];
    if (own.some((text) => text !== '' && candidate === folded(text))) return 'the password must not be the username or the email address';
  }
  if (commonPasswords().has(candidate)) return COMMON_PASSWORD_MESSAGE;
  return undefined;
}

/** Whether the list is loaded yet (for the test that start-up does not load it). */
export const commonPasswordsLoaded = () => common !== undefined;
