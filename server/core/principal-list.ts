import { type Store, StoreUnavailableError, type Versioned } from "../store/store.js";
import type { Keys } from "./keys.js";
import type { Logger } from "./session-index.js";

/** PRINCIPAL_LIST_SHARDS is how many items hold one principal's list (about 15,000 entries fit in each). */
export const PRINCIPAL_LIST_SHARDS = 16;

/**
 * ListEntry names one session in a principal's list: its handle and the hash in its storage key, never its
 * id, and when it was bound (Unix ms; 0 in entries written before the binding time was listed).
 */
export interface ListEntry {
  readonly shard: number;
  readonly handle: string;
  readonly keyHash: string;
  readonly boundAtMs: number;
}

/**
 * PrincipalList keeps, per principal, the sessions bound to it: an append-log of `<handle> <key hash> <bound
 * at ms>` lines spread over PRINCIPAL_LIST_SHARDS items by handle. Binding a session appends one line (memcached
 * `append`, O(1) whatever the list's length); a rotation appends the handle again with its new key hash.
 * Entries never name a session id, only the hash its storage key carries (as the namespace index does not).
 *
 * Reading the list is one multi-get of its shards: time proportional to that principal's sessions, not the
 * namespace's. Dead entries (expired, deleted, revoked, rotated away, bound elsewhere) are pruned by
 * compare-and-swap once the caller confirms, right before it, that they are still dead; and a shard that
 * is full is pruned before the append is tried again. So a list cannot grow without bound.
 *
 * The record is written before its entry is appended: a prune that read the shard before the append fails
 * its compare-and-swap (append changes the version) and looks again, so a live session is never pruned.
 * The shards live under the namespace's generation and never expire by time: pruning keeps them short,
 * memcached's LRU reclaims those of principals gone for good.
 *
 * Next to the shards, a memcached counter holds how many sessions the list names that no revocation of all
 * has counted yet: +1 when a new handle is appended, minus the sessions a revocation of all counted (at
 * once, see `discount`), minus the handles a prune takes out that were bound after the principal's stamp
 * (those bound before it were counted by the revocation that raised it). So a revocation of all answers
 * its count without reading the list: the same few commands for 10 or 100,000 sessions. A counter counts,
 * never names (it is not sealed), and is best effort: a bind racing a revocation, or a restarted node that
 * held the counter or a shard, makes it drift; an absent counter is read as "count the list".
 */
