/**
 * Operator revocation of one token, for the CLI (`grantry token revoke TOKEN`) and any later
 * entry point: revoked by the protocol core, recorded here with who acted and whose token it
 * was (side, user, client), never the token itself.
 */
import type { Grantry } from '../app.js';
import type { OperatorRevocation } from '../oauth/revocation.js';
import { type ActionContext, requireAdmin } from './principal.js';

export interface RevokedToken {
  type: OperatorRevocation['type'];
  side: OperatorRevocation['side'];
  userId: number | null;
  clientId: string | null;
}

/**
 * Revokes an access token (by its jti) or a refresh token (with its whole grant) of any client.
 * Admins only: it is not limited to the caller's own clients. Undefined when the token is
 * unknown (nothing is recorded then).
 */
export async function revokeToken(
  grantry: Pick<Grantry, 'revocation' | 'audit' | 'repos'>,
  ctx: ActionContext,
  token: string,
  now = Math.floor(Date.now() / 1000),
): Promise<RevokedToken | undefined> {
  requireAdmin(ctx, 'revoke any token');
  const revoked = await grantry.revocation.revokeAny(token, now);
  if (!revoked) return undefined;
  // A refresh token knows its client by pk; the client may have been deleted meanwhile.
  const clientId = revoked.clientId ?? (revoked.clientPk !== undefined ? ((await grantry.repos.clients.findByPk(revoked.clientPk))?.clientId ?? null) : null);
  const result: RevokedToken = { type: revoked.type, side: revoked.side, userId: revoked.userId, clientId };
  grantry.audit.action(ctx, {
    kind: 'token.revoked',
    side: result.side ?? undefined,
    userId: result.userId ?? undefined,
    clientId: result.clientId ?? undefined,
    details: { token_type: result.type },
  });
  return result;
}
