/**
 * Registering and managing OAuth clients. The secret of a confidential client is returned once
 * from create() and rotateSecret() and never stored in clear.
 */
import { CLIENT_SECRET_PURPOSE } from '../oauth/client-authentication.js';
import { redirectUriProblem } from '../oauth/redirect-uri.js';
import type { ScopePolicy } from '../oauth/scopes.js';
import type { SideName } from '../oauth/sides.js';
import { randomToken, type SecretHasher } from '../security/tokens.js';
import { type Client, type ClientChanges, type ClientRepository, type ClientType, GRANT_TYPES, type GrantType } from '../storage/repositories.js';
import { isUniqueViolation, ManagementError } from './errors.js';
import type { UserManager } from './users.js';

export interface NewClientInput {
  side: SideName;
  name: string;
  type: ClientType;
  grants: string[];
  redirectUris: string[];
  skipConsent?: boolean;
  /** Allowed scopes; the default scope when omitted. */
  scopes?: string[];
  /** Owner user of a client-credentials client: id, username or email of a user of its side. */
  owner?: string;
  allowGuests?: boolean;
}

export type ClientUpdate = Partial<Omit<NewClientInput, 'side' | 'type'>>;

/**
 * 192 random bits, URL-safe; never starting with "-", so that `grantry client show ID` cannot
 * mistake an id for an option.
 */
function newClientId(): string {
  for (;;) {
    const id = randomToken(24);
    if (!id.startsWith('-')) return id;
  }
}

export class ClientManager {
  constructor(
    private readonly clients: ClientRepository,
    private readonly users: UserManager,
    private readonly hasher: SecretHasher,
    private readonly scopes: ScopePolicy,
  ) {}

  async create(input: NewClientInput): Promise<{ client: Client; clientSecret: string | undefined }> {
    if (input.type !== 'confidential' && input.type !== 'public') throw new ManagementError('the client type must be confidential or public');
    const settings = await this.validate(input.side, input.type, {
      ...input,
      scopes: input.scopes ?? this.scopes.defaultClientScopes,
    });
    // 256 bits of randomness: a keyed SHA-256 of it is as safe as a slow hash, and fast.
    const clientSecret = input.type === 'confidential' ? randomToken(32) : undefined;
    try {
      const client = await this.clients.create({
        clientId: newClientId(),
        side: input.side,
        type: input.type,
        secretHash: clientSecret ? this.hasher.hash(CLIENT_SECRET_PURPOSE, clientSecret) : null,
        active: true,
        name: settings.name as string,
        grants: settings.grants as GrantType[],
        redirectUris: settings.redirectUris as string[],
        skipConsent: settings.skipConsent ?? false,
        scopes: settings.scopes as string[],
        ownerUserId: settings.ownerUserId ?? null,
        allowGuests: settings.allowGuests ?? false,
      });
      return { client, clientSecret };
    } catch (e) {
      if (isUniqueViolation(e)) throw new ManagementError(`a ${input.side} client named "${input.name.trim()}" already exists`, 'conflict');
      throw e;
    }
  }

  /** Changes the given settings; the result must still be a valid client. */
  async update(clientId: string, changes: ClientUpdate): Promise<Client> {
    const current = await this.get(clientId);
    const merged: NewClientInput = {
      side: current.side,
      type: current.type,
      name: changes.name ?? current.name,
      grants: changes.grants ?? current.grants,
      redirectUris: changes.redirectUris ?? current.redirectUris,
      skipConsent: changes.skipConsent ?? current.skipConsent,
      scopes: changes.scopes ?? current.scopes,
      owner: changes.owner ?? (current.ownerUserId !== null ? String(current.ownerUserId) : undefined),
      allowGuests: changes.allowGuests ?? current.allowGuests,
    };
    const settings = await this.validate(current.side, current.type, merged);
    try {
      await this.clients.update(clientId, settings);
    } catch (e) {
      if (isUniqueViolation(e)) throw new ManagementError(`a ${current.side} client named "${merged.name.trim()}" already exists`, 'conflict');
      throw e;
    }
    return this.get(clientId);
  }

  /** A new secret for a confidential client; the old one stops working at once. */
  async rotateSecret(clientId: string): Promise<{ client: Client; clientSecret: string }> {
    const client = await this.get(clientId);
    if (client.type !== 'confidential') throw new ManagementError('public clients have no secret');
    const clientSecret = randomToken(32);
    await this.clients.update(clientId, { secretHash: this.hasher.hash(CLIENT_SECRET_PURPOSE, clientSecret) });
    return { client: await this.get(clientId), clientSecret };
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

  /** Every rule a client's settings must follow, for create and update alike. */
  private async validate(side: SideName, type: ClientType, input: Omit<NewClientInput, 'side' | 'type'>): Promise<ClientChanges> {
    const name = input.name.trim();
    if (name === '' || name.length > 255) throw new ManagementError('the client name must have 1 to 255 characters');
    const grants = [...new Set(input.grants)];
    if (grants.length === 0) throw new ManagementError('give at least one grant type');
    for (const g of grants) {
      if (!(GRANT_TYPES as readonly string[]).includes(g)) throw new ManagementError(`unknown grant type "${g}"; known: ${GRANT_TYPES.join(', ')}`);
    }
    if (grants.includes('client_credentials') && type === 'public') throw new ManagementError('public clients cannot use the client_credentials grant');
    if (grants.includes('refresh_token') && !grants.includes('authorization_code') && !grants.includes('password')) {
      throw new ManagementError('the refresh_token grant needs authorization_code or password, which issue refresh tokens');
    }
    const redirectUris = [...new Set(input.redirectUris)];
    for (const uri of redirectUris) {
      const problem = redirectUriProblem(uri);
      if (problem) throw new ManagementError(`redirect URI ${uri} ${problem}`);
    }
    if (grants.includes('authorization_code') && redirectUris.length === 0) throw new ManagementError('the authorization_code grant needs at least one redirect URI');
    const scopes = [...new Set(input.scopes ?? [])];
    const unknown = scopes.filter((s) => !this.scopes.isKnown(s));
    if (unknown.length) throw new ManagementError(`unknown scope ${unknown.join(', ')}; known: ${Object.keys(this.scopes.known).join(', ')}`);
    let ownerUserId: number | null = null;
    if (input.owner !== undefined) {
      ownerUserId = (await this.users.find(side, input.owner)).id;
    } else if (grants.includes('client_credentials')) {
      throw new ManagementError('the client_credentials grant needs an owner user (--owner)');
    }
    if (input.allowGuests && side !== 'storefront') throw new ManagementError('only storefront clients can allow guests');
    if (input.allowGuests && !grants.includes('authorization_code')) throw new ManagementError('guests get their tokens through the authorization_code grant');
    return { name, grants: grants as GrantType[], redirectUris, skipConsent: input.skipConsent ?? false, scopes, ownerUserId, allowGuests: input.allowGuests ?? false };
  }
}
