/**
 * One error type for the whole protocol core. Each named constructor carries the RFC error
 * code and the HTTP status the token endpoint answers with, so the HTTP layer renders errors
 * without knowing the rules behind them. A description is fixed wording: it may name a
 * parameter, never repeat a value from the request, since it reaches the client's redirect URI
 * and logs as Grantry's own words (markup, a phone number, a link).
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'invalid_token'
  | 'insufficient_scope'
  // OpenID Connect's prompt=none answers, used by the authorize endpoint.
  | 'login_required'
  | 'consent_required'
  // OpenID Connect Core §3.1.2.6: request objects and dynamic registration are not supported.
  | 'request_not_supported'
  | 'request_uri_not_supported'
  | 'registration_not_supported';

/**
 * RFC 6749 §5.2 allows an error_description only of %x20-21 / %x23-5B / %x5D-7E: no quote, no
 * backslash, nothing outside printable ASCII, so that it fits a WWW-Authenticate quoted string
 * and every client's parser. Enforced here, once, for every description of every endpoint.
 */
function descriptionText(text: string): string {
  return text.replace(/"/g, "'").replace(/\\/g, '/').replace(/[^\x20-\x7e]/g, '?');
}

export class OAuthError extends Error {
  readonly description: string;

  constructor(
    readonly error: OAuthErrorCode,
    description: string,
    readonly status: number,
    /** Seconds the client should wait before trying again (sent as Retry-After). */
    readonly retryAfter?: number,
  ) {
    const text = descriptionText(description);
    super(`${error}: ${text}`);
    this.description = text;
    this.name = 'OAuthError';
  }

  static invalidRequest(description: string) {
    return new OAuthError('invalid_request', description, 400);
  }
  /** 401: the client could not be authenticated (RFC 6749 §5.2). */
  static invalidClient(description = 'client authentication failed') {
    return new OAuthError('invalid_client', description, 401);
  }
  /**
   * 429: too many failed attempts at a client secret (invalid_client) or a password
   * (invalid_grant) from this address; nothing is checked until `retryAfter` seconds have passed.
   */
  static tooManyAttempts(retryAfter: number, error: 'invalid_client' | 'invalid_grant' = 'invalid_client') {
    return new OAuthError(error, 'too many failed attempts; try again later', 429, retryAfter);
  }
  static invalidGrant(description: string) {
    return new OAuthError('invalid_grant', description, 400);
  }
  static unauthorizedClient(description: string) {
    return new OAuthError('unauthorized_client', description, 400);
  }
  static unsupportedGrantType(description: string) {
    return new OAuthError('unsupported_grant_type', description, 400);
  }
  static unsupportedResponseType(description: string) {
    return new OAuthError('unsupported_response_type', description, 400);
  }
  static invalidScope(description: string) {
    return new OAuthError('invalid_scope', description, 400);
  }
  /**
   * 503: the server will not serve this request now (RFC 6749 §4.1.2.1), e.g. an address over a
   * rate limit; the client may try again after `retryAfter` seconds.
   */
  static temporarilyUnavailable(description: string, retryAfter: number) {
    return new OAuthError('temporarily_unavailable', description, 503, retryAfter);
  }
  /** prompt=none without a session: the user would have to sign in. */
  static loginRequired(description = 'the user is not signed in and prompt=none forbids the sign-in page') {
    return new OAuthError('login_required', description, 400);
  }
  /** prompt=none when the user would have to be asked for consent. */
  static consentRequired(description = 'the user has not allowed this request and prompt=none forbids the consent page') {
    return new OAuthError('consent_required', description, 400);
  }
  /** An OIDC authorize parameter Grantry does not support, with its own error code (OIDC Core §3.1.2.6). */
  static notSupported(error: 'request_not_supported' | 'request_uri_not_supported' | 'registration_not_supported', description: string) {
    return new OAuthError(error, description, 400);
  }
  static accessDenied(description = 'the resource owner denied the request') {
    return new OAuthError('access_denied', description, 403);
  }
  /** RFC 6750 §3.1: bearer token problems on the resource server. */
  static invalidToken(description: string) {
    return new OAuthError('invalid_token', description, 401);
  }
  /** RFC 6750 §3.1: a valid token without the scope the request needs. */
  static insufficientScope(description: string) {
    return new OAuthError('insufficient_scope', description, 403);
  }

  toJSON() {
    return { error: this.error, error_description: this.description };
  }
}

/**
 * Raised at the authorize endpoint when the client or redirect URI cannot be trusted: the user
 * sees an error page and is never redirected (RFC 6749 §4.1.2.1, RFC 9700 §4.11).
 */
export class AuthorizePageError extends Error {
  /** What the error would be at the client's redirect URI, had it one: a missing or invalid parameter (RFC 6749 §4.1.2.1). */
  readonly error: OAuthErrorCode = 'invalid_request';

  constructor(
    readonly status: 400 | 404,
    readonly title: string,
    readonly description: string,
    /** The name of the application when it is known and this side's (its redirect URI is what failed), for the page to name it. */
    readonly clientName?: string,
  ) {
    super(description);
    this.name = 'AuthorizePageError';
  }
}
