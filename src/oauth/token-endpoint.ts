/**
 * POST /oauth2-token (RFC 6749 §3.2): authenticates the client, picks the grant handler by
 * grant_type, and checks that the client may use it. The client decides the side.
 */
import type { Throttle } from '../security/throttle.js';
import type { SecretHasher } from '../security/tokens.js';
import type { Client, ClientRepository } from '../storage/repositories.js';
import { authenticateClient, type BasicCredentials } from './client-authentication.js';
import { NO_EVENTS, type ProtocolEvents } from './events.js';
import { OAuthError } from './errors.js';
import type { GrantHandler, TokenResponse } from './grants/grant.js';
import { Params, type RawParams } from './params.js';
import type { SideRegistry } from './sides.js';

export class TokenEndpoint {
  private readonly handlers: Map<string, GrantHandler>;

  constructor(
    private readonly clients: ClientRepository,
    private readonly hasher: SecretHasher,
    private readonly sides: SideRegistry,
    handlers: GrantHandler[],
    private readonly throttle: Throttle,
    private readonly events: ProtocolEvents = NO_EVENTS,
  ) {
    this.handlers = new Map(handlers.map((h) => [h.type, h]));
  }

  get grantTypes(): string[] {
    return [...this.handlers.keys()];
  }

  /**
   * Client authentication shared with the revocation and introspection endpoints. With the
   * caller's IP address, wrong client secrets are throttled (brute-force protection); callers
   * without one (benchmarks, tools in process) are not.
   */
  async authenticate(raw: RawParams, basic: BasicCredentials | undefined, ip?: string, now = Math.floor(Date.now() / 1000)): Promise<{ params: Params; client: Client }> {
    const params = new Params(raw);
    let client: Client;
    try {
      client = await authenticateClient(params, basic, this.clients, this.hasher, ip === undefined ? undefined : { throttle: this.throttle, ip, now });
    } catch (e) {
      // A block by the brute-force limit on client secrets. The client_id is not recorded: it is
      // whatever the request claimed, and the address is what the limit counts.
      if (e instanceof OAuthError && e.status === 429) this.events.emit({ kind: 'client_authentication.blocked', address: ip, details: { retry_after: e.retryAfter ?? 0 } });
      throw e;
    }
    if (!this.sides.get(client.side)) throw OAuthError.invalidClient(`the ${client.side} side is disabled on this server`);
    return { params, client };
  }

  async handle(raw: RawParams, basic: BasicCredentials | undefined, ip?: string, now = Math.floor(Date.now() / 1000)): Promise<TokenResponse> {
    const { params, client } = await this.authenticate(raw, basic, ip, now);
    const grantType = params.get('grant_type');
    if (grantType === undefined) throw OAuthError.invalidRequest('the grant_type parameter is required');
    const handler = this.handlers.get(grantType);
    // Fixed wording, never the value: descriptions must not echo what the request sent.
    if (!handler) throw OAuthError.unsupportedGrantType('the grant_type is not supported');
    if (!client.grants.includes(handler.type)) throw OAuthError.unauthorizedClient(`the client is not allowed to use the ${handler.type} grant`);
    const { response, userId } = await handler.handle({ client, params, now, ip, events: this.events });
    this.events.emit({
      kind: 'token.issued',
      side: client.side,
      clientId: client.clientId,
      userId,
      address: ip,
      // What was issued, never the tokens themselves.
      details: { grant_type: handler.type, scope: response.scope ?? '', refresh_token: response.refresh_token !== undefined },
    });
    if (client.lastUsedAt === null || client.lastUsedAt < now - 60) await this.clients.touchLastUsed(client.pk, now);
    return response;
  }
}
