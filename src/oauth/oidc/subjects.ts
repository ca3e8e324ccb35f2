/**
 * Subject identifiers of ID tokens and UserInfo (OpenID Connect Core §8). Never the database id,
 * which would tell how many users there are and let one guess another's: a keyed hash of the
 * side and the user id, so it is stable for as long as the server secret is (which every stored
 * hash and sealed key already depends on) and needs no column. A pairwise client gets one of
 * its own (§8.1), so clients cannot join what they know of a user by subject.
 */
import type { SecretHasher } from '../../security/tokens.js';
import type { Client, Grant } from '../../storage/repositories.js';

const PUBLIC_PURPOSE = 'oidc-public-subject';
const PAIRWISE_PURPOSE = 'oidc-pairwise-subject';

export class SubjectIdentifiers {
  constructor(private readonly hasher: SecretHasher) {}

  /** The user's subject for `client`: the side's public one, or the client's pairwise one. */
  of(client: Pick<Client, 'side' | 'clientId' | 'subjectType'>, userId: number): string {
    if (client.subjectType === 'pairwise') return this.hasher.hash(PAIRWISE_PURPOSE, `${client.side}\0${client.clientId}\0${userId}`);
    return this.hasher.hash(PUBLIC_PURPOSE, `${client.side}\0${userId}`);
  }

  /**
   * The `sub` of every token of a grant at `client` (access tokens, introspection, ID tokens,
   * UserInfo): the subject its sign-in was made under when it kept one (so a change of subject
   * type leaves existing sign-ins alone), else the user's subject at the client; a guest's
   * visitor subject as it is.
   */
  ofGrant(client: Pick<Client, 'side' | 'clientId' | 'subjectType'>, grant: Pick<Grant, 'userId' | 'subject' | 'oidc'>): string {
    if (grant.userId === null) return grant.subject ?? '';
    return grant.oidc?.sub ?? this.of(client, grant.userId);
  }
}
