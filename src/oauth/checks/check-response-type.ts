// Only the authorization code flow: the implicit grant is gone in RFC 9700 §2.1.2.
import { OAuthError } from '../errors.js';
import type { Params } from '../params.js';

export function checkResponseType(params: Params): void {
  const responseType = params.get('response_type');
  if (responseType === undefined) throw OAuthError.invalidRequest('the response_type parameter is required');
  if (responseType !== 'code') throw OAuthError.unsupportedResponseType('only response_type=code is supported');
}
