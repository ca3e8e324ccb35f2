/**
 * What the rest of Grantry needs from storage, as interfaces. The protocol core and the HTTP
 * layer see only these; src/storage/kysely/ implements them once for SQLite and PostgreSQL.
 */
import type { SigningAlgorithm } from '../config/index.js';
import type { SideName } from '../oauth/sides.js';

export type ClientType = 'confidential' | 'public';
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', 'password'] as const;
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
  /** Scopes the client may be granted. */
  scopes: string[];
  /** The user a client-credentials token acts as (a user of the client's side). */
  ownerUserId: number | null;
  /** Storefront only: may get guest (visitor) tokens without login. */
  allowGuests: boolean;
  /** Where RP-initiated logout may send the browser back to (exact match), as for redirectUris. */
  postLogoutRedirectUris: string[];
  /** The algorithm of its ID tokens (OIDC `id_token_signed_response_alg`); null: the server's signing key. */
  idTokenSignedResponseAlg: SigningAlgorithm | null;
  /** Whether its ID tokens carry the user's subject of the side, or one for this client only (OIDC Core §8). */
  subjectType: SubjectType;
  createdAt: number;
  updatedAt: number;
  lastUsedAt: number | null;
}

export const SUBJECT_TYPES = ['public', 'pairwise'] as const;
export type SubjectType = (typeof SUBJECT_TYPES)[number];

/** The OpenID Connect settings a new client may leave out: none, the server's key, public. */
type OidcClientSettings = 'postLogoutRedirectUris' | 'idTokenSignedResponseAlg' | 'subjectType';
export type NewClient = Omit<Client, 'pk' | 'createdAt' | 'updatedAt' | 'lastUsedAt' | OidcClientSettings> & Partial<Pick<Client, OidcClientSettings>>;
export type ClientChanges = Partial<Pick<Client, 'name' | 'grants' | 'redirectUris' | 'skipConsent' | 'scopes' | 'ownerUserId' | 'allowGuests' | 'secretHash' | OidcClientSettings>>;

/** What a list of clients may be narrowed to; every given member must match. */
export interface ClientFilter {
  side?: SideName;
  type?: ClientType;
  /** Clients allowed this grant type. */
  grant?: GrantType;
  active?: boolean;
  /** A substring of the name or the client_id, compared case-insensitively. */
  search?: string;
  ownerUserId?: number;
}