export class PrincipalList {
  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly logger: Logger,
    /** stampOf answers a principal's not-before stamp (see PrincipalStamps). */
    private readonly stampOf: (namespace: string, principal: string) => Promise<number>,
  ) {}

  /**
   * add appends a session's entry. Failures are logged, not thrown: the session is stored and bound (and a
   * revocation of all the principal's sessions still reaches it); only its listing is at stake. When the
   * shard is full, it is pruned with `stillDead` and the append tried once more. `newHandle` says the
   * handle is not in the list yet (a binding, not a rotation that keeps it): the count goes up by one.
   */
  async add(
    namespace: string,
    generation: string,
    principal: string,
    entry: Omit<ListEntry, "shard">,
    newHandle: boolean,
    stillDead: (entries: readonly ListEntry[]) => Promise<Set<ListEntry>>,
  ): Promise<void> {
    const shard = shardOf(entry.handle);
    const key = this.keys.principalList(namespace, generation, principal, shard);
    const line = linesOf([entry]);
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        // append when the shard exists, else add; a shard added meanwhile by another binder takes the append.
        if (
          (await this.store.append(key, line)) ||
          (await this.store.add(key, line, 0)) ||
          (await this.store.append(key, line))
        ) {
          if (newHandle) await this.recount(namespace, generation, principal, 1);
          return;
        }
      } catch (err) {
        if (err instanceof StoreUnavailableError || attempt === 2) {
          this.logger.warn({ err, namespace, shard }, "principal list not updated; the session is bound but not listed");
          return;
        }
        // Anything else is the item size limit: prune the shard, then try once more.
        await this.prune(namespace, generation, principal, shard, stillDead);
      }
    }
  }

  /**
   * count answers how many sessions the principal's list names that no revocation of all counted yet, from
   * its counter (one command); undefined when the counter is absent (never made, or lost with its node):
   * then count the list itself (`handlesIn`).
   */
  count(namespace: string, generation: string, principal: string): Promise<number | undefined> {
    return this.store.counter(this.keys.principalCount(namespace, generation, principal), 0, false);
  }

  /**
   * discount takes `counted` sessions off the count once a revocation of all has revoked them. A negative
   * `counted` adds to it, making the counter when absent (the kept sessions of a revocation that counted
   * the list itself).
   */
  discount(namespace: string, generation: string, principal: string, counted: number): Promise<void> {
    return this.recount(namespace, generation, principal, -counted);
  }

  // recount moves the counter by `delta`; a failure is logged: the count drifts, nothing else is at stake.
  private async recount(namespace: string, generation: string, principal: string, delta: number): Promise<void> {
    if (delta === 0) return;
    try {
      await this.store.counter(this.keys.principalCount(namespace, generation, principal), delta, delta > 0);
    } catch (err) {
      this.logger.warn({ err, namespace }, "principal count not updated; a later revocation's count may be off");
    }
  }

  /** snapshot reads every shard of the principal's list (one multi-get), as bytes with their versions. */
  async snapshot(namespace: string, generation: string, principal: string): Promise<ListSnapshot> {
    const keys = Array.from({ length: PRINCIPAL_LIST_SHARDS }, (_, shard) =>
      this.keys.principalList(namespace, generation, principal, shard),
    );
    const found = await this.store.getMany(keys);
    return { keys, shards: keys.map((key) => found.get(key)) };
  }

  /**
   * read returns the entries of the principal's list, ordered by handle then key hash, without duplicates;
   * with `handles`, only the entries of those handles (reading only their shards).
   */
  async read(namespace: string, generation: string, principal: string, handles?: ReadonlySet<string>): Promise<ListEntry[]> {
    if (handles !== undefined) {
      const wanted = new Set([...handles].map(shardOf));
      const keys = [...wanted].map((shard) => this.keys.principalList(namespace, generation, principal, shard));
      const found = await this.store.getMany(keys);
      const entries = [...wanted].flatMap((shard, i) => {
        const item = found.get(keys[i]!);
        return item === undefined ? [] : parseEntries(item.value, shard).filter((e) => handles.has(e.handle));
      });
      return entries.sort((a, b) => compare(a.handle, b.handle) || compare(a.keyHash, b.keyHash));
    }
    const { shards } = await this.snapshot(namespace, generation, principal);
    const entries = new Map<string, ListEntry>();
    shards.forEach((item, shard) => {
      if (item === undefined) return;
      for (const entry of parseEntries(item.value, shard)) entries.set(identityOf(entry), entry);
    });
    return [...entries.values()].sort((a, b) => compare(a.handle, b.handle) || compare(a.keyHash, b.keyHash));
  }

  /**
   * clear takes out of each shard of the list the entries a not-before stamp at `stampMs` revoked (bound
   * before it), except those of the handles in `keep`, by compare-and-swap against the version it read: a
   * shard appended to since is left as it is, for a later prune. Failures are logged, not thrown. After a revocation of all sessions, so
   * that the list does not carry them (the revocation took them off the count already).
   */
  async clear(
    namespace: string,
    generation: string,
    principal: string,
    stampMs: number,
    keep: ReadonlySet<string>,
  ): Promise<void> {
    // One shard at a time: a long list is parsed in sixteen small steps, between other calls' work.
    for (let shard = 0; shard < PRINCIPAL_LIST_SHARDS; shard++) {
      const key = this.keys.principalList(namespace, generation, principal, shard);
      try {
        const item = await this.store.get(key);
        if (item === undefined) continue;
        const entries = parseEntries(item.value, shard);
        const kept = entries.filter((e) => e.boundAtMs >= stampMs || keep.has(e.handle));
        if (kept.length < entries.length) await this.store.cas(key, linesOf(kept), item.version, 0);
      } catch (err) {
        this.logger.warn({ err, namespace, shard }, "principal list not cleared after a revocation; a later listing prunes it");
      }
    }
  }

  /**
   * prune removes from a shard the entries that `stillDead` confirms dead, right before each
   * compare-and-swap. Failures are logged: a later listing prunes again.
   */
  async prune(
    namespace: string,
    generation: string,
    principal: string,
    shard: number,
    stillDead: (entries: readonly ListEntry[]) => Promise<Set<ListEntry>>,
    only?: ReadonlySet<string>,
  ): Promise<void> {
    const key = this.keys.principalList(namespace, generation, principal, shard);
    try {
      for (let attempt = 0; attempt < 20; attempt++) {
        const found = await this.store.get(key);
        if (found === undefined) return;
        const entries = parseEntries(found.value, shard);
        const candidates = only === undefined ? entries : entries.filter((e) => only.has(identityOf(e)));
        const dead = await stillDead(candidates);
        if (dead.size === 0) return;
        const kept = entries.filter((e) => !dead.has(e));
        const bytes = linesOf(kept);
        if (await this.store.cas(key, bytes, found.version, 0)) {
          // Off the count: handles gone from the list that no revocation of all counted (bound after the stamp).
          const stampMs = await this.stampOf(namespace, principal);
          const left = new Set(kept.map((e) => e.handle));
          const gone = new Set(entries.filter((e) => !left.has(e.handle) && e.boundAtMs >= stampMs).map((e) => e.handle));
          await this.recount(namespace, generation, principal, -gone.size);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * (attempt + 1)));
      }
    } catch (err) {
      this.logger.warn({ err, namespace, shard }, "principal list prune failed; a later listing prunes again");
    }
  }
}

