/**
 * Subject identifiers of ID tokens and UserInfo (OpenID Connect Core §8). Never the database id,
 * which would tell how many users there are and let one guess another's: a keyed hash of the
 * side and the user id, so it is stable for as long as the server secret is (which every stored
 * hash and sealed key already depends on) and needs no column. A pairwise client gets one of
 * its own (§8.1), so clients cannot join what they know of a user by subject.
 */
import type { SecretHasher } from '../../security/tokens.js';
import type { Client } from '../../storage/repositories.js';

const PUBLIC_PURPOSE = 'oidc-public-subject';
const PAIRWISE_PURPOSE = 'oidc-pairwise-subject';

export class SubjectIdentifiers {
  constructor(private readonly hasher: SecretHasher) {}

  /** The user's subject for `client`: the side's public one, or the client's pairwise one. */
  of(client: Pick<Client, 'side' | 'clientId' | 'subjectType'>, userId: number): string {
    if (client.subjectType === 'pairwise') return this.hasher.hash(PAIRWISE_PURPOSE, `${client.side}\0${client.clientId}\0${userId}`);
    return this.hasher.hash(PUBLIC_PURPOSE, `${client.side}\0${userId}`);
  }
}
