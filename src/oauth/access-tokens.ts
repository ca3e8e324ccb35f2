/**
 * Minting access tokens for a grant and validating them at the APIs. A token is good only if
 * its signature and claims hold and, in storage, it and its grant are unrevoked, its client is
 * active and its user may still sign in: one indexed query per API request (which storage may
 * answer from memory while the database is unchanged: storage/kysely/unchanged-reads.ts).
 */
import type { AccessTokenRecord, GrantRepository } from '../storage/repositories.js';
import { tokenMayActAsAdmin } from './api-scopes.js';
import { OAuthError } from './errors.js';
import type { KeyRing } from './key-ring.js';
import type { Side } from './sides.js';
import { AccessTokenCodec, newJti } from './tokens.js';

export interface MintedAccessToken {
  accessToken: string;
  expiresIn: number;
  /** What storage must record before the token is handed out. */
  record: AccessTokenRecord;
}

export interface ValidatedAccessToken {
  sub: string;
  clientId: string;
  scope: string;
  /** The user the token acts for; null for guests. */
  userId: number | null;
  /** The grant it descends from. */
  grantId: string;
  /** That user's name and the admin right the token may use (tokenMayActAsAdmin), read with the token's state. */
  user: { isAdmin: boolean; label: string } | null;
  jti: string;
  claims: Record<string, unknown>;
}

export interface MintInput {
  side: Side;
  grantId: string;
  clientPk: number;
  clientId: string;
  subject: string;
  scope: string;
  now: number;
}

/** Leeway for clocks of other processes that issued a token a moment "in the future". */
const CLOCK_SKEW = 5;

/**
 * Tokens whose signature this process has verified, with their claims. A client sends the same
 * token on every API call until it expires, and the signature check is the largest part of
 * such a request (ES256 verification costs more than signing). Only the signature is
 * remembered: the key must still be published, and expiry and revocation are checked on every
 * request as before. Bounded; the oldest entry goes first.
 */
class VerifiedTokens {
  private readonly entries = new Map<string, { kid: string; claims: Readonly<Record<string, unknown>> }>();

  constructor(private readonly limit: number) {}

  get(token: string) {
    return this.entries.get(token);
  }

  add(token: string, kid: string, claims: Record<string, unknown>): void {
    if (this.entries.size >= this.limit) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(token, { kid, claims: Object.freeze(claims) });
  }
}

export class AccessTokenService {
  readonly codec: AccessTokenCodec;
  private readonly verified = new VerifiedTokens(10_000);

  constructor(
    private readonly keys: KeyRing,
    private readonly grants: GrantRepository,
    readonly ttl: number,
  ) {
    this.codec = new AccessTokenCodec(keys);
  }

  /** Signs a token; storing its record (before handing it out) is the caller's, with whatever is issued beside it. */
  async mint(input: MintInput): Promise<MintedAccessToken> {
    const jti = newJti();
    const exp = input.now + this.ttl;
    const accessToken = await this.codec.sign({
      iss: input.side.issuer,
      sub: input.subject,
      aud: input.side.audience,
      client_id: input.clientId,
      ...(input.scope ? { scope: input.scope } : {}),
      jti,
      iat: input.now,
      nbf: input.now,
      exp,
    }, input.now);
    return { accessToken, expiresIn: this.ttl, record: { jti, grantId: input.grantId, clientPk: input.clientPk, issuedAt: input.now, expiresAt: exp } };
  }

  /** Verifies signature and header; a token signed by a key this process has not loaded yet triggers one reload. */
  async verifySignature(token: string, now: number): Promise<Readonly<Record<string, unknown>> | undefined> {
    const known = this.verified.get(token);
    if (known && this.keys.verificationKey(known.kid, now)) return known.claims;
    let claims = this.codec.verify(token, now);
    const kid = AccessTokenCodec.keyIdOf(token);
    if (!claims) {
      if (kid === undefined || this.keys.verificationKey(kid, now)) return undefined;
      await this.keys.refreshIfOlderThan(5);
      claims = this.codec.verify(token, now);
    }
    if (claims && kid !== undefined) this.verified.add(token, kid, claims);
    return claims;
  }

  /** Validates a bearer token for `side`'s API; invalid_token for any failure. */
  async validate(token: string, side: Side, now = Math.floor(Date.now() / 1000)): Promise<ValidatedAccessToken> {
    const claims = await this.verifySignature(token, now);
    if (!claims) throw OAuthError.invalidToken('the access token is malformed or its signature is invalid');
    const { iss, aud, exp, nbf, sub, jti, client_id: clientId, scope } = claims;
    if (iss !== side.issuer || aud !== side.audience) throw OAuthError.invalidToken('the access token was not issued for this API');
    if (typeof exp !== 'number' || exp <= now) throw OAuthError.invalidToken('the access token has expired');
    if (typeof nbf === 'number' && nbf > now + CLOCK_SKEW) throw OAuthError.invalidToken('the access token is not yet valid');
    if (typeof jti !== 'string' || typeof sub !== 'string' || typeof clientId !== 'string') throw OAuthError.invalidToken('the access token lacks required claims');
    const state = await this.grants.checkAccessToken(jti, side.name);
    if (!state?.usable) throw OAuthError.invalidToken('the access token has been revoked');
    const user = state.user && { isAdmin: tokenMayActAsAdmin(state.user.isAdmin, state.user.clientOwnerIsAdmin), label: state.user.label };
    return { sub, clientId, scope: typeof scope === 'string' ? scope : '', userId: state.userId, grantId: state.grantId, user, jti, claims };
  }
}