/** ListSnapshot is every shard of a principal's list as read at one moment (undefined: absent). */
export interface ListSnapshot {
  readonly keys: readonly string[];
  readonly shards: ReadonlyArray<Versioned | undefined>;
}

/**
 * handlesIn counts the distinct handles of a snapshot bound at or after `stampMs` (a revocation's count when
 * the counter is absent: those bound before were revoked already).
 */
export function handlesIn(snapshot: ListSnapshot, stampMs: number): number {
  const handles = new Set<string>();
  snapshot.shards.forEach((item, shard) => {
    if (item === undefined) return;
    for (const e of parseEntries(item.value, shard)) if (e.boundAtMs >= stampMs) handles.add(e.handle);
  });
  return handles.size;
}

/** shardOf maps a handle to its shard of a principal's list (FNV-1a). */
export function shardOf(handle: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < handle.length; i++) hash = Math.imul(hash ^ handle.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % PRINCIPAL_LIST_SHARDS;
}

/** identityOf names an entry by session (handle and key hash), whatever its binding time. */
export function identityOf(entry: Omit<ListEntry, "shard" | "boundAtMs">): string {
  return `${entry.handle} ${entry.keyHash}`;
}

// Internal: entries as the lines of a shard.
function linesOf(entries: readonly Omit<ListEntry, "shard">[]): Buffer {
  return Buffer.from(entries.map((e) => `${e.handle} ${e.keyHash} ${e.boundAtMs}\n`).join(""), "latin1");
}

// Internal: a shard's lines; a line that is not an entry (a torn write cannot happen, but be strict) is skipped.
// Lines of two fields (before binding times were listed) read as bound at 0.
function parseEntries(bytes: Uint8Array, shard: number): ListEntry[] {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  // One entry per session (handle and key hash), at its latest binding time: a re-binding appends the
  // session again with its new time.
  const entries = new Map<string, ListEntry>();
  for (const line of text.split("\n")) {
    const [handle, keyHash, boundAt, extra] = line.split(" ");
    if (!handle || !keyHash || extra !== undefined || (boundAt !== undefined && !/^\d{1,16}$/.test(boundAt))) continue;
    const entry = { shard, handle, keyHash, boundAtMs: boundAt === undefined ? 0 : Number(boundAt) };
    const seen = entries.get(identityOf(entry));
    if (seen === undefined || seen.boundAtMs < entry.boundAtMs) entries.set(identityOf(entry), entry);
  }
  return [...entries.values()];
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
