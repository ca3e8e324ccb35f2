// The prompt parameter (OpenID Connect Core §3.1.2.1, used here as an OAuth extension): a
// space-separated set of none, login, consent and select_account. `none` may not be combined
// with another value. Grantry honours none and consent; login and select_account are refused
// for now (invalid_request), as is any unknown value.
import { OAuthError } from '../errors.js';
import type { Params } from '../params.js';

export type Prompt = 'none' | 'consent';

const UNSUPPORTED = new Set(['login', 'select_account']);

export function checkPrompt(params: Params): Set<Prompt> {
  const value = params.get('prompt');
  const prompt = new Set<Prompt>();
  if (value === undefined) return prompt;
  const names = value.split(' ').filter((n) => n !== '');
  for (const name of names) {
    if (name === 'none' || name === 'consent') prompt.add(name);
    else if (UNSUPPORTED.has(name)) throw OAuthError.invalidRequest('unsupported prompt: only none and consent are supported');
    else throw OAuthError.invalidRequest('the prompt parameter names an unknown value');
  }
  if (prompt.has('none') && names.length > 1) throw OAuthError.invalidRequest('prompt=none must not be combined with another value');
  return prompt;
}
