/**
 * Registering and managing OAuth clients, for the CLI, the console and the JSON:API. The
 * secret of a confidential client is returned once from create() and rotateSecret() and never
 * stored in clear.
 *
 * Permissions (principal.ts): the CLI and admins may do everything. A non-admin back-office user
 * manages only the back-office clients they own: a client they create is theirs, and its
 * client-credentials tokens act as themselves; naming another owner is 'forbidden', never
 * silently ignored (which would answer "done" for what was not). Anyone else's client is "not
 * found" to them (an id is never confirmed); creating a storefront client is 'forbidden'. The
 * API scopes a client may hold are those of the role its tokens act for (scopeRole below),
 * whoever registers it.
 *
 * A refusal of a setting names it (ManagementError.field, by its JSON:API attribute name), so
 * each entry point can show the message at that setting.
 */
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../config/index.js';
import { API_SCOPES, type Role, roleMayHold } from '../oauth/api-scopes.js';
import { CLIENT_SECRET_PURPOSE } from '../oauth/client-authentication.js';
import { redirectUriProblem } from '../oauth/redirect-uri.js';
import type { ScopePolicy } from '../oauth/scopes.js';
import type { SideName } from '../oauth/sides.js';
import { textProblem } from '../security/input.js';
import { randomToken, type SecretHasher } from '../security/tokens.js';
import {
  type BackofficeUser,
  type Client,
  type ClientChanges,
  type ClientFilter,
  type ClientRepository,
  type ClientType,
  GRANT_TYPES,
  type CustomerUser,
  type GrantRepository,
  type GrantType,
  SUBJECT_TYPES,
  type SubjectType,
} from '../storage/repositories.js';
import type { AuditTrail } from './audit.js';
import { checkedPage, checkedSearch } from './listing.js';
import { isUniqueViolation, ManagementError } from './errors.js';
import { type ActionContext, restrictedUser } from './principal.js';
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
  /** Where OpenID Connect sign-out may send the browser back to; authorization_code clients only. */
  postLogoutRedirectUris?: string[];
  /** The algorithm of the client's ID tokens; null (or left out): the server's signing key. */
  idTokenSignedResponseAlg?: string | null;
  /** 'public' (the default) or 'pairwise'. */
  subjectType?: string;
}

export type ClientUpdate = Partial<Omit<NewClientInput, 'side' | 'type'>>;

/** What a client list may be narrowed to (the repository's filter), and which page of it. */
export type ClientListQuery = ClientFilter & { page: number; size: number };

/** The settings an update may change, by their names in ClientUpdate (owner is ownerUserId). */
const SETTINGS = ['name', 'grants', 'redirectUris', 'skipConsent', 'scopes', 'ownerUserId', 'allowGuests', 'postLogoutRedirectUris', 'idTokenSignedResponseAlg', 'subjectType'] as const;

/**
 * The settings whose value differs between the client and its validated new settings. Grants and
 * scopes are sets (their order means nothing); redirect URIs compare as the list stored.
 */
function changedSettings(current: Client, next: ClientChanges): string[] {
  const same = (a: unknown, b: unknown, unordered: boolean) =>
    Array.isArray(a) && Array.isArray(b) ? JSON.stringify(unordered ? [...a].sort() : a) === JSON.stringify(unordered ? [...b].sort() : b) : a === b;
  return SETTINGS.filter((key) => next[key] !== undefined && !same(current[key], next[key], key === 'grants' || key === 'scopes')).map((key) => (key === 'ownerUserId' ? 'owner' : key));
}

const notFound = (clientId: string) => new ManagementError(`no client with client_id "${clientId}"`, 'not_found');

/** The most of one refused value a refusal repeats: enough to see which it was, never the whole of a huge input. */
const SHOWN_VALUE_LENGTH = 60;
/** The most refused values a refusal names. */
const SHOWN_VALUES = 10;

/** `value` as a refusal repeats it: cut to SHOWN_VALUE_LENGTH characters (code points) with an ellipsis. */
function shown(value: string): string {
  const characters = [...value];
  return characters.length > SHOWN_VALUE_LENGTH ? `${characters.slice(0, SHOWN_VALUE_LENGTH).join('')}…` : value;
}

