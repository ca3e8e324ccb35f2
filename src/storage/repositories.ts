/**
 * What the rest of Grantry needs from storage, as interfaces. The protocol core and the HTTP
 * layer see only these; src/storage/kysely/ implements them once for SQLite and PostgreSQL.
 */
import type { SideName } from '../oauth/sides.js';

export type ClientType = 'confidential' | 'public';
export const GRANT_TYPES = ['authorization_code'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

export interface Client {
  pk: number;
  clientId: string;
  side: SideName;
  name: string;
  type: ClientType;
  secretHash: string | null;
  grants: GrantType[];
  redirectUris: string[];
  skipConsent: boolean;
  active: boolean;
  createdAt: number;
  updatedAt: number;
  lastUsedAt: number | null;
}

export type NewClient = Omit<Client, 'pk' | 'createdAt' | 'updatedAt' | 'lastUsedAt'>;

export interface ClientRepository {
  create(client: NewClient): Promise<Client>;
  findByClientId(clientId: string): Promise<Client | undefined>;
  list(side?: SideName): Promise<Client[]>;
  setActive(clientId: string, active: boolean): Promise<boolean>;
  /** Deletes the client with its grants, codes and tokens. */
  delete(clientId: string): Promise<boolean>;
  touchLastUsed(pk: number, at: number): Promise<void>;
}

export interface BackofficeUser {
  id: number;
  username: string;
  email: string;
  enabled: boolean;
  locked: boolean;
  isAdmin: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface CustomerUser {
  id: number;
  email: string;
  firstName: string | null;
  lastName: string | null;
  enabled: boolean;
  createdAt: number;
  updatedAt: number;
}

export type NewBackofficeUser = Pick<BackofficeUser, 'username' | 'email' | 'isAdmin'> & { passwordHash: string };
export type NewCustomerUser = Pick<CustomerUser, 'email' | 'firstName' | 'lastName'> & { passwordHash: string };

/** What login needs to know about an account, whichever side it lives on. */
export interface LoginAccount {
  id: number;
  passwordHash: string;
  /** Why the account may not sign in, or undefined when it may. */
  refusal: 'disabled' | 'locked' | undefined;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export interface UserRepository {
  createBackofficeUser(user: NewBackofficeUser): Promise<BackofficeUser>;
  createCustomerUser(user: NewCustomerUser): Promise<CustomerUser>;
  /** Back office: username or email; storefront: email. */
  findLoginAccount(side: SideName, login: string): Promise<LoginAccount | undefined>;
  findBackofficeUser(id: number): Promise<BackofficeUser | undefined>;
  findBackofficeUserByLogin(login: string): Promise<BackofficeUser | undefined>;
  findCustomerUser(id: number): Promise<CustomerUser | undefined>;
  findCustomerUserByEmail(email: string): Promise<CustomerUser | undefined>;
  listBackofficeUsers(offset: number, limit: number): Promise<Page<BackofficeUser>>;
  listCustomerUsers(offset: number, limit: number): Promise<Page<CustomerUser>>;
  countBackofficeUsers(): Promise<number>;
  /** Whether the user exists, is enabled and is not locked. */
  isActive(side: SideName, id: number): Promise<boolean>;
  /** Sets the enabled or locked flag; returns false when no such user. */
  setFlag(side: SideName, id: number, flag: 'enabled' | 'locked', value: boolean): Promise<boolean>;
}

export interface Grant {
  id: string;
  clientPk: number;
  side: SideName;
  userId: number | null;
  scope: string;
  createdAt: number;
  expiresAt: number;
}

export interface AuthorizationCode {
  codeHash: string;
  grantId: string;
  clientPk: number;
  redirectUri: string;
  codeChallenge: string | null;
  expiresAt: number;
  usedAt: number | null;
}

export interface GrantRepository {
  /** Stores a grant and its first authorization code together. */
  createWithCode(grant: Grant, code: Omit<AuthorizationCode, 'grantId' | 'usedAt'>): Promise<void>;
  findGrant(id: string): Promise<(Grant & { revokedAt: number | null }) | undefined>;
  /**
   * Marks the client's code used if it was unused, in one conditional UPDATE: of any number
   * of concurrent callers exactly one gets the code back. Another client cannot burn it, and
   * a code of a revoked grant is not consumed.
   */
  consumeCode(codeHash: string, clientPk: number, now: number): Promise<AuthorizationCode | undefined>;
  findCode(codeHash: string): Promise<AuthorizationCode | undefined>;
  /** Revokes the grant and so every token descending from it. */
  revokeGrant(id: string, now: number): Promise<void>;
  /** Records an issued access token and extends the grant's lifetime to cover it. */
  recordAccessToken(token: { jti: string; grantId: string; clientPk: number; issuedAt: number; expiresAt: number }): Promise<void>;
  /**
   * Whether a token is still good beyond its signature: not revoked, grant not revoked,
   * client active, user enabled and not locked. Undefined when the jti is unknown.
   */
  checkAccessToken(jti: string, side: SideName): Promise<{ usable: boolean; userId: number | null } | undefined>;
}

export interface Session {
  side: SideName;
  userId: number;
  expiresAt: number;
}

export interface SessionRepository {
  create(idHash: string, session: Session, now: number): Promise<void>;
  /** The live session with that hash, if the user may still sign in. */
  find(idHash: string, now: number): Promise<Session | undefined>;
  delete(idHash: string): Promise<void>;
}

export interface Repositories {
  clients: ClientRepository;
  users: UserRepository;
  grants: GrantRepository;
  sessions: SessionRepository;
}
