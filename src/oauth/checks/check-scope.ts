// The requested scope must be allowed for the client (invalid_scope, sent back to the client);
// no scope means the default scope, limited to what the client may have. A user signs in here,
// so the identity scopes may be asked for (ScopePolicy.mayHold).
import type { Client } from '../../storage/repositories.js';
import type { Params } from '../params.js';
import type { ScopePolicy } from '../scopes.js';

export function checkScope(params: Params, client: Client, scopes: ScopePolicy): string {
  return scopes.grant(params.get('scope'), client, { signIn: true });
}
