// The prompt parameter (OpenID Connect Core §3.1.2.1, used here as an OAuth extension): a
// space-separated set of none, login, consent and select_account. `none` may not be combined
// with another value. Grantry honours none, login and consent; select_account is refused
// (invalid_request: a browser holds one session per side, so there is no account to choose),
// as is any unknown value.
import { OAuthError } from '../errors.js';
import type { Params } from '../params.js';

export type Prompt = 'none' | 'login' | 'consent';

const SUPPORTED = new Set<string>(['none', 'login', 'consent']);

export function checkPrompt(params: Params): Set<Prompt> {
  const value = params.get('prompt');
  const prompt = new Set<Prompt>();
  if (value === undefined) return prompt;
  const names = value.split(' ').filter((n) => n !== '');
  for (const name of names) {
    if (SUPPORTED.has(name)) prompt.add(name as Prompt);
    else if (name === 'select_account') throw OAuthError.invalidRequest('unsupported prompt: select_account is not supported (one account per side is signed in); use none, login or consent');
    else throw OAuthError.invalidRequest('the prompt parameter names an unknown value');
  }
  if (prompt.has('none') && names.length > 1) throw OAuthError.invalidRequest('prompt=none must not be combined with another value');
  return prompt;
}
