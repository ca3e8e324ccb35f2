/**
 * Table types for Kysely. Booleans are stored as 0/1 integers and times as epoch seconds so the
 * same queries run unchanged on SQLite and PostgreSQL.
 */
import type { Generated } from 'kysely';

export interface BackofficeUserTable {
  id: Generated<number>;
  /** As the operator typed it (ASCII); shown, never compared. */
  username: string;
  email: string;
  /** normalizeLogin(username), unique: what logins and uniqueness compare (migration 004). */
  username_key: string;
  /** normalizeLogin(email), unique. */
  email_key: string;
  password_hash: string;
  enabled: number;
  locked: number;
  is_admin: number;
  created_at: number;
  updated_at: number;
}

export interface CustomerUserTable {
  id: Generated<number>;
  email: string;
  /** normalizeLogin(email), unique: what logins and uniqueness compare (migration 004). */
  email_key: string;
  first_name: string | null;
  last_name: string | null;
  password_hash: string;
  enabled: number;
  created_at: number;
  updated_at: number;
}

export interface ClientTable {
  id: Generated<number>;
  client_id: string;
  side: string;
  name: string;
  type: string;
  secret_hash: string | null;
  /** JSON array of grant type names. */
  grants: string;
  /** JSON array of redirect URIs. */
  redirect_uris: string;
  skip_consent: number;
  active: number;
  created_at: number;
  updated_at: number;
  last_used_at: number | null;
  /** JSON array of the scopes the client may be granted. */
  scopes: Generated<string>;
  /** The user a client-credentials token acts as. */
  owner_user_id: number | null;
  allow_guests: Generated<number>;
  /** JSON array of the URIs RP-initiated logout may return to. */
  post_logout_redirect_uris: Generated<string>;
  /** The JWS algorithm of the client's ID tokens; null: the server's current signing key. */
  id_token_signed_response_alg: string | null;
  /** 'public' or 'pairwise' (OpenID Connect Core §8). */
  subject_type: Generated<string>;
}

/** One authorization of a client by a user: the family that codes and tokens descend from. */
export interface GrantTable {
  id: string;
  client_pk: number;
  side: string;
  user_id: number | null;
  /** The token subject when there is no user (storefront guests). */
  subject: string | null;
  scope: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  /** JSON of the sign-in an OpenID Connect grant came from (OidcGrant); null for other grants. */
  oidc: string | null;
}

export interface AuthorizationCodeTable {
  code_hash: string;
  grant_id: string;
  client_pk: number;
  redirect_uri: string;
  /** 1 when the authorization request carried redirect_uri (RFC 6749 §4.1.3), else 0. */
  redirect_uri_requested: Generated<number>;
  code_challenge: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface AccessTokenTable {
  jti: string;
  grant_id: string;
  client_pk: number;
  issued_at: number;
  expires_at: number;
  revoked_at: number | null;
}

export interface SessionTable {
  id_hash: string;
  side: string;
  user_id: number;
  created_at: number;
  expires_at: number;
}

export interface RefreshTokenTable {
  token_hash: string;
  grant_id: string;
  client_pk: number;
  scope: string;
  access_jti: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  replacement: string | null;
}

export interface SigningKeyTable {
  kid: string;
  alg: string;
  private_key: string;
  public_jwk: string;
  created_at: number;
  activates_at: number;
  published_until: number | null;
}

/** Failed password or client-secret attempts, and storefront guest authorizations, per (hashed) key, in a fixed window. */
export interface FailedAttemptTable {
  /** Keyed hash of what is counted, e.g. "login:<side>:<login>:<ip>"; never the raw value. */
  key: string;
  failures: number;
  /** Epoch seconds of the first failure of the current window. */
  window_start: number;
}

/** One security-relevant event (migration 006); never a secret in any column. */
export interface AuditEventTable {
  id: Generated<number>;
  at: number;
  kind: string;
  actor: string;
  address: string | null;
  side: string | null;
  user_id: number | null;
  client_id: string | null;
  /** JSON object of small facts. */
  details: string;
}

/** The scopes a user has allowed a client (migration 007), one row per side, user and client. */
export interface ConsentTable {
  id: Generated<number>;
  side: string;
  user_id: number;
  client_pk: number;
  /** Space-separated scope names. */
  scope: string;
  created_at: number;
  updated_at: number;
}

export interface Database {
  backoffice_users: BackofficeUserTable;
  customer_users: CustomerUserTable;
  clients: ClientTable;
  grants: GrantTable;
  authorization_codes: AuthorizationCodeTable;
  access_tokens: AccessTokenTable;
  sessions: SessionTable;
  refresh_tokens: RefreshTokenTable;
  signing_keys: SigningKeyTable;
  failed_attempts: FailedAttemptTable;
  audit_events: AuditEventTable;
  consents: ConsentTable;
}