/** Refused values, each shown(), the first SHOWN_VALUES of them and how many more. */
function shownList(values: readonly string[]): string {
  const more = values.length - SHOWN_VALUES;
  return values.slice(0, SHOWN_VALUES).map(shown).join(', ') + (more > 0 ? ` and ${more} more` : '');
}

/** A list of redirect URIs (of either kind), each following the redirect URI rule, without repeats. */
function checkedRedirectUris(uris: readonly string[], what: string, field: string): string[] {
  const unique = [...new Set(uris)];
  for (const uri of unique) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new ManagementError(`${what} ${shown(uri)} ${problem}`, 'invalid_input', field);
  }
  return unique;
}

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

/**
 * The role whose API scopes (api-scopes.ts) a client may be registered with, or undefined for
 * no limit. Its tokens act for that role: a storefront client's users are customers; a
 * back-office client owned by a non-admin acts as them (client credentials), and one a non-admin
 * registers or edits may do no more than they may. An admin's or an unowned back-office client
 * (whose authorization-code tokens carry only what each user's role allows) may hold anything.
 */
function scopeRole(ctx: ActionContext, side: SideName, owner: BackofficeUser | CustomerUser | undefined): Role | undefined {
  if (side === 'storefront') return 'customer';
  if (restrictedUser(ctx) !== undefined) return 'staff';
  return owner !== undefined && !(owner as BackofficeUser).isAdmin ? 'staff' : undefined;
}

export class ClientManager {
  constructor(
    private readonly clients: ClientRepository,
    private readonly users: UserManager,
    private readonly hasher: SecretHasher,
    private readonly scopes: ScopePolicy,
    private readonly grants: GrantRepository,
    private readonly audit: AuditTrail,
  ) {}

