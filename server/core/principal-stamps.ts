import { MAX_LIFETIME_SECONDS, type Store } from "../store/store.js";
import type { Keys } from "./keys.js";
import { type NamespaceSettings, STAMP_SKEW_SECONDS } from "./options.js";
import { type RegisterCodec, ReplicatedRegister } from "./replicated-register.js";

const codec: RegisterCodec<number> = {
  encode: (ms) => Buffer.from(String(ms), "latin1"),
  decode(bytes) {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
    return /^\d{1,16}$/.test(text) ? Number(text) : undefined;
  },
  compare: (a, b) => a - b,
};

// Internal: principals whose stamps one instance remembers; past it, the oldest entries are forgotten.
const MAX_CACHED = 10_000;

/**
 * PrincipalStamps keeps each principal's not-before stamp (Keycloak's setNotBeforeForUser): a session bound
 * to the principal before its stamp reads as absent. Revoking all of a principal's sessions is one raise of
 * the stamp, the same few writes for 1 or 100,000 sessions.
 *
 * The stamp is a ReplicatedRegister (a copy on every node of the pool): a node that restarts empty loses
 * only its copy, so a revocation is never forgotten while one copy survives. Each instance caches stamps
 * for `cacheMs` (bounded to MAX_CACHED principals): another instance sees a revocation within that time,
 * the revoking one at once. A principal never revoked has no stamp (0).
 */
export class PrincipalStamps {
  private readonly cache = new Map<string, { stampMs: number; readAtMs: number }>();
  private readonly loading = new Map<string, Promise<number>>();
  private readonly register: ReplicatedRegister<number>;

  constructor(
    store: Store,
    private readonly keys: Keys,
    private readonly cacheMs: number,
    private readonly now: () => number,
  ) {
    // A principal never revoked has no stamp: a frozen node must not fail (or slow) every read of its
    // sessions, so more than half of the copies answering absent is enough. It is safe: a stamp raised
    // was on every node, and a node that lost its copy (restarted empty) lost the sessions on it too.
    this.register = new ReplicatedRegister(store, codec, { absentQuorum: true });
  }

  /** stampOf returns the principal's not-before stamp in Unix ms (0: never revoked), from cache when fresh. */
  stampOf(namespace: string, principal: string, settings: NamespaceSettings): Promise<number> {
    const key = this.keys.principalStamp(namespace, principal);
    const cached = this.cache.get(key);
    if (cached !== undefined && this.now() - cached.readAtMs < this.cacheMs) return Promise.resolve(cached.stampMs);
    let running = this.loading.get(key);
    if (running === undefined) {
      const readAtMs = this.now();
      running = this.register
        .read(key, stampLifetimeSeconds(settings, this.cacheMs))
        .then((found) => this.remember(key, found ?? 0, readAtMs))
        .finally(() => this.loading.delete(key));
      this.loading.set(key, running);
    }
    return running;
  }

  /**
   * raise moves the principal's stamp to `stampMs` on every node (never lowers it): every session bound to
   * the principal before then reads as absent. Throws StoreUnavailableError unless every copy moved (some
   * may have: retry). This instance sees the new stamp at once.
   */
  async raise(namespace: string, principal: string, stampMs: number, settings: NamespaceSettings): Promise<void> {
    const key = this.keys.principalStamp(namespace, principal);
    await this.register.raise(key, stampMs, stampLifetimeSeconds(settings, this.cacheMs));
    this.remember(key, stampMs, this.now());
  }

  private remember(key: string, stampMs: number, readAtMs: number): number {
    const cached = this.cache.get(key);
    // Never step back: a slower read must not replace a stamp this instance raised meanwhile.
    const best = Math.max(stampMs, cached?.stampMs ?? 0);
    this.cache.delete(key); // re-inserted last: the Map's order is the order of freshness
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, { stampMs: best, readAtMs });
    return best;
  }
}

/**
 * stampLifetimeSeconds is the memcached lifetime of a stamp: long enough to outlive every session it
 * revokes. A session bound before the stamp is never refreshed once an instance has seen the stamp (it
 * reads as absent, and a write to its id starts a new, unbound session), so its last access is at most
 * `cacheMs` after the stamp, and it expires idle `timeout` later, or earlier at its absolute expiry
 * (created before the stamp, so within max lifetime of it). Add memcached's 1 s granularity and a margin
 * for clocks of instances that differ (STAMP_SKEW_SECONDS). Rewritten stamps start a new lifetime.
 */
export function stampLifetimeSeconds(settings: NamespaceSettings, cacheMs: number): number {
  const idle = settings.timeoutSeconds + cacheMs / 1000;
  const bound = settings.maxLifetimeSeconds > 0 ? Math.min(idle, settings.maxLifetimeSeconds) : idle;
  // memcached reads more than 30 days as a Unix time; checkCoreOptions keeps timeouts below that anyway.
  return Math.min(Math.ceil(bound) + 2 + STAMP_SKEW_SECONDS, MAX_LIFETIME_SECONDS);
}
