/**
 * The one canonical form of a login name: a back-office username or an email address of
 * either side. Everything that tells accounts apart uses it and nothing else: the unique keys
 * stored with each user (migration 004), the account lookups of the login form, the password
 * grant and the CLI, and the brute-force counters. So `Alice`, fullwidth `ａｌｉｃｅ` and `alice`
 * cannot be three accounts, any of those spellings finds the one account, and a counter can
 * never tell a spelling that finds an account from one that does not.
 */

/**
 * - Unicode NFKC, so compatibility characters (fullwidth letters, ligatures, the Kelvin sign)
 *   read as their plain forms;
 * - case folded as the lower case of the upper case, so `ß` and `ss`, or `ς` and `σ`, are one;
 *   then NFKC again, since case mapping may leave unnormalised sequences;
 * - surrounding white space dropped (forms and copy-paste add it);
 * - for an email (anything with `@`), trailing dots dropped: `example.com.` is the fully
 *   qualified spelling of `example.com`.
 * The result is a fixed point: normalizeLogin(normalizeLogin(x)) === normalizeLogin(x).
 */
export function normalizeLogin(login: string): string {
  const folded = login.normalize('NFKC').toLowerCase().toUpperCase().toLowerCase().normalize('NFKC').trim();
  return folded.includes('@') ? folded.replace(/[.\s]+$/u, '') : folded;
}
