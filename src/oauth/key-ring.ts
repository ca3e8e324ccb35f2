/**
 * The signing keys of every server process, kept in the database (private keys sealed with the
 * server secret). Rotation publishes a new key first and signs with it only after a delay, so
 * resource servers that cache the JWKS learn it before they meet it; a replaced key stays
 * published until the last token it signed has expired.
 */
import type { SigningAlgorithm } from '../config/index.js';
import type { Sealer } from '../security/encryption.js';
import type { SigningKeyRepository, StoredSigningKey } from '../storage/repositories.js';
import { generatePrivateKeyPem, KeyError, type SigningKey, signingKeyFromPem } from './keys.js';

/** Where keys come from for signing and verifying; the key ring, or one fixed key in unit tests. */
export interface KeySource {
  signingKey(now: number): SigningKey;
  verificationKey(kid: string, now: number): SigningKey | undefined;
}

export const fixedKeySource = (key: SigningKey): KeySource => ({
  signingKey: () => key,
  verificationKey: (kid) => (kid === key.kid ? key : undefined),
});

interface RingEntry {
  stored: StoredSigningKey;
  key: SigningKey;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const isPublished = (s: StoredSigningKey, now: number) => s.publishedUntil === null || s.publishedUntil > now;

export class KeyRing implements KeySource {
  private entries: RingEntry[] = [];
  private lastLoad = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly repo: SigningKeyRepository,
    private readonly sealer: Sealer,
    private readonly accessTokenTtl: number,
  ) {}

  /** Reads the keys from the database; parses only keys not seen before. */
  async load(): Promise<void> {
    const known = new Map(this.entries.map((e) => [e.stored.kid, e.key]));
    const entries: RingEntry[] = [];
    for (const stored of await this.repo.list()) {
      let key = known.get(stored.kid);
      if (!key) {
        const pem = this.sealer.open(stored.sealedPrivateKey);
        if (pem === undefined) throw new KeyError(`signing key ${stored.kid} in the database cannot be decrypted: is this server using the same GRANTRY_SECRET as the one that stored it?`);
        key = signingKeyFromPem(pem, stored.alg);
      }
      entries.push({ stored, key });
    }
    this.entries = entries;
    this.lastLoad = Date.now();
  }

  /** On an empty database, stores the seed key (configured, from file, or generated) as the first key. */
  async initialize(seed: () => { pem: string; key: SigningKey }): Promise<void> {
    await this.load();
    if (this.entries.length > 0) return;
    const { pem, key } = seed();
    const now = nowSeconds();
    // Another process may have stored its own seed meanwhile: then that one is the key.
    await this.repo.addFirst(this.toStored(key, pem, now, now));
    await this.load();
  }

  /** Adds a new key that signs from `now + delay`; the current keys retire when their tokens have expired. */
  async rotate(alg: SigningAlgorithm, delay: number, now = nowSeconds()): Promise<StoredSigningKey> {
    const pem = generatePrivateKeyPem(alg);
    const stored = this.toStored(signingKeyFromPem(pem, alg), pem, now, now + delay);
    // A minute of slack for clock skew between processes.
    await this.repo.add(stored, now + delay + this.accessTokenTtl + 60);
    await this.load();
    return stored;
  }

  /**
   * The key to sign with: among published keys whose activation time has come, the one no
   * rotation has replaced yet; failing that (its successor is still pending), the most recently
   * created. A key replaced before it ever activated therefore never signs.
   */
  private current(now: number): RingEntry | undefined {
    const rank = (e: RingEntry) => [e.stored.publishedUntil === null ? 1 : 0, e.stored.createdAt, e.stored.activatesAt];
    let best: RingEntry | undefined;
    for (const e of this.entries) {
      if (e.stored.activatesAt > now || !isPublished(e.stored, now)) continue;
      if (!best) best = e;
      else {
        const [a, b] = [rank(e), rank(best)];
        const i = a.findIndex((v, k) => v !== b[k]);
        if (i >= 0 && (a[i] as number) > (b[i] as number)) best = e;
      }
    }
    return best;
  }

  signingKey(now = nowSeconds()): SigningKey {
    const current = this.current(now);
    if (!current) throw new KeyError('no signing key is active; run grantry keys rotate with --delay 0');
    return current.key;
  }

  /**
   * The key for a client that asks for ID tokens of `alg`: the signing key when it has that
   * algorithm, else the newest active key of it that no rotation has replaced; undefined when
   * the ring has none (outside a rotation between algorithms, the ring signs with one).
   */
  signingKeyFor(alg: SigningAlgorithm, now = nowSeconds()): SigningKey | undefined {
    const current = this.current(now);
    if (current?.key.alg === alg) return current.key;
    const candidates = this.entries.filter((e) => e.key.alg === alg && e.stored.activatesAt <= now && e.stored.publishedUntil === null);
    return candidates.sort((a, b) => b.stored.createdAt - a.stored.createdAt)[0]?.key;
  }

  /** The algorithms a client may ask its ID tokens in now (discovery's id_token_signing_alg_values_supported). */
  signingAlgorithms(now = nowSeconds()): SigningAlgorithm[] {
    const algs = new Set<SigningAlgorithm>();
    const current = this.current(now);
    if (current) algs.add(current.key.alg);
    for (const e of this.entries) if (e.stored.activatesAt <= now && e.stored.publishedUntil === null) algs.add(e.key.alg);
    return [...algs];
  }

  verificationKey(kid: string, now = nowSeconds()): SigningKey | undefined {
    const e = this.entries.find((x) => x.stored.kid === kid);
    return e && isPublished(e.stored, now) ? e.key : undefined;
  }

  /** What the JWKS shows: every published key, the upcoming one included. */
  published(now = nowSeconds()): Array<StoredSigningKey & { signing: boolean }> {
    const signing = this.current(now)?.stored.kid;
    return this.entries.filter((e) => isPublished(e.stored, now)).map((e) => ({ ...e.stored, signing: e.stored.kid === signing }));
  }

  all(): StoredSigningKey[] {
    return this.entries.map((e) => e.stored);
  }

  /** Reloads when the last load is older than `maxAgeSeconds` (a token with an unknown kid asks for this). */
  async refreshIfOlderThan(maxAgeSeconds: number): Promise<void> {
    if (Date.now() - this.lastLoad >= maxAgeSeconds * 1000) await this.load();
  }

  startRefreshing(intervalSeconds: number, onError: (e: unknown) => void): void {
    this.timer = setInterval(() => this.load().catch(onError), intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private toStored(key: SigningKey, pem: string, now: number, activatesAt: number): StoredSigningKey {
    return {
      kid: key.kid,
      alg: key.alg,
      sealedPrivateKey: this.sealer.seal(pem),
      publicJwk: key.publicJwk,
      createdAt: now,
      activatesAt,
      publishedUntil: null,
    };
  }
}
