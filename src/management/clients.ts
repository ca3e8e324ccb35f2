/**
 * Registering and managing OAuth clients. The secret of a confidential client is returned once
 * from create() and never stored in clear.
 */
import { CLIENT_SECRET_PURPOSE } from '../oauth/client-authentication.js';
import { redirectUriProblem } from '../oauth/redirect-uri.js';
import type { SideName } from '../oauth/sides.js';
import { randomToken, type SecretHasher } from '../security/tokens.js';
import { type Client, type ClientRepository, type ClientType, GRANT_TYPES, type GrantType } from '../storage/repositories.js';
import { isUniqueViolation, ManagementError } from './errors.js';

export interface NewClientInput {
  side: SideName;
  name: string;
  type: ClientType;
  grants: string[];
  redirectUris: string[];
  skipConsent?: boolean;
}

export class ClientManager {
  constructor(
    private readonly clients: ClientRepository,
    private readonly hasher: SecretHasher,
  ) {}

  async create(input: NewClientInput): Promise<{ client: Client; clientSecret: string | undefined }> {
    const name = input.name.trim();
    if (name === '' || name.length > 255) throw new ManagementError('the client name must have 1 to 255 characters');
    if (input.type !== 'confidential' && input.type !== 'public') throw new ManagementError('the client type must be confidential or public');
    const grants = [...new Set(input.grants)];
    if (grants.length === 0) throw new ManagementError('give at least one grant type');
    for (const g of grants) {
      if (!(GRANT_TYPES as readonly string[]).includes(g)) throw new ManagementError(`unknown grant type "${g}"; known: ${GRANT_TYPES.join(', ')}`);
    }
    const redirectUris = [...new Set(input.redirectUris)];
    for (const uri of redirectUris) {
      const problem = redirectUriProblem(uri);
      if (problem) throw new ManagementError(`redirect URI ${uri} ${problem}`);
    }
    if (grants.includes('authorization_code') && redirectUris.length === 0) {
      throw new ManagementError('the authorization_code grant needs at least one redirect URI');
    }
    // 256 bits of randomness: a keyed SHA-256 of it is as safe as a slow hash, and fast.
    const clientSecret = input.type === 'confidential' ? randomToken(32) : undefined;
    try {
      const client = await this.clients.create({
        clientId: randomToken(24),
        side: input.side,
        name,
        type: input.type,
        secretHash: clientSecret ? this.hasher.hash(CLIENT_SECRET_PURPOSE, clientSecret) : null,
        grants: grants as GrantType[],
        redirectUris,
        skipConsent: input.skipConsent ?? false,
        active: true,
      });
      return { client, clientSecret };
    } catch (e) {
      if (isUniqueViolation(e)) throw new ManagementError(`a ${input.side} client named "${name}" already exists`, 'conflict');
      throw e;
    }
  }

  async get(clientId: string): Promise<Client> {
    const client = await this.clients.findByClientId(clientId);
    if (!client) throw new ManagementError(`no client with client_id "${clientId}"`, 'not_found');
    return client;
  }

  list(side?: SideName): Promise<Client[]> {
    return this.clients.list(side);
  }

  async setActive(clientId: string, active: boolean): Promise<Client> {
    if (!(await this.clients.setActive(clientId, active))) throw new ManagementError(`no client with client_id "${clientId}"`, 'not_found');
    return this.get(clientId);
  }

  async delete(clientId: string): Promise<void> {
    if (!(await this.clients.delete(clientId))) throw new ManagementError(`no client with client_id "${clientId}"`, 'not_found');
  }
}
