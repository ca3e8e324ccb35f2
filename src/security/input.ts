/**
 * Checks every value from a request passes before anything else reads it, in one place for
 * every entry point (OAuth parameters, Basic credentials, the login form, the APIs' path and
 * query, the CLI's user ids), so no path can forget one.
 */

/**
 * Above every value the protocol accepts (tokens up to 8192 characters, redirect URIs up to
 * 2000), so each endpoint keeps its own rule for its own values (an over-long unknown token is
 * still "unknown" at revocation, RFC 7009 §2.2), and well under the 64 KiB body limit.
 */
export const MAX_TEXT_LENGTH = 16 * 1024;

/**
 * C0 control characters and DEL. RFC 6749 Appendix A allows none in client ids, secrets, codes,
 * tokens, scopes, states or URIs, and only TAB in user names and passwords; Grantry refuses TAB
 * there too, so one rule covers every value (and no account can be given such a password).
 * PostgreSQL cannot even store NUL ("invalid byte sequence for encoding UTF8: 0x00").
 */
const CONTROL = /[\u0000-\u001f\u007f]/;
/** A surrogate without its partner: it has no UTF-8 form, so two different strings would be stored as the same one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export type TextProblem = 'is too long' | 'contains characters that are not allowed';

/** What is wrong with a text value from a request, phrased to follow its name; undefined when it is acceptable. */
export function textProblem(value: string, maxLength = MAX_TEXT_LENGTH): TextProblem | undefined {
  if (value.length > maxLength) return 'is too long';
  if (CONTROL.test(value) || LONE_SURROGATE.test(value)) return 'contains characters that are not allowed';
  return undefined;
}

/** The longest password accepted anywhere (Argon2 hashes it whole). */
export const MAX_PASSWORD_LENGTH = 1024;

/**
 * What is wrong with a password presented to sign in. Only its length: a password is hashed and
 * never stored, shown or compared as text, and RFC 6749 Appendix A allows every character but
 * CR and LF, so accounts may hold passwords the text rule above would refuse; refusing them at
 * sign-in would lock those accounts out. (New passwords follow checkPassword's stricter rule.)
 */
export function presentedPasswordProblem(value: string): TextProblem | undefined {
  return value.length > MAX_PASSWORD_LENGTH ? 'is too long' : undefined;
}

/** The largest id the integer id columns hold (SERIAL on PostgreSQL, which refuses larger values). */
export const MAX_ID = 2147483647;

/** A row id written in decimal, or undefined when it is not one that can exist (0, too large, not digits). */
export function parseId(text: string): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const id = Number(text);
  return id >= 1 && id <= MAX_ID ? id : undefined;
}