export interface ClientRepository {
  create(client: NewClient): Promise<Client>;
  findByClientId(clientId: string): Promise<Client | undefined>;
  findByPk(pk: number): Promise<Client | undefined>;
  list(side?: SideName): Promise<Client[]>;
  /** One page of the clients that match, oldest first, with the number of all that match. */
  search(filter: ClientFilter, offset: number, limit: number): Promise<Page<Client>>;
  setActive(clientId: string, active: boolean): Promise<boolean>;
  update(clientId: string, changes: ClientChanges): Promise<boolean>;
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

/** How a back-office user may stop being an active admin, short of being deleted. */
export type AdminLoss = 'admin_right' | 'disabled' | 'locked';

/** What login needs to know about an account, whichever side it lives on. */
export interface LoginAccount {
  id: number;
  passwordHash: string;
  /** Why the account may not sign in, or undefined when it may. */
  refusal: 'disabled' | 'locked' | undefined;
  /** The back-office admin right (customers have none): the role the password grant's token gets. */
  isAdmin: boolean;
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
  /** Oldest first; `search` is a substring of the username or email, in their normalised form. */
  listBackofficeUsers(offset: number, limit: number, search?: string): Promise<Page<BackofficeUser>>;
  /** Oldest first; `search` is a substring of the email, first or last name. */
  listCustomerUsers(offset: number, limit: number, search?: string): Promise<Page<CustomerUser>>;
  countBackofficeUsers(): Promise<number>;
  /** Back-office users who are admins, enabled and not locked: those who can manage everything. */
  countActiveAdmins(): Promise<number>;
  /** Returns false when no such user. Granting only: removing the right is removeAdminStanding. */
  setAdmin(id: number, value: boolean): Promise<boolean>;
  /**
   * Removes the admin right of a back-office user, disables or locks them, unless they are the
   * last active admin ('last_admin', nothing changed). The check and the change are atomic
   * against every other such change and delete, on every process. False when no such user.
   */
  removeAdminStanding(id: number, loss: AdminLoss): Promise<boolean | 'last_admin'>;
  /** Returns false when no such user. */
  setPasswordHash(side: SideName, id: number, passwordHash: string): Promise<boolean>;
  /**
   * Deletes the user with their sessions and grants (so their codes, access and refresh tokens),
   * in one transaction; refuses (returns how many) while clients name the user as owner, and
   * ('last_admin') when the user is the last active back-office admin, checked atomically as in
   * removeAdminStanding. False when no such user.
   */
  delete(side: SideName, id: number): Promise<true | false | 'last_admin' | { ownsClients: number }>;
  /**
   * The user as a token request or a session check needs them: undefined unless they exist, are
   * enabled and are not locked. Always read from the database, never from kept answers
   * (unchanged-reads.ts): those wait a turn of the event loop for a shared change stamp, which
   * pays off for the API's runs of reads, not for a token request whose writes follow anyway.
   */
  activeAccount(side: SideName, id: number): Promise<{ isAdmin: boolean } | undefined>;
  /** Sets the enabled or locked flag; returns false when no such user. */
  setFlag(side: SideName, id: number, flag: 'enabled' | 'locked', value: boolean): Promise<boolean>;
  /**
   * Changes the email (and its unique login key) and, for customers, the names: only the members
   * given. Returns false when no such user; another account's email throws the unique violation.
   */
  updateProfile(side: SideName, id: number, changes: ProfileChanges): Promise<boolean>;
}

/** What updateProfile changes: the email of either side's users, the names of customers (null clears one). */
export interface ProfileChanges {
  email?: string;
  firstName?: string | null;
  lastName?: string | null;
}

export interface Grant {
  id: string;
  clientPk: number;
  side: SideName;
  userId: number | null;
  /** The token subject of a grant without a user (storefront guests). */
  subject: string | null;
  scope: string;
  createdAt: number;
  expiresAt: number;
  /** The sign-in an OpenID Connect grant (scope openid, authorize endpoint) came from; absent otherwise. */
  oidc?: OidcGrant | null;
}

/** What ID tokens of a grant repeat from the sign-in it came from (OIDC Core §2, §12.2). */
export interface OidcGrant {
  /** The authorization request's nonce, echoed in the first ID token only. */
  nonce?: string;
  /** When the user authenticated: the start of their session. */
  authTime: number;
  /**
   * The user's subject at the client when it signed in: every ID token of the grant repeats it
   * (OIDC Core §12.2), even if the client's subject type changes meanwhile.
   */
  sub?: string;
  /** The session's OIDC id (`sid`), for logout. */
  sid?: string;
  /** Claims asked for by name with the `claims` parameter (OIDC Core §5.5), for the ID token and for UserInfo. */
  idTokenClaims?: string[];
  userinfoClaims?: string[];
}

export interface AuthorizationCode {
  codeHash: string;
  grantId: string;
  clientPk: number;
  /** Where the authorization response went: the requested URI, or the single registered one. */
  redirectUri: string;
  /**
   * Whether the authorization request carried redirect_uri; only then must the token request
   * carry it too (RFC 6749 §4.1.3).
   */
  redirectUriRequested: boolean;
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
   * of concurrent callers exactly one gets the code back, with its grant (undefined only if the
   * grant was deleted meanwhile). Another client cannot burn it, and a code of a revoked grant is
   * not consumed.
   */
  consumeCode(codeHash: string, clientPk: number, now: number): Promise<(AuthorizationCode & { grant: (Grant & { revokedAt: number | null }) | undefined }) | undefined>;
  findCode(codeHash: string): Promise<AuthorizationCode | undefined>;
  /** Revokes the grant and so every token descending from it. */
  revokeGrant(id: string, now: number): Promise<void>;
  /**
   * Revokes every grant of a client, or of a user of one side (of that user for one client, with
   * `clientPk`); returns how many.
   */
  revokeAllGrants(filter: { clientPk: number } | { side: SideName; userId: number; clientPk?: number }, now: number): Promise<number>;
  /**
   * The user's grants that still hold a usable token (an access token neither revoked nor
   * expired, or an unused refresh token not expired), whatever the client: what an application
   * can act on for the user now.
   */
  liveGrantsOfUser(side: SideName, userId: number, now: number): Promise<Array<{ clientPk: number; scope: string; createdAt: number }>>;
  /** When a token was last issued to each client for the user (access or refresh token), over all the user's grants. */
  lastIssuedOfUser(side: SideName, userId: number): Promise<Array<{ clientPk: number; at: number }>>;
  /**
   * Records an issued access token (and the refresh token issued with it) in one transaction,
   * and extends the grant's lifetime to cover them. `newGrant` is a grant that starts without a
   * code (client credentials, password): stored in the same transaction, so a token costs one
   * commit.
   */
  recordIssued(access: AccessTokenRecord, refresh?: NewRefreshToken, newGrant?: Grant): Promise<void>;
  /**
   * Revokes one access token of the client (any client when null). Returns the side and user of
   * its grant (whose the token was, for the audit trail); undefined when there is no such token.
   */
  revokeAccessToken(jti: string, clientPk: number | null, now: number): Promise<{ side: SideName; userId: number | null } | undefined>;
  /**
   * Whether a token is still good beyond its signature: not revoked, grant not revoked,
   * client active, user enabled and not locked. Undefined when the jti is unknown. With the
   * user it acts for, as the API needs them (their admin right, their name): in the same query,
   * since every API request asks.
   */
  checkAccessToken(jti: string, side: SideName): Promise<{ usable: boolean; userId: number | null; grantId: string; user: TokenUser | null } | undefined>;
}

/** The user an access token acts for: a back-office user's admin right and username, a customer's email. */
export interface TokenUser {
  isAdmin: boolean;
  label: string;
  /** Whether the owner of the token's client is an admin; null when the client has no owner. */
  clientOwnerIsAdmin: boolean | null;
}

export interface AccessTokenRecord {
  jti: string;
  grantId: string;
  clientPk: number;
  issuedAt: number;
  expiresAt: number;
}

export interface RefreshToken {
  tokenHash: string;
  grantId: string;
  clientPk: number;
  scope: string;
  accessJti: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  /** The sealed response that replaced this token, while the grace period lasts. */
  replacement: string | null;
}

export type NewRefreshToken = Omit<RefreshToken, 'usedAt' | 'replacement'>;

export interface RefreshTokenRepository {
  /** The token with its grant, whatever its state. */
  find(tokenHash: string): Promise<(RefreshToken & { grant: Grant & { revokedAt: number | null } }) | undefined>;
  /**
   * Rotation in one transaction: marks the old token used (only if it was unused, belongs to
   * the client and its grant is live), stores the new access and refresh tokens, and revokes
   * the access token issued with the old one. False when another request rotated it first.
   */
  rotate(input: { oldHash: string; clientPk: number; now: number; replacement: string | null; next: NewRefreshToken; nextAccess: AccessTokenRecord }): Promise<boolean>;
}

export interface StoredSigningKey {
  kid: string;
  alg: SigningAlgorithm;
  /** PKCS#8 PEM sealed with the server secret. */
  sealedPrivateKey: string;
  publicJwk: Record<string, string>;
  createdAt: number;
  activatesAt: number;
  publishedUntil: number | null;
}

export interface SigningKeyRepository {
  list(): Promise<StoredSigningKey[]>;
  /** Adds a key; when retireOthersAt is set, every key not yet retired is published until then. */
  add(key: StoredSigningKey, retireOthersAt: number | null): Promise<void>;
  /**
   * Stores the seed key only if there is no key yet, atomically across processes; false when
   * another key was there (nodes with their own seed keys starting together on one database).
   */
  addFirst(key: StoredSigningKey): Promise<boolean>;
}

export interface CleanupRepository {
  /**
   * Deletes what has expired, in batches of `batchSize` rows per statement so no lock is held
   * long; safe to run in several processes at once. Returns the rows deleted per kind.
   */
  deleteExpired(now: number, batchSize: number): Promise<Record<string, number>>;
}

/** The current window of failures of one key. */
export interface FailureWindow {
  key: string;
  failures: number;
  /** Epoch seconds of the first failure of the window. */
  windowStart: number;
}

/**
 * Failed password and client-secret attempts, counted per key in a fixed window that starts at
 * the first failure. Keys are opaque (keyed hashes); the rows are shared by every process.
 */
export interface ThrottleRepository {
  /** The windows of those keys that started after `since` (keys with no such window are absent). */
  failures(keys: string[], since: number): Promise<FailureWindow[]>;
  /**
   * Counts one failure in one atomic statement: starts a new window at `now` (failures = 1) when
   * there is none or the last one is over, else adds one. Returns the window after counting.
   */
  recordFailure(key: string, now: number, windowSeconds: number): Promise<Omit<FailureWindow, 'key'>>;
  /** Takes one counted attempt back (an attempt counted in advance that then succeeded). */
  forgive(key: string): Promise<void>;
  reset(key: string): Promise<void>;
}

export interface Session {
  side: SideName;
  userId: number;
  expiresAt: number;
  /** When the user signed in (OIDC auth_time). */
  createdAt: number;
}

export interface SessionRepository {
  create(idHash: string, session: Omit<Session, 'createdAt'>, now: number): Promise<void>;
  /** The live session with that hash, if the user may still sign in. */
  find(idHash: string, now: number): Promise<Session | undefined>;
  delete(idHash: string): Promise<void>;
  /** Ends every session of a user; returns how many. */
  deleteForUser(side: SideName, userId: number): Promise<number>;
  /** Ends every session of a user but the one with hash `keepIdHash`; returns how many. */
  deleteOtherSessions(side: SideName, userId: number, keepIdHash: string): Promise<number>;
}

/** A recorded event of the audit trail. */
export interface AuditEvent {
  id: number;
  /** Epoch seconds. */
  at: number;
  kind: string;
  /** 'cli', the acting username, or for protocol events the user or client involved. */
  actor: string;
  address: string | null;
  side: SideName | null;
  userId: number | null;
  clientId: string | null;
  details: Record<string, string | number | boolean>;
}

export type NewAuditEvent = Omit<AuditEvent, 'id'>;

export interface AuditFilter {
  kind?: string;
  side?: SideName;
  userId?: number;
  clientId?: string;
}

export interface AuditRepository {
  /** Stores events in one multi-row insert. */
  insert(events: NewAuditEvent[]): Promise<void>;
  /** Newest first. */
  list(filter: AuditFilter, offset: number, limit: number): Promise<Page<AuditEvent>>;
}

/** Remembered consent: the scopes a user has allowed a client. */
export interface ConsentRepository {
  /** The scopes `userId` of `side` has allowed the client, or undefined when never asked. */
  find(side: SideName, userId: number, clientPk: number): Promise<string[] | undefined>;
  /** Adds `scopes` to what the user has allowed the client (the union), creating the row if needed. */
  record(side: SideName, userId: number, clientPk: number, scopes: string[]): Promise<void>;
  /** Every client the user has allowed, with the scopes and when the user first allowed it. */
  listForUser(side: SideName, userId: number): Promise<Array<{ clientPk: number; scopes: string[]; createdAt: number }>>;
  /** Forgets what the user allowed the client; false when nothing was remembered. */
  delete(side: SideName, userId: number, clientPk: number): Promise<boolean>;
}

export interface Repositories {
  clients: ClientRepository;
  users: UserRepository;
  grants: GrantRepository;
  sessions: SessionRepository;
  refreshTokens: RefreshTokenRepository;
  signingKeys: SigningKeyRepository;
  cleanup: CleanupRepository;
  throttle: ThrottleRepository;
  audit: AuditRepository;
  consents: ConsentRepository;
}
