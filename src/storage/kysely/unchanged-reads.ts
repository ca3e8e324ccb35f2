/**
 * Answers of hot reads kept while the database cannot have changed since they were read. A
 * client calls the API with one access token many times, and each call checks the token, its
 * grant, client and user in storage (revocation must hold on the very next request, also when
 * another process revoked): on SQLite that check and the user read are most of what an API
 * request costs beyond HTTP. The change stamp (sqlite-driver.ts) moves with every write of
 * this process's connection and on every commit of another connection, and there is none while
 * writes are uncommitted, so an answer kept under the current stamp is exactly what the query
 * would return now. PostgreSQL has no such cheap stamp: there every read goes to the database.
 */

/** A number that moves whenever the database may have changed (sqlite-driver.ts). */
export interface ChangeStamp {
  /** The stamp as of a moment after this call; undefined when no answer may be kept or used. */
  afterNow(): Promise<number | undefined>;
  /** Whether a stamp from afterNow() still holds (nothing written or read that moved it since). */
  stands(stamp: number): boolean;
}

/** Kept answers are frozen (shallowly), so that no caller can change what the next one gets. */
export class UnchangedReads<V> {
  private stamp: number | undefined;
  private readonly answers = new Map<string, Readonly<V>>();

  constructor(
    private readonly changeStamp: ChangeStamp | undefined,
    private readonly limit = 10_000,
  ) {}

  /** The answer kept for `key` under the current stamp, else `read()`'s (kept if nothing changed meanwhile). */
  async get(key: string, read: () => Promise<V>): Promise<Readonly<V>> {
    const { changeStamp } = this;
    if (!changeStamp) return read();
    const stamp = await changeStamp.afterNow();
    // Other callers ran between the stamp's read and this turn, and may have written.
    if (stamp === undefined || !changeStamp.stands(stamp)) return read();
    if (stamp !== this.stamp) {
      this.answers.clear();
      this.stamp = stamp;
    } else if (this.answers.has(key)) {
      return this.answers.get(key) as Readonly<V>;
    }
    // The stamp was taken before the read, and stamps only grow: if anything changed meanwhile,
    // the stamp has moved past this one, so an answer kept under it is never used.
    const answer = Object.freeze(await read());
    if (this.stamp === stamp) {
      if (this.answers.size >= this.limit) this.answers.clear();
      this.answers.set(key, answer);
    }
    return answer;
  }
}
