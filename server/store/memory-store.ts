import type { Store, Versioned } from "./store.js";
import { MAX_LIFETIME_SECONDS, StoreUnavailableError } from "./store.js";
import { checkDelta, checkLifetimeSeconds, checkStoreKey, checkValue, counterBytes } from "./store-arguments.js";

/** MemoryStoreOptions configures `createMemoryStore`; every field has a default. */
export interface MemoryStoreOptions {
  /** now returns the current time in milliseconds since the Unix epoch. Default: `Date.now` (tests pass a fake clock). */
  now: () => number;
  /**
   * sweepIntervalMs is how often, in milliseconds, expired items are dropped from memory. Default: 60 000.
   * 0 disables the sweep (expired items are still invisible to reads, and dropped when a read meets them).
   */
  sweepIntervalMs: number;
  /** maxValueBytes is the largest value accepted, in bytes. Default: 1 048 576, memcached's default item size (`-I 1m`). */
  maxValueBytes: number;
}

const defaults: MemoryStoreOptions = {
  now: Date.now,
  sweepIntervalMs: 60_000, // ms
  maxValueBytes: 1024 * 1024, // bytes
};

/** MemoryStore is a Store that also tells how many items it holds. */
export interface MemoryStore extends Store {
  /** size is the number of items held, counting expired ones that no read or sweep has dropped yet. */
  readonly size: number;
}

// Internal: one stored item. expiresAtMs is Infinity for "never".
interface Item {
  value: Uint8Array;
  version: number;
  expiresAtMs: number;
}

/**
 * createMemoryStore returns an in-process Store with memcached's semantics, for tests and single-node use:
 * - every write (set, add, cas, append) gives the item a new version from one increasing counter; touch keeps the
 *   version, as memcached's touch keeps the cas unique;
 * - lifetimes are seconds: 0 never expires, up to 30 days is relative, more is an absolute Unix time
 *   (already past means expired), negative expires at once;
 * - expired items read as absent: they are dropped when a read meets them and by a periodic sweep on an
 *   unref'd timer, so memory does not grow with dead sessions;
 * - values are copied in and out, so callers can neither change stored bytes nor see later writes.
 * Caveat: unlike memcached there is no memory limit and no LRU eviction; only `maxValueBytes` is enforced.
 * After `close()` every method throws StoreUnavailableError.
 */
export function createMemoryStore(options: Partial<MemoryStoreOptions> = {}): MemoryStore {
  const { now, sweepIntervalMs, maxValueBytes } = { ...defaults, ...options };
  const items = new Map<string, Item>();
  let lastVersion = 0;
  let closed = false;

  const sweeper = sweepIntervalMs > 0 ? setInterval(sweep, sweepIntervalMs) : undefined;
  sweeper?.unref();

  function sweep(): void {
    const t = now();
    for (const [key, entry] of items) {
      if (entry.expiresAtMs <= t) items.delete(key);
    }
  }

  function expiresAt(lifetimeSeconds: number): number {
    checkLifetimeSeconds(lifetimeSeconds);
    if (lifetimeSeconds === 0) return Infinity;
    if (lifetimeSeconds < 0) return -Infinity;
    // memcached reads an exptime beyond 30 days as a Unix time, not a duration.
    if (lifetimeSeconds > MAX_LIFETIME_SECONDS) return lifetimeSeconds * 1000;
    return now() + lifetimeSeconds * 1000;
  }

  function open(key: string): void {
    if (closed) throw new StoreUnavailableError("memory store is closed");
    checkStoreKey(key);
  }

  // live returns the item under key unless it is absent or expired (an expired one is dropped).
  function live(key: string): Item | undefined {
    const entry = items.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= now()) {
      items.delete(key);
      return undefined;
    }
    return entry;
  }

  // prepare checks and copies a value before any comparison, as memcached refuses an oversized value
  // whatever the key's state. The version is set when the item is stored.
  function prepare(key: string, value: Uint8Array, lifetimeSeconds: number): Item {
    checkValue(value);
    if (value.byteLength > maxValueBytes) {
      throw new Error(`memory store: value of ${value.byteLength} bytes for ${key} exceeds maxValueBytes ${maxValueBytes}`);
    }
    return { value: new Uint8Array(value), version: 0, expiresAtMs: expiresAt(lifetimeSeconds) };
  }

  function store(key: string, fresh: Item): void {
    fresh.version = ++lastVersion;
    items.set(key, fresh);
  }

  function read(entry: Item): Versioned {
    return { value: Buffer.from(entry.value), version: String(entry.version) };
  }

  return {
    get size() {
      return items.size;
    },
    async get(key) {
      open(key);
      const current = live(key);
      return current === undefined ? undefined : read(current);
    },
    async getMany(keys) {
      for (const key of keys) open(key);
      const found = new Map<string, Versioned>();
      for (const key of keys) {
        const current = live(key);
        if (current !== undefined) found.set(key, read(current));
      }
      return found;
    },
    async cas(key, value, version, lifetimeSeconds) {
      open(key);
      const fresh = prepare(key, value, lifetimeSeconds);
      const current = live(key);
      if (current === undefined || String(current.version) !== version) return false;
      store(key, fresh);
      return true;
    },
    async add(key, value, lifetimeSeconds) {
      open(key);
      const fresh = prepare(key, value, lifetimeSeconds);
      if (live(key) !== undefined) return false;
      store(key, fresh);
      return true;
    },
    async set(key, value, lifetimeSeconds) {
      open(key);
      store(key, prepare(key, value, lifetimeSeconds));
    },
    async append(key, value) {
      open(key);
      checkValue(value);
      const current = live(key);
      // memcached answers NOT_STORED both for an absent key and for a result over its item size.
      if (current === undefined || current.value.byteLength + value.byteLength > maxValueBytes) return false;
      const joined = new Uint8Array(current.value.byteLength + value.byteLength);
      joined.set(current.value);
      joined.set(value, current.value.byteLength);
      store(key, { value: joined, version: 0, expiresAtMs: current.expiresAtMs });
      return true;
    },
    async touch(key, lifetimeSeconds) {
      open(key);
      const expiresAtMs = expiresAt(lifetimeSeconds);
      const current = live(key);
      if (current === undefined) return false;
      current.expiresAtMs = expiresAtMs;
      return true;
    },
    async delete(key) {
      open(key);
      const existed = live(key) !== undefined;
      items.delete(key);
      return existed;
    },
    async counter(key, delta, create) {
      open(key);
      checkDelta(delta);
      const current = live(key);
      if (current === undefined) {
        if (!create) return undefined;
        store(key, prepare(key, counterBytes(Math.max(delta, 0)), 0));
        return Math.max(delta, 0);
      }
      const text = Buffer.from(current.value).toString("latin1");
      // memcached refuses incr/decr on a value that is not a decimal number.
      if (!/^\d{1,20}$/.test(text)) throw new Error(`memory store: ${key} does not hold a counter`);
      const next = Math.max(Number(text) + delta, 0);
      store(key, { value: counterBytes(next), version: 0, expiresAtMs: current.expiresAtMs });
      return next;
    },
    // One process, one copy: nothing to spread.
    replicaKeys: (key) => [key],
    replicaKeyNear: (key) => key,
    async ping() {
      if (closed) throw new StoreUnavailableError("memory store is closed");
    },
    async close() {
      closed = true;
      if (sweeper !== undefined) clearInterval(sweeper);
      items.clear();
    },
  };
}
