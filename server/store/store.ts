/**
 * Versioned is a stored value with the version it was read at (memcached's cas unique).
 * A version is opaque: pass it back to `cas` unchanged.
 */
export interface Versioned {
  value: Uint8Array;
  version: string;
}

/**
 * Store is the small storage interface sessiond needs, shaped after memcached's commands:
 * read with a version (`gets`), write only if unchanged (`cas`) or absent (`add`), append, touch, delete.
 * Every write, append included, gives the value a new version; touch keeps it.
 * Keys are made by sessiond (see `keys.ts`): at most 250 bytes of printable ASCII with no spaces, so they
 * can reach memcached as they are. Lifetimes are in seconds (0 = no expiry; at most 30 days).
 *
 * Errors: conflicts are answered by return values, never thrown. A store that cannot be reached
 * (connection refused, timeout) throws a `StoreUnavailableError`.
 */
export interface Store {
  /** get reads a value and its version; undefined when absent or expired. */
  get(key: string): Promise<Versioned | undefined>;
  /** getMany reads several values at once (memcached multi-get); absent keys are missing from the map. */
  getMany(keys: readonly string[]): Promise<Map<string, Versioned>>;
  /** cas writes only if the value still has `version`; false if it changed or vanished since. */
  cas(key: string, value: Uint8Array, version: string, lifetimeSeconds: number): Promise<boolean>;
  /** add writes only if the key is absent; false if it exists. */
  add(key: string, value: Uint8Array, lifetimeSeconds: number): Promise<boolean>;
  /** set writes unconditionally. */
  set(key: string, value: Uint8Array, lifetimeSeconds: number): Promise<void>;
  /**
   * append appends bytes to an existing value; false when the key is absent. memcached also answers false
   * (NOT_STORED) when the result would exceed its item size: the value is then unchanged. The item keeps
   * its lifetime; its version changes, so a `cas` against a version read before the append fails.
   */
  append(key: string, value: Uint8Array): Promise<boolean>;
  /** touch sets a new lifetime without changing the value; false if the key is absent. */
  touch(key: string, lifetimeSeconds: number): Promise<boolean>;
  /** delete removes a key; false if it was absent. */
  delete(key: string): Promise<boolean>;
  /**
   * counter adds `delta` to a counter (memcached's `incr`; a negative delta is `decr`, which stops at 0) and
   * answers its new value; `counter(key, 0, false)` reads it. An absent counter answers undefined, or, with
   * `create`, is added at max(delta, 0) with no expiry. A counter is a plain decimal number in memcached,
   * never sealed (memcached must read it): it may count things, never name them.
   */
  counter(key: string, delta: number, create: boolean): Promise<number | undefined>;
  /**
   * replicaKeys names the keys that hold the copies of a value kept on every node (see
   * `ReplicatedRegister`): one key per server of a pool, each chosen to land on its own server; on one
   * server (which may be a proxy in front of a pool), a few keys that the proxy spreads by their hash.
   * Always the same answer for the same key; the first entry may be `key` itself.
   */
  replicaKeys(key: string): readonly string[];
  /**
   * replicaKeyNear names the one key of `replicaKeys(key)` that lives on the same node as `near`, so that a
   * value's copy can be read in the same request as `near` (one multi-key `gets`). On one server (which may
   * be a proxy in front of a pool) it is one of the replica keys, chosen by `near`'s hash: always the same
   * for the same pair.
   */
  replicaKeyNear(key: string, near: string): string;
  /** ping checks that the store answers (memcached `version`); throws StoreUnavailableError if not. */
  ping(): Promise<void>;
  /** close releases connections; the store is unusable afterwards. */
  close(): Promise<void>;
}

/**
 * StoreUnavailableError says the store could not be reached or did not answer in time.
 * The gRPC layer maps it to UNAVAILABLE.
 */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** MAX_LIFETIME_SECONDS is memcached's largest relative expiry (30 days); larger values mean a Unix time. */
export const MAX_LIFETIME_SECONDS = 30 * 24 * 3600;
