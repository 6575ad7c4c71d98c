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
  equal: (a, b) => a === b,
};

// NEVER_REVOKED is the stamp of a principal never revoked, written as a copy so that a read beside a
// session finds a value and need not read every copy (an absent copy may be a lost one).
const NEVER_REVOKED = 0;

/**
 * PrincipalStamps keeps each principal's not-before stamp (Keycloak's setNotBeforeForUser): a session bound
 * to the principal before its stamp reads as absent. Revoking all of a principal's sessions is one raise of
 * the stamp, the same few writes for 1 or 100,000 sessions.
 *
 * The stamp is a ReplicatedRegister (a copy on every node of the pool): a node that restarts empty loses
 * only its copy, so a revocation is never forgotten while one copy survives. No instance caches a stamp: a
 * read of a bound session reads the copy on the session's own node in the same request (`copyKey`), and
 * RevokeSessions answers only once every copy holds the new stamp, so from its answer on every instance
 * sees the revocation. A principal never revoked has stamp 0, written to its copies the first time they are
 * all found absent, so that the read beside a session finds it.
 */
export class PrincipalStamps {
  private readonly register: ReplicatedRegister<number>;

  constructor(
    store: Store,
    private readonly keys: Keys,
  ) {
    // A principal whose copies are all absent was never revoked (or not for longer than its sessions
    // live): a frozen node must not fail every read of its sessions, so more than half of the copies
    // answering absent is enough. It is safe: a stamp raised was on every node, and a node that lost its
    // copy (restarted empty) lost the sessions on it too.
    this.register = new ReplicatedRegister(store, codec, { absentQuorum: true });
  }

  /** copyKey is the key of the principal's stamp copy on the node of `near` (a session's key). */
  copyKey(namespace: string, principal: string, near: string): string {
    return this.register.nearKey(this.keys.principalStamp(namespace, principal), near);
  }

  /**
   * check answers the principal's stamp from the bytes of its copy read beside a session (`copyKey`); an
   * absent copy (lost, expired, or never written) is not enough: the stamp is read from every copy then.
   */
  check(namespace: string, principal: string, settings: NamespaceSettings, copy: Uint8Array | undefined): Promise<number> {
    const found = this.register.decode(copy);
    return found !== undefined ? Promise.resolve(found) : this.stampOf(namespace, principal, settings);
  }

  /**
   * stampOf reads the principal's not-before stamp in Unix ms from its copies (0: never revoked). When every
   * copy answered absent, 0 is added to them (never over a value: a revocation racing it wins).
   */
  async stampOf(namespace: string, principal: string, settings: NamespaceSettings): Promise<number> {
    const key = this.keys.principalStamp(namespace, principal);
    const lifetime = stampLifetimeSeconds(settings);
    const stamp = await this.register.read(key, lifetime);
    if (stamp !== undefined) return stamp;
    // Best effort, in the background: a copy not added now is added by the next read that finds none.
    this.register.raise(key, NEVER_REVOKED, lifetime).catch(() => undefined);
    return NEVER_REVOKED;
  }

  /**
   * raise moves the principal's stamp to `stampMs` on every node (never lowers it): every session bound to
   * the principal before then reads as absent, on every instance. Throws StoreUnavailableError unless every
   * copy moved (some may have: retry).
   */
  async raise(namespace: string, principal: string, stampMs: number, settings: NamespaceSettings): Promise<void> {
    await this.register.raise(this.keys.principalStamp(namespace, principal), stampMs, stampLifetimeSeconds(settings));
  }
}

/**
 * stampLifetimeSeconds is the memcached lifetime of a stamp: long enough to outlive every session it
 * revokes. A session bound before the stamp is never refreshed once the stamp is raised (it reads as
 * absent, and a write to its id starts a new, unbound session), so it expires idle `timeout` after its last
 * access before the stamp, or earlier at its absolute expiry (created before the stamp, so within max
 * lifetime of it). Add memcached's 1 s granularity and a margin for clocks of instances that differ
 * (STAMP_SKEW_SECONDS). Rewritten stamps start a new lifetime; an expired stamp 0 is written again.
 */
export function stampLifetimeSeconds(settings: NamespaceSettings): number {
  const idle = settings.timeoutSeconds;
  const bound = settings.maxLifetimeSeconds > 0 ? Math.min(idle, settings.maxLifetimeSeconds) : idle;
  // memcached reads more than 30 days as a Unix time; checkCoreOptions keeps timeouts below that anyway.
  return Math.min(Math.ceil(bound) + 2 + STAMP_SKEW_SECONDS, MAX_LIFETIME_SECONDS);
}
