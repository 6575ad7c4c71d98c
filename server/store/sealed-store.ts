import { createHash } from "node:crypto";
import type { DataKeySource } from "./data-keys.js";
import { openValue, sealChunk } from "./seal.js";
import { MAX_LIFETIME_SECONDS, type Store, type Versioned } from "./store.js";

/** SealLogger is the slice of pino the sealed store logs records that do not open with. */
export interface SealLogger {
  warn(obj: object, msg: string): void;
}

// Internal: how many (key, version) pairs already warned about are remembered, so that one bad record
// read again and again logs one line, while a new bad write logs again.
const WARNED_MEMORY = 1024;
// Internal: how many recently written or opened single-chunk values keep their plaintext (about 2.5 KB
// each for a 1 KB session), so that reading back the very bytes this process sealed or opened costs a
// comparison, not a decryption.
const OPENED_MEMORY = 4096;

/**
 * createSealedStore wraps a Store so that memcached holds nothing in clear: every value written is sealed
 * (XChaCha20-Poly1305, see `seal.ts`) with the first key of `keys.current` and the memcached key as associated
 * data; reads open it with any listed key. The inner store stays a byte mover and the core sees plaintext.
 * - A value that does not open (tampered, truncated, moved from another key, or sealed with a key no
 *   longer listed) reads as absent, and one warn line names the memcached key's hash (never content).
 * - Writes over such a value behave as over an absent key: `add` replaces it (by compare-and-swap against
 *   the unreadable version, so a concurrent genuine write is never overwritten).
 * - `append` seals each chunk on its own; a value of several chunks opens into their concatenation. An
 *   append to a key this process last read as not opening answers false, as for an absent key, so the
 *   caller writes it anew (`add`). Caveat: memcached appends to whatever is there, so a chunk appended to
 *   a value that does not open, which this process has not read, is lost with it.
 * - Key rotation, and records sealed with AES-256-GCM by older versions: values are re-sealed with the
 *   current key (XChaCha20-Poly1305) as they are written. A value that is never rewritten as a whole
 *   (written with no expiry, or appended to) and opens only with an older key, or holds a GCM chunk, is
 *   re-sealed when read, in the background, by compare-and-swap, with the expiry its writer gave it (kept
 *   in the header). Caveat: a `touch` does not update that expiry (sessiond does not touch).
 * - The plaintext of the last single-chunk value this process sealed or opened under each key (up to
 *   OPENED_MEMORY keys) is remembered with its sealed bytes: a read that finds exactly those bytes (compared
 *   whole, so a flipped byte is still caught) needs no decryption. A read-modify-write then pays one seal,
 *   not a seal and an open. Forgotten whenever the key file is read again.
 * Methods that carry no value (touch, delete, replicaKeys, replicaKeyNear, ping, close) and counters
 * (numbers memcached must read, which count and never name) pass through unchanged: a Store method added
 * later is one more such line here. The keys' secrets are the key source's to wipe (`DataKeyFile.close`).
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
  // Sealed bytes and their plaintext, by memcached key, for the keys in force when they were kept.
  let opened = new Map<string, { sealed: Buffer; plaintext: Buffer }>();
  let openedWith = keys.current;
  const keep = (key: string, sealed: Buffer, plaintext: Buffer): void => {
    if (openedWith !== keys.current) {
      opened = new Map();
      openedWith = keys.current;
    }
    if (opened.size >= OPENED_MEMORY) opened.clear();
    opened.set(key, { sealed, plaintext });
  };
  const written = (key: string, sealed?: Buffer, plaintext?: Uint8Array) => (ok: boolean) => {
    if (ok) {
      unreadable.delete(key);
      if (sealed !== undefined && plaintext !== undefined) keep(key, sealed, Buffer.from(plaintext));
    } else opened.delete(key);
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
    const known = openedWith === current ? opened.get(key) : undefined;
    // A copy: what a caller does with the value it was handed must not change what is kept.
    if (known?.sealed.equals(found.value)) return { value: Buffer.from(known.plaintext), version: found.version };
    const result = openValue(current, key, found.value);
    remember(key, result.ok);
    if (!result.ok) {
      opened.delete(key);
      warnOnce(key, found.version, result.reason, result.keyId);
      return undefined;
    }
    // Records nobody rewrites as a whole (no expiry: generations; appended to: index and principal logs)
    // are re-sealed when read; the others are re-sealed as they are written.
    if (result.stale && (result.expiresAt === 0 || result.chunks > 1)) {
      reseal(key, result.plaintext, found.version, result.expiresAt);
    } else if (result.chunks === 1 && !result.stale) {
      keep(key, Buffer.from(found.value), Buffer.from(result.plaintext));
    }
    return { value: result.plaintext, version: found.version };
  }

  // reseal writes a value that opened only with an older key again, sealed with the current key, with
  // the lifetime it has left. A conflict means someone wrote it meanwhile (sealed with a current key).
  function reseal(key: string, plaintext: Uint8Array, version: string, expiresAt: number): void {
    const nowSeconds = Math.floor(Date.now() / 1000);
    if (expiresAt !== 0 && expiresAt <= nowSeconds + 1) return; // about to expire anyway
    // memcached reads a lifetime over 30 days as a Unix time: pass the expiry itself then.
    const lifetime = expiresAt === 0 ? 0 : expiresAt - nowSeconds > MAX_LIFETIME_SECONDS ? expiresAt : expiresAt - nowSeconds;
    const sealed = sealChunk(keys.current.sealing, key, plaintext, expiresAt);
    store.cas(key, sealed, version, lifetime).catch((err: unknown) => {
      logger.warn({ keyHash: keyHash(key), err }, "a record could not be re-sealed with the current key");
    });
  }

  const seal = (key: string, value: Uint8Array, lifetimeSeconds: number): Buffer =>
    sealChunk(keys.current.sealing, key, value, expiryOf(lifetimeSeconds));

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
    cas(key, value, version, lifetimeSeconds) {
      const sealed = seal(key, value, lifetimeSeconds);
      return store.cas(key, sealed, version, lifetimeSeconds).then(written(key, sealed, value));
    },
    async add(key, value, lifetimeSeconds) {
      const sealed = seal(key, value, lifetimeSeconds);
      if (await store.add(key, sealed, lifetimeSeconds)) return written(key, sealed, value)(true);
      // Something is there; it exists for callers only if it opens.
      const found = await store.get(key);
      if (found === undefined) return written(key, sealed, value)(await store.add(key, sealed, lifetimeSeconds));
      if (open(key, found) !== undefined) return false;
      return written(key, sealed, value)(await store.cas(key, sealed, found.version, lifetimeSeconds));
    },
    async set(key, value, lifetimeSeconds) {
      const sealed = seal(key, value, lifetimeSeconds);
      opened.delete(key); // kept again only once the write is known to have gone through
      await store.set(key, sealed, lifetimeSeconds);
      written(key, sealed, value)(true);
    },
    async append(key, value) {
      if (unreadable.has(key)) return false;
      opened.delete(key); // the value is longer now: read it whole again
      return store.append(key, sealChunk(keys.current.sealing, key, value, 0));
    },
    touch: (key, lifetimeSeconds) => store.touch(key, lifetimeSeconds),
    // Counters pass through as they are: memcached must read them, and they count, never name (see Store).
    counter: (key, delta, create) => store.counter(key, delta, create),
    delete(key) {
      opened.delete(key);
      return store.delete(key);
    },
    replicaKeys: (key) => store.replicaKeys(key),
    replicaKeyNear: (key, near) => store.replicaKeyNear(key, near),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}

/** keyHash is a short sha256 of a memcached key, so log lines about one record can be correlated. */
export function keyHash(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

// expiryOf turns a memcached lifetime into the Unix second the item expires (0: never), as memcached does:
// up to 30 days is relative, more is already a Unix time, negative is expired at once.
function expiryOf(lifetimeSeconds: number): number {
  if (lifetimeSeconds === 0) return 0;
  if (lifetimeSeconds < 0) return 1;
  if (lifetimeSeconds > MAX_LIFETIME_SECONDS) return lifetimeSeconds;
  return Math.floor(Date.now() / 1000) + lifetimeSeconds;
}
