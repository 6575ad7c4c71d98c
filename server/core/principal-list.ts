import { type Store, StoreUnavailableError, type Versioned } from "../store/store.js";
import type { Keys } from "./keys.js";
import type { Logger } from "./session-index.js";

/** PRINCIPAL_LIST_SHARDS is how many items hold one principal's list (about 15,000 entries fit in each). */
export const PRINCIPAL_LIST_SHARDS = 16;

/** ListEntry names one session in a principal's list: its handle and the hash in its storage key, never its id. */
export interface ListEntry {
  readonly shard: number;
  readonly handle: string;
  readonly keyHash: string;
}

/**
 * PrincipalList keeps, per principal, the sessions bound to it: an append-log of `<handle> <key hash>`
 * lines spread over PRINCIPAL_LIST_SHARDS items by handle. Binding a session appends one line (memcached
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
 */
export class PrincipalList {
  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly logger: Logger,
  ) {}

  /**
   * add appends a session's entry. Failures are logged, not thrown: the session is stored and bound (and a
   * revocation of all the principal's sessions still reaches it); only its listing is at stake. When the
   * shard is full, it is pruned with `stillDead` and the append tried once more.
   */
  async add(
    namespace: string,
    generation: string,
    principal: string,
    entry: Omit<ListEntry, "shard">,
    stillDead: (entries: readonly ListEntry[]) => Promise<Set<ListEntry>>,
  ): Promise<void> {
    const shard = shardOf(entry.handle);
    const key = this.keys.principalList(namespace, generation, principal, shard);
    const line = Buffer.from(`${entry.handle} ${entry.keyHash}\n`, "latin1");
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        // append when the shard exists, else add; a shard added meanwhile by another binder takes the append.
        if ((await this.store.append(key, line)) || (await this.store.add(key, line, 0)) || (await this.store.append(key, line)))
          return;
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

  /** snapshot reads every shard of the principal's list (one multi-get), as bytes with their versions. */
  async snapshot(namespace: string, generation: string, principal: string): Promise<ListSnapshot> {
    const keys = Array.from({ length: PRINCIPAL_LIST_SHARDS }, (_, shard) =>
      this.keys.principalList(namespace, generation, principal, shard),
    );
    const found = await this.store.getMany(keys);
    return { keys, shards: keys.map((key) => found.get(key)) };
  }

  /** read returns the entries of the principal's list, ordered by handle then key hash, without duplicates. */
  async read(namespace: string, generation: string, principal: string): Promise<ListEntry[]> {
    const { shards } = await this.snapshot(namespace, generation, principal);
    const entries = new Map<string, ListEntry>();
    shards.forEach((item, shard) => {
      if (item === undefined) return;
      for (const entry of parseEntries(item.value, shard)) entries.set(`${entry.handle} ${entry.keyHash}`, entry);
    });
    return [...entries.values()].sort((a, b) => compare(a.handle, b.handle) || compare(a.keyHash, b.keyHash));
  }

  /**
   * clear empties each shard of a snapshot (keeping only the entries of the handles in `keep`) by compare-and-swap
   * against the snapshot's version: a shard appended to since (a session bound meanwhile) is left as it is,
   * for a later prune. After a revocation of all sessions, so that the list does not carry them.
   */
  async clear(namespace: string, snapshot: ListSnapshot, keep: ReadonlySet<string>): Promise<void> {
    await Promise.all(
      snapshot.shards.map(async (item, shard) => {
        if (item === undefined) return;
        const kept = keep.size === 0 ? [] : parseEntries(item.value, shard).filter((e) => keep.has(e.handle));
        const bytes = Buffer.from(kept.map((e) => `${e.handle} ${e.keyHash}\n`).join(""), "latin1");
        try {
          await this.store.cas(snapshot.keys[shard]!, bytes, item.version, 0);
        } catch (err) {
          this.logger.warn({ err, namespace, shard }, "principal list not cleared after a revocation; a later listing prunes it");
        }
      }),
    );
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
        const candidates = only === undefined ? entries : entries.filter((e) => only.has(`${e.handle} ${e.keyHash}`));
        const dead = await stillDead(candidates);
        if (dead.size === 0) return;
        const kept = entries.filter((e) => !dead.has(e));
        const bytes = Buffer.from(kept.map((e) => `${e.handle} ${e.keyHash}\n`).join(""), "latin1");
        if (await this.store.cas(key, bytes, found.version, 0)) return;
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

/** handlesIn counts the distinct handles of a snapshot without parsing whole entries (a revocation's count). */
export function handlesIn(snapshot: ListSnapshot): Set<string> {
  const handles = new Set<string>();
  for (const item of snapshot.shards) {
    if (item === undefined) continue;
    const text = Buffer.from(item.value.buffer, item.value.byteOffset, item.value.byteLength).toString("latin1");
    for (let start = 0; start < text.length; ) {
      const space = text.indexOf(" ", start);
      const end = text.indexOf("\n", start);
      if (space < 0 || end < 0) break;
      if (space < end) handles.add(text.slice(start, space));
      start = end + 1;
    }
  }
  return handles;
}

/** shardOf maps a handle to its shard of a principal's list (FNV-1a). */
export function shardOf(handle: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < handle.length; i++) hash = Math.imul(hash ^ handle.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % PRINCIPAL_LIST_SHARDS;
}

// Internal: a shard's lines; a line that is not an entry (a torn write cannot happen, but be strict) is skipped.
function parseEntries(bytes: Uint8Array, shard: number): ListEntry[] {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  const entries: ListEntry[] = [];
  const seen = new Set<string>();
  for (const line of text.split("\n")) {
    const space = line.indexOf(" ");
    if (space <= 0 || seen.has(line)) continue;
    seen.add(line);
    entries.push({ shard, handle: line.slice(0, space), keyHash: line.slice(space + 1) });
  }
  return entries;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
