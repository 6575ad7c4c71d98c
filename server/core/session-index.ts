import type { Store } from "../store/store.js";
import type { Keys } from "./keys.js";

/** Logger is the slice of pino the core uses for problems it recovers from. */
export interface Logger {
  warn(obj: object, msg: string): void;
}

/**
 * SessionIndex lists the session ids of a namespace, since memcached cannot enumerate keys
 * (lovely.session's items()). Ids are spread over `shards` items by a hash of the id; each shard holds its
 * ids sorted, one per line (ids are printable ASCII, so never contain a newline), and is updated only by
 * compare-and-swap. Ids are added when a session comes into being; expired and deleted ids are pruned
 * lazily by listings. Shards have no expiry: they live as long as their namespace's generation.
 */
export class SessionIndex {
  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    readonly shards: number,
    private readonly maxShardBytes: number,
    private readonly logger: Logger,
  ) {}

  /** shardOf maps an id to its shard (FNV-1a). */
  shardOf(sessionId: string): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < sessionId.length; i++) {
      hash = Math.imul(hash ^ sessionId.charCodeAt(i), 0x01000193);
    }
    return (hash >>> 0) % this.shards;
  }

  /**
   * add records an id. It always writes, even when the id is there already, so that a prune that read
   * the shard before this add fails its compare-and-swap and looks again. Failures are logged, not thrown:
   * the session itself is stored; only its listing is at stake.
   */
  async add(namespace: string, generation: string, sessionId: string): Promise<void> {
    const shard = this.shardOf(sessionId);
    try {
      const done = await this.update(namespace, generation, shard, (ids) =>
        ids.includes(sessionId) ? ids : [...ids, sessionId].sort(),
      );
      if (!done) this.logger.warn({ namespace, shard }, "session index shard stayed busy; id not listed");
    } catch (err) {
      this.logger.warn({ err, namespace, shard }, "session index not updated; the session is stored but not listed");
    }
  }

  /** read returns a shard's ids, sorted. */
  async read(namespace: string, generation: string, shard: number): Promise<string[]> {
    const found = await this.store.get(this.keys.indexShard(namespace, generation, shard));
    return found ? parseIds(found.value) : [];
  }

  /**
   * prune removes ids from a shard once `stillDead` confirms, right before the compare-and-swap, that
   * they are still dead (a session may come back to life between a listing and its prune).
   */
  async prune(
    namespace: string,
    generation: string,
    shard: number,
    dead: readonly string[],
    stillDead: (ids: readonly string[]) => Promise<Set<string>>,
  ): Promise<void> {
    try {
      let confirmed: Set<string> | undefined;
      await this.update(namespace, generation, shard, async (ids) => {
        confirmed = await stillDead(dead.filter((id) => ids.includes(id)));
        return confirmed.size === 0 ? ids : ids.filter((id) => !confirmed!.has(id));
      });
    } catch (err) {
      this.logger.warn({ err, namespace, shard }, "session index prune failed; will retry on a later listing");
    }
  }

  // Internal: read-modify-cas loop on one shard; false when it kept conflicting.
  private async update(
    namespace: string,
    generation: string,
    shard: number,
    change: (ids: string[]) => string[] | Promise<string[]>,
  ): Promise<boolean> {
    const key = this.keys.indexShard(namespace, generation, shard);
    for (let attempt = 0; attempt < 50; attempt++) {
      const found = await this.store.get(key);
      const ids = found ? parseIds(found.value) : [];
      const next = await change(ids);
      const bytes = Buffer.from(next.join("\n"), "latin1");
      if (bytes.byteLength > this.maxShardBytes) {
        this.logger.warn({ namespace, shard, ids: next.length }, "session index shard is full; raise --index-shards");
        return false;
      }
      const ok = found ? await this.store.cas(key, bytes, found.version, 0) : await this.store.add(key, bytes, 0);
      if (ok) return true;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * (attempt + 1)));
    }
    return false;
  }
}

function parseIds(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  return text.length === 0 ? [] : text.split("\n");
}
