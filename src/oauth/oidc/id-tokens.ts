/**
 * ID tokens (OpenID Connect Core §2, §3.1.3.6): what a relying party learns of the sign-in.
 * Signed with the key ring like access tokens, but typed "JWT", so neither passes for the other.
 */
import { createHash } from 'node:crypto';
import type { Client, Grant, UserRepository } from '../../storage/repositories.js';
import { OAuthError } from '../errors.js';
import type { KeyRing } from '../key-ring.js';
import type { SigningKey } from '../keys.js';
import type { Side } from '../sides.js';
import { JwtCodec } from '../tokens.js';
import { claimValues, hasOpenId } from './claims.js';
import type { SubjectIdentifiers } from './subjects.js';

export const ID_TOKEN_TYP = 'JWT';

/** Whether a grant's tokens come with an ID token: an OpenID Connect sign-in whose scope still holds openid. */
export const wantsIdToken = (grant: Pick<Grant, 'oidc' | 'userId'>, scope: string): boolean =>
  Boolean(grant.oidc) && grant.userId !== null && hasOpenId(scope);

/**
 * at_hash (Core §3.1.3.6): the left half of the access token's hash, with the hash of the ID
 * token's algorithm; Ed25519 signs with SHA-512, so EdDSA takes that one.
 */
export function accessTokenHash(accessToken: string, alg: SigningKey['alg']): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256').update(accessToken).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/** An ID token hint as the server checked it: signed by us for this side; its expiry does not matter (RP-Initiated Logout §2). */
export interface IdTokenHint {
  sub: string;
  /** The client ids of its audience. */
  audience: string[];
  sid: string | undefined;
}

/**
 * Whether an ID token hint names `userId` as the user of `client` (its subject there, and the
 * hint issued to that client); with `sid`, also that it was issued in that session.
 */
export function hintNames(hint: IdTokenHint, client: Pick<Client, 'side' | 'clientId' | 'subjectType'>, userId: number, subjects: SubjectIdentifiers, sid?: string): boolean {
  if (!hint.audience.includes(client.clientId) || hint.sub !== subjects.of(client, userId)) return false;
  return sid === undefined || hint.sid === undefined || hint.sid === sid;
}

export class IdTokenService {
  private readonly codec: JwtCodec;

  constructor(
    private readonly keys: KeyRing,
    private readonly subjects: SubjectIdentifiers,
    private readonly users: UserRepository,
    private readonly ttl: number,
  ) {
    this.codec = new JwtCodec(keys, ID_TOKEN_TYP);
  }

  /**
   * Whether the server can sign the client's ID tokens now, asked at the authorize endpoint so
   * a client pinned to an algorithm without a key hears it before its user signs in.
   */
  canSignFor(client: Client, now = Math.floor(Date.now() / 1000)): boolean {
    return client.idTokenSignedResponseAlg === null || this.keys.signingKeyFor(client.idTokenSignedResponseAlg, now) !== undefined;
  }

  /** The key for the client's ID tokens: the one of its chosen algorithm, else the signing key. */
  private keyFor(client: Client, now: number): SigningKey {
    if (client.idTokenSignedResponseAlg === null) return this.keys.signingKey(now);
    const key = this.keys.signingKeyFor(client.idTokenSignedResponseAlg, now);
    if (!key) throw OAuthError.unauthorizedClient(`the client asks for ID tokens signed with ${client.idTokenSignedResponseAlg}, and the server has no active key of that algorithm`);
    return key;
  }

  /**
   * Signs the ID token of a grant's token response. The first one (the code exchange) echoes the
   * nonce; one issued on refresh does not (Core §12.2), and repeats sub, auth_time and sid.
   */
  async issue(input: { side: Side; client: Client; grant: Grant; accessToken: string; now: number; first: boolean }): Promise<string> {
    const { side, client, grant, now } = input;
    const oidc = grant.oidc;
    if (!oidc || grant.userId === null) throw new Error('an ID token needs an OpenID Connect grant of a user');
    const key = this.keyFor(client, now);
    const asked = oidc.idTokenClaims ?? [];
    const extra = asked.length > 0 ? await this.userClaims(side, grant.userId, asked) : {};
    return this.codec.sign(
      {
        ...extra,
        iss: side.issuer,
        sub: this.subjects.ofGrant(client, grant),
        aud: client.clientId,
        exp: now + this.ttl,
        iat: now,
        auth_time: oidc.authTime,
        ...(input.first && oidc.nonce !== undefined ? { nonce: oidc.nonce } : {}),
        azp: client.clientId,
        ...(oidc.sid !== undefined ? { sid: oidc.sid } : {}),
        at_hash: accessTokenHash(input.accessToken, key.alg),
      },
      now,
      key,
    );
  }

  /** The values of the named claims for a user of `side` (UserInfo and the `claims` parameter). */
  async userClaims(side: Side, userId: number, names: Iterable<string>): Promise<Record<string, unknown>> {
    if (side.name === 'backoffice') {
      const account = await this.users.findBackofficeUser(userId);
      return account ? claimValues({ side: 'backoffice', account }, names) : {};
    }
    const account = await this.users.findCustomerUser(userId);
    return account ? claimValues({ side: 'storefront', account }, names) : {};
  }

  /**
   * An id_token_hint: an ID token this server signed for `side` (key still published), however
   * old; undefined for anything else, an access token included.
   */
  async readHint(token: string, side: Side, now = Math.floor(Date.now() / 1000)): Promise<IdTokenHint | undefined> {
    let claims = this.codec.verify(token, now);
    if (!claims) {
      await this.keys.refreshIfOlderThan(5);
      claims = this.codec.verify(token, now);
    }
    if (!claims || claims.iss !== side.issuer || typeof claims.sub !== 'string') return undefined;
    const audience = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud.filter((a): a is string => typeof a === 'string') : [];
    if (audience.length === 0) return undefined;
    return { sub: claims.sub, audience, sid: typeof claims.sid === 'string' ? claims.sid : undefined };
  }
}
