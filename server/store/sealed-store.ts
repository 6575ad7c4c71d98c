import { createHash } from "node:crypto";
import type { DataKeySource } from "./data-keys.js";
import { openValue, sealChunk } from "./seal.js";
import type { Store, Versioned } from "./store.js";

/** SealLogger is the slice of pino the sealed store logs records that do not open with. */
export interface SealLogger {
  warn(obj: object, msg: string): void;
}

// Internal: how many (key, version) pairs already warned about are remembered, so that one bad record
// read again and again logs one line, while a new bad write logs again.
const WARNED_MEMORY = 1024;

/**
 * createSealedStore wraps a Store so that memcached holds nothing in clear: every value written is sealed
 * (AES-256-GCM, see `seal.ts`) with the first key of `keys.current` and the memcached key as associated
 * data; reads open it with any listed key. The inner store stays a byte mover and the core sees plaintext.
 * - A value that does not open (tampered, truncated, moved from another key, or sealed with a key no
 *   longer listed) reads as absent, and one warn line names the memcached key's hash (never content).
 * - Writes over such a value behave as over an absent key: `add` replaces it (by compare-and-swap against
 *   the unreadable version, so a concurrent genuine write is never overwritten).
 * - `append` seals each chunk on its own; a value of several chunks opens into their concatenation. An
 *   append to a key this process last read as not opening answers false, as for an absent key, so the
 *   caller writes it anew (`add`). Caveat: memcached appends to whatever is there, so a chunk appended to
 *   a value that does not open, which this process has not read, is lost with it.
 * - Key rotation: a value written with no expiry (lifetime 0: namespace generations, index shards) that
 *   opens only with an older key is re-sealed with the current key when read, in the background, by
 *   compare-and-swap; values with a lifetime are re-sealed as they are written.
 * Methods that carry no value (touch, delete, replicaKeys, ping, close) pass through unchanged: a Store
 * method added later is one more such line here.
 */
export function createSealedStore(store: Store, keys: DataKeySource, logger: SealLogger): Store {
  const warned = new Set<string>();
  // Keys this process last read as not opening: an append to one answers false (as to an absent key), so
  // the caller writes the value anew instead of appending to what no reader can open.
  const unreadable = new Set<string>();
  const remember = (key: string, opens: boolean): void => {
    if (opens) unreadable.delete(key);
    else {
      if (unreadable.size >= WARNED_MEMORY) unreadable.clear();
      unreadable.add(key);
    }
  };
  const written = (key: string) => (ok: boolean) => {
    if (ok) unreadable.delete(key);
    return ok;
  };

  function warnOnce(key: string, version: string, reason: string, keyId: string | undefined): void {
    const seen = `${key} ${version}`;
    if (warned.has(seen)) return;
    if (warned.size >= WARNED_MEMORY) warned.clear();
    warned.add(seen);
    logger.warn(
      { keyHash: keyHash(key), reason, ...(keyId === undefined ? {} : { keyId }) },
      "a stored record does not open: read as absent",
    );
  }

  // open returns the plaintext of a stored value, or undefined (logged) when it does not open.
  function open(key: string, found: Versioned): Versioned | undefined {
    const current = keys.current;
    const opened = openValue(current, key, found.value);
    remember(key, opened.ok);
    if (!opened.ok) {
      warnOnce(key, found.version, opened.reason, opened.keyId);
      return undefined;
    }
    if (opened.stale && opened.permanent) reseal(key, opened.plaintext, found.version);
    return { value: opened.plaintext, version: found.version };
  }

  function reseal(key: string, plaintext: Uint8Array, version: string): void {
    // A conflict means someone wrote it meanwhile, sealed with a current key: nothing to do.
    store.cas(key, seal(key, plaintext, 0), version, 0).catch((err: unknown) => {
      logger.warn({ keyHash: keyHash(key), err }, "a record could not be re-sealed with the current key");
    });
  }

  const seal = (key: string, value: Uint8Array, lifetimeSeconds: number): Buffer =>
    sealChunk(keys.current.sealing, key, value, lifetimeSeconds === 0);

  return {
    async get(key) {
      const found = await store.get(key);
      return found === undefined ? undefined : open(key, found);
    },
    async getMany(keyList) {
      const opened = new Map<string, Versioned>();
      for (const [key, found] of await store.getMany(keyList)) {
        const value = open(key, found);
        if (value !== undefined) opened.set(key, value);
      }
      return opened;
    },
    cas: (key, value, version, lifetimeSeconds) =>
      store.cas(key, seal(key, value, lifetimeSeconds), version, lifetimeSeconds).then(written(key)),
    async add(key, value, lifetimeSeconds) {
      const sealed = seal(key, value, lifetimeSeconds);
      if (await store.add(key, sealed, lifetimeSeconds)) return written(key)(true);
      // Something is there; it exists for callers only if it opens.
      const found = await store.get(key);
      if (found === undefined) return written(key)(await store.add(key, sealed, lifetimeSeconds));
      if (open(key, found) !== undefined) return false;
      return written(key)(await store.cas(key, sealed, found.version, lifetimeSeconds));
    },
    async set(key, value, lifetimeSeconds) {
      await store.set(key, seal(key, value, lifetimeSeconds), lifetimeSeconds);
      unreadable.delete(key);
    },
    async append(key, value) {
      if (unreadable.has(key)) return false;
      return store.append(key, sealChunk(keys.current.sealing, key, value, false));
    },
    touch: (key, lifetimeSeconds) => store.touch(key, lifetimeSeconds),
    delete: (key) => store.delete(key),
    replicaKeys: (key) => store.replicaKeys(key),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}

/** keyHash is a short sha256 of a memcached key, so log lines about one record can be correlated. */
export function keyHash(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}