  async create(ctx: ActionContext, input: NewClientInput): Promise<{ client: Client; clientSecret: string | undefined }> {
    const self = restrictedUser(ctx);
    if (self !== undefined && input.side !== 'backoffice') throw new ManagementError('only administrators may manage storefront clients', 'forbidden', 'side');
    if (input.side !== 'backoffice' && input.side !== 'storefront') throw new ManagementError('the side must be backoffice or storefront', 'invalid_input', 'side');
    if (input.type !== 'confidential' && input.type !== 'public') throw new ManagementError('the client type must be confidential or public', 'invalid_input', 'type');
    const settings = await this.validate(ctx, input.side, input.type, undefined, {
      ...input,
      scopes: input.scopes ?? this.scopes.defaultClientScopes,
      // A non-admin's client is theirs, and acts as themselves.
      owner: self !== undefined ? await this.ownedBy(self, input.owner) : input.owner,
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
        postLogoutRedirectUris: settings.postLogoutRedirectUris,
        idTokenSignedResponseAlg: settings.idTokenSignedResponseAlg,
        subjectType: settings.subjectType,
      });
      this.audit.action(ctx, { kind: 'client.created', side: client.side, clientId: client.clientId, details: { name: client.name, type: client.type } });
      return { client, clientSecret };
    } catch (e) {
      if (isUniqueViolation(e)) throw new ManagementError(`a ${input.side} client named "${input.name.trim()}" already exists`, 'conflict', 'name');
      throw e;
    }
  }

  /** Changes the given settings; the result must still be a valid client. */
  async update(ctx: ActionContext, clientId: string, changes: ClientUpdate): Promise<Client> {
    const current = await this.get(ctx, clientId);
    const self = restrictedUser(ctx);
    const merged: NewClientInput = {
      side: current.side,
      type: current.type,
      name: changes.name ?? current.name,
      grants: changes.grants ?? current.grants,
      redirectUris: changes.redirectUris ?? current.redirectUris,
      skipConsent: changes.skipConsent ?? current.skipConsent,
      scopes: changes.scopes ?? current.scopes,
      owner: self !== undefined ? await this.ownedBy(self, changes.owner) : (changes.owner ?? (current.ownerUserId !== null ? String(current.ownerUserId) : undefined)),
      allowGuests: changes.allowGuests ?? current.allowGuests,
      postLogoutRedirectUris: changes.postLogoutRedirectUris ?? current.postLogoutRedirectUris,
      // null is a value here (back to the server's key), not "not given".
      idTokenSignedResponseAlg: changes.idTokenSignedResponseAlg !== undefined ? changes.idTokenSignedResponseAlg : current.idTokenSignedResponseAlg,
      subjectType: changes.subjectType ?? current.subjectType,
    };
    const settings = await this.validate(ctx, current.side, current.type, current, merged);
    // The audit names only what really changed: the console's form sends every field back, so
    // naming every field given would say nothing. An edit that changes nothing is neither
    // written nor recorded.
    const changed = changedSettings(current, settings);
    if (changed.length === 0) return current;
    try {
      await this.clients.update(clientId, settings);
    } catch (e) {
      if (isUniqueViolation(e)) throw new ManagementError(`a ${current.side} client named "${merged.name.trim()}" already exists`, 'conflict', 'name');
      throw e;
    }
    const details: Record<string, string> = { changed: changed.join(',') };
    // Where the codes and tokens may go is what matters most in an investigation: both lists, space-separated (a URI has no space).
    if (changed.includes('redirectUris')) Object.assign(details, { redirect_uris_before: current.redirectUris.join(' '), redirect_uris_after: (settings.redirectUris ?? []).join(' ') });
    if (changed.includes('postLogoutRedirectUris')) {
      Object.assign(details, { post_logout_redirect_uris_before: current.postLogoutRedirectUris.join(' '), post_logout_redirect_uris_after: (settings.postLogoutRedirectUris ?? []).join(' ') });
    }
    // Which key signs its ID tokens and which subject its users get: an investigation asks what they were.
    if (changed.includes('idTokenSignedResponseAlg')) Object.assign(details, { id_token_alg_before: current.idTokenSignedResponseAlg ?? 'server', id_token_alg_after: settings.idTokenSignedResponseAlg ?? 'server' });
    if (changed.includes('subjectType')) Object.assign(details, { subject_type_before: current.subjectType, subject_type_after: settings.subjectType as string });
    this.audit.action(ctx, { kind: 'client.updated', side: current.side, clientId, details });
    return this.get(ctx, clientId);
  }

  /** A new secret for a confidential client; the old one stops working at once. */
  async rotateSecret(ctx: ActionContext, clientId: string): Promise<{ client: Client; clientSecret: string }> {
    const client = await this.get(ctx, clientId);
    if (client.type !== 'confidential') throw new ManagementError('public clients have no secret');
    const clientSecret = randomToken(32);
    await this.clients.update(clientId, { secretHash: this.hasher.hash(CLIENT_SECRET_PURPOSE, clientSecret) });
    this.audit.action(ctx, { kind: 'client.secret_regenerated', side: client.side, clientId });
    return { client: await this.get(ctx, clientId), clientSecret };
  }

  /** The client, if the principal may see it; anyone else's is not found. */
  async get(ctx: ActionContext, clientId: string): Promise<Client> {
    // An id no client can have (too long, control characters) is simply not found.
    const client = clientId.length <= 64 ? await this.clients.findByClientId(clientId) : undefined;
    if (!client || !this.visible(ctx, client)) throw notFound(clientId);
    return client;
  }

  /** One page of the clients the principal may see, oldest first; a non-admin sees only their own. */
  async list(ctx: ActionContext, query: ClientListQuery): Promise<{ items: Client[]; total: number }> {
    const { page, size } = checkedPage(query.page, query.size);
    if (query.grant !== undefined && !(GRANT_TYPES as readonly string[]).includes(query.grant)) throw new ManagementError(`unknown grant type; known: ${GRANT_TYPES.join(', ')}`);
    checkedSearch(query.search);
    const self = restrictedUser(ctx);
    const filter: ClientFilter = { side: query.side, type: query.type, grant: query.grant, active: query.active, search: query.search, ownerUserId: query.ownerUserId };
    if (self !== undefined) {
      // Asked for someone else's or the storefront's: nothing, rather than a refusal that confirms anything.
      if ((query.side !== undefined && query.side !== 'backoffice') || (query.ownerUserId !== undefined && query.ownerUserId !== self)) return { items: [], total: 0 };
      Object.assign(filter, { side: 'backoffice', ownerUserId: self });
    }
    return this.clients.search(filter, (page - 1) * size, size);
  }

  async setActive(ctx: ActionContext, clientId: string, active: boolean): Promise<Client> {
    const client = await this.get(ctx, clientId);
    if (!(await this.clients.setActive(clientId, active))) throw notFound(clientId);
    this.audit.action(ctx, { kind: active ? 'client.activated' : 'client.deactivated', side: client.side, clientId });
    return this.get(ctx, clientId);
  }

  async delete(ctx: ActionContext, clientId: string): Promise<void> {
    const client = await this.get(ctx, clientId);
    if (!(await this.clients.delete(clientId))) throw notFound(clientId);
    this.audit.action(ctx, { kind: 'client.deleted', side: client.side, clientId, details: { name: client.name } });
  }

  /** Revokes every grant of the client, with all their tokens; returns how many grants. */
  async revokeTokens(ctx: ActionContext, clientId: string): Promise<number> {
    const client = await this.get(ctx, clientId);
    const count = await this.grants.revokeAllGrants({ clientPk: client.pk }, Math.floor(Date.now() / 1000));
    this.audit.action(ctx, { kind: 'tokens.revoked', side: client.side, clientId, details: { grants: count } });
    return count;
  }

  /**
   * The owner of a client a non-admin (`self`) creates or changes: themselves, whom they may
   * name (by id, username or email) or leave out. Anyone else is refused, and the same way
   * whether or not that user exists, so the refusal confirms no one.
   */
  private async ownedBy(self: number, named: string | undefined): Promise<string> {
    if (named !== undefined) {
      const user = await this.users.find('backoffice', named).catch((e: unknown) => {
        if (e instanceof ManagementError && e.code === 'not_found') return undefined;
        throw e;
      });
      if (user?.id !== self) throw new ManagementError('only administrators may give an application another owner; yours are owned by you', 'forbidden', 'owner');
    }
    return String(self);
  }

  private visible(ctx: ActionContext, client: Client): boolean {
    const self = restrictedUser(ctx);
    return self === undefined || (client.side === 'backoffice' && client.ownerUserId === self);
  }

  /** Every rule a client's settings must follow, for create and update (of `current`) alike. */
  private async validate(ctx: ActionContext, side: SideName, type: ClientType, current: Client | undefined, input: Omit<NewClientInput, 'side' | 'type'>): Promise<ClientChanges> {
    const name = input.name.trim();
    if (name === '' || name.length > 255) throw new ManagementError('the client name must have 1 to 255 characters', 'invalid_input', 'name');
    // Here, not only in the console's form: a name with terminal escapes, set through the CLI,
    // would rewrite what `grantry client list` and `audit list` print.
    const nameProblem = textProblem(name);
    if (nameProblem) throw new ManagementError(`the client name ${nameProblem}`, 'invalid_input', 'name');
    const grants = [...new Set(input.grants)];
    if (grants.length === 0) throw new ManagementError('give at least one grant type', 'invalid_input', 'grants');
    for (const g of grants) {
      if (!(GRANT_TYPES as readonly string[]).includes(g)) throw new ManagementError(`unknown grant type "${shown(g)}"; known: ${GRANT_TYPES.join(', ')}`, 'invalid_input', 'grants');
    }
    if (grants.includes('client_credentials') && type === 'public') throw new ManagementError('public clients cannot use the client_credentials grant', 'invalid_input', 'grants');
    // Skipping consent gives the application a token for whoever is signed in, admins included,
    // without asking them; the password grant hands it the passwords of whoever uses it. Only an
    // administrator may allow either. One already allowed by an admin on a non-admin's client
    // stays through their edits (their form sends it back); they may drop it, not add it.
    if (restrictedUser(ctx) !== undefined) {
      if (input.skipConsent && !current?.skipConsent) throw new ManagementError('only administrators may let an application skip the consent page', 'forbidden', 'skipConsent');
      if (grants.includes('password') && !current?.grants.includes('password')) throw new ManagementError('only administrators may allow the password grant', 'forbidden', 'grants');
    }
    if (grants.includes('refresh_token') && !grants.includes('authorization_code') && !grants.includes('password')) {
      throw new ManagementError('the refresh_token grant needs authorization_code or password, which issue refresh tokens', 'invalid_input', 'grants');
    }
    const redirectUris = checkedRedirectUris(input.redirectUris, 'redirect URI', 'redirectUris');
    if (grants.includes('authorization_code') && redirectUris.length === 0) throw new ManagementError('the authorization_code grant needs at least one redirect URI', 'invalid_input', 'redirectUris');
    const postLogoutRedirectUris = checkedRedirectUris(input.postLogoutRedirectUris ?? [], 'post-logout redirect URI', 'postLogoutRedirectUris');
    // Only a user who signed in through the application can be signed out from it.
    if (postLogoutRedirectUris.length > 0 && !grants.includes('authorization_code')) {
      throw new ManagementError('post-logout redirect URIs are for clients with the authorization_code grant, through which users sign in', 'invalid_input', 'postLogoutRedirectUris');
    }
    const alg = input.idTokenSignedResponseAlg ?? null;
    if (alg !== null && !(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new ManagementError(`unknown ID token signing algorithm "${shown(alg)}"; known: ${SIGNING_ALGORITHMS.join(', ')}`, 'invalid_input', 'idTokenSignedResponseAlg');
    }
    const subjectType = input.subjectType ?? 'public';
    if (!(SUBJECT_TYPES as readonly string[]).includes(subjectType)) {
      throw new ManagementError(`unknown subject type "${shown(subjectType)}"; known: ${SUBJECT_TYPES.join(', ')}`, 'invalid_input', 'subjectType');
    }
    const scopes = [...new Set(input.scopes ?? [])];
    const unknown = scopes.filter((s) => !this.scopes.isKnown(s));
    if (unknown.length) throw new ManagementError(`unknown scope ${shownList(unknown)}; known: ${Object.keys(this.scopes.known).join(', ')}`, 'invalid_input', 'scopes');
    const owner = input.owner !== undefined ? await this.users.find(side, input.owner) : undefined;
    if (owner === undefined && grants.includes('client_credentials')) {
      throw new ManagementError('the client_credentials grant needs an owner user (--owner)', 'invalid_input', 'owner');
    }
    const role = scopeRole(ctx, side, owner);
    const beyond = role === undefined ? [] : scopes.filter((s) => !roleMayHold(role, s));
    if (role !== undefined && beyond.length) {
      const held = Object.keys(API_SCOPES).filter((s) => roleMayHold(role, s));
      throw new ManagementError(
        `the ${role} role may not hold the scope ${beyond.join(', ')}, and this application's tokens act for that role; of Grantry's API scopes it may hold ${held.join(', ')}`,
        'invalid_input',
        'scopes',
      );
    }
    if (input.allowGuests && side !== 'storefront') throw new ManagementError('only storefront clients can allow guests', 'invalid_input', 'allowGuests');
    if (input.allowGuests && !grants.includes('authorization_code')) throw new ManagementError('guests get their tokens through the authorization_code grant', 'invalid_input', 'allowGuests');
    return {
      name,
      grants: grants as GrantType[],
      redirectUris,
      skipConsent: input.skipConsent ?? false,
      scopes,
      ownerUserId: owner?.id ?? null,
      allowGuests: input.allowGuests ?? false,
      postLogoutRedirectUris,
      idTokenSignedResponseAlg: alg as SigningAlgorithm | null,
      subjectType: subjectType as SubjectType,
    };
  }
}
