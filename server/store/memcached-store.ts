import { createKeyRing } from "./key-ring.js";
import type { StoreLogger } from "./memcached-server.js";
import { createMemcachedServer } from "./memcached-server.js";
import type { Store, Versioned } from "./store.js";
import type { StoreObserver } from "./store-observer.js";

export type { StoreLogger } from "./memcached-server.js";

/** MemcachedStoreOptions configures `createMemcachedStore`; only `servers` is required. */
export interface MemcachedStoreOptions {
  /** servers are the memcached servers as "host:port"; with several, keys are spread by md5 ketama (as twemproxy). */
  servers: readonly string[];
  /** cmdTimeoutMs bounds the wait for a reply, in milliseconds. Default: `defaultMemcachedStoreOptions`. */
  cmdTimeoutMs?: number;
  /** connectTimeoutMs bounds the wait for a TCP connection, in milliseconds. Default: `defaultMemcachedStoreOptions`. */
  connectTimeoutMs?: number;
  /**
   * maxConnections is the number of connections per server. Default: 2 (`defaultMemcachedStoreOptions`), a guess, not a measurement: the
   * text protocol pipelines, so one connection carries many concurrent commands; a second one keeps small
   * commands from queueing behind a large value's transfer.
   */
  maxConnections?: number;
  /**
   * breakMs is how long one server's commands fail fast (StoreUnavailableError at once) after one of them
   * timed out; the server is probed in the background every breakMs and used again once it answers. A
   * refused connection does not count: it costs no wait. Default: 500.
   */
  breakMs?: number;
  /**
   * replicas is how many keys hold a replicated value (see `Store.replicaKeys`) when `servers` names one
   * server: a proxy such as twemproxy spreads them over its pool by their hash. With several servers every
   * server holds one copy and this is not used. Default: 3.
   */
  replicas?: number;
  /** logger receives memcache-client's warnings and errors. Default: none (they are dropped). */
  logger?: StoreLogger;
  /** observer is told of every memcached command and its outcome (metrics, traces). Default: none. */
  observer?: StoreObserver;
}

/** defaultMemcachedStoreOptions are the defaults behind createMemcachedStore's optional fields. */
export const defaultMemcachedStoreOptions = {
  cmdTimeoutMs: 1000, // ms
  connectTimeoutMs: 1000, // ms
  maxConnections: 2, // connections per server
  breakMs: 500, // ms of failing fast after a timeout, between probes
  replicas: 3, // keys per replicated value on a single server (a proxy)
};

// Internal: replica keys are `<key>~<n>`; a pool's search for a suffix landing on each server stops here.
const MAX_REPLICA_SUFFIX = 100_000;
// Internal: replica key lists remembered (namespaces and principals are many; the search is a few md5s).
const REPLICA_CACHE_SIZE = 10_000;

/**
 * createMemcachedStore returns a Store over one or more memcached servers.
 * - One memcache-client per server; each key lives on the server that an md5 ketama ring names, exactly as
 *   twemproxy (`hash: md5`, `distribution: ketama`) would route it (see `createKeyRing`).
 * - `getMany` sends one multi-key `gets` per server, to all servers at once; it fails if any of them fails.
 * - Values are stored as raw bytes (never compressed) and read back as Buffers.
 * - Conflicts answer `false`: cas after a change (EXISTS) or on a vanished key (NOT_FOUND), add on an
 *   existing key or append to an absent one (NOT_STORED), touch or delete of an absent key (NOT_FOUND).
 * - An unreachable or silent server throws StoreUnavailableError naming it, within about
 *   `connectTimeoutMs` or `cmdTimeoutMs` (at once when the connection is refused); the next command
 *   connects again. Caveat: a write that fails this way may or may not have been applied.
 * - Any other failure (e.g. "SERVER_ERROR object too large for cache") throws an Error naming the server.
 * - `ping` asks every server for its version and fails only when none answers (a pool with one node down
 *   still serves the others' keys); `close` shuts every connection and the store is unusable after.
 */
export function createMemcachedStore(options: MemcachedStoreOptions): Store {
  const settings = { ...defaultMemcachedStoreOptions, ...withoutUndefined(options) };
  for (const name of ["cmdTimeoutMs", "connectTimeoutMs", "maxConnections", "breakMs", "replicas"] as const) {
    // memcache-client reads 0 as "use its own default" (5 s) or "no timeout": neither is wanted here.
    if (!Number.isSafeInteger(settings[name]) || settings[name] <= 0) {
      throw new RangeError(`memcached store: ${name} must be a positive integer, got ${settings[name]}`);
    }
  }
  const ring = createKeyRing(options.servers);
  const servers = new Map<string, Store>(
    ring.servers.map((address) => [
      address,
      createMemcachedServer(address, {
        cmdTimeoutMs: settings.cmdTimeoutMs,
        connectTimeoutMs: settings.connectTimeoutMs,
        maxConnections: settings.maxConnections,
        breakMs: settings.breakMs,
        logger: options.logger,
        observer: options.observer,
      }),
    ]),
  );
  const serverFor = (key: string): Store => servers.get(ring.serverFor(key)) as Store;
  const replicaCache = new Map<string, readonly string[]>();

  // replicaKeys: on a pool, for each server the first `<key>~<n>` the ring sends there; else n = 0..replicas-1.
  function replicaKeys(key: string): readonly string[] {
    let keys = replicaCache.get(key);
    if (keys !== undefined) return keys;
    if (ring.servers.length === 1) {
      keys = Array.from({ length: settings.replicas }, (_, n) => `${key}~${n}`);
    } else {
      const found = new Map<string, string>();
      for (let n = 0; found.size < ring.servers.length && n < MAX_REPLICA_SUFFIX; n++) {
        const candidate = `${key}~${n}`;
        const server = ring.serverFor(candidate);
        if (!found.has(server)) found.set(server, candidate);
      }
      keys = ring.servers.map((server) => found.get(server)).filter((k) => k !== undefined);
    }
    if (replicaCache.size >= REPLICA_CACHE_SIZE) replicaCache.clear();
    replicaCache.set(key, keys);
    return keys;
  }

  // replicaKeyNear: on a pool, the replica on near's server; on one server, one replica chosen by near's hash.
  function replicaKeyNear(key: string, near: string): string {
    const keys = replicaKeys(key);
    if (ring.servers.length === 1) return keys[nearIndex(near, keys.length)]!;
    // replicaKeys lists one key per server in ring.servers' order (every server is found in practice).
    const at = ring.servers.indexOf(ring.serverFor(near));
    return keys.length === ring.servers.length
      ? keys[at]!
      : (keys.find((k) => ring.serverFor(k) === ring.servers[at]) ?? keys[0]!);
  }

  async function getMany(keys: readonly string[]): Promise<Map<string, Versioned>> {
    const byServer = new Map<Store, string[]>();
    for (const key of keys) {
      const server = serverFor(key);
      const group = byServer.get(server);
      if (group === undefined) byServer.set(server, [key]);
      else group.push(key);
    }
    const parts = await Promise.all([...byServer].map(([server, group]) => server.getMany(group)));
    const found = new Map<string, Versioned>();
    for (const part of parts) for (const [key, versioned] of part) found.set(key, versioned);
    return found;
  }

  return {
    get: (key) => serverFor(key).get(key),
    getMany,
    cas: (key, value, version, lifetimeSeconds) => serverFor(key).cas(key, value, version, lifetimeSeconds),
    add: (key, value, lifetimeSeconds) => serverFor(key).add(key, value, lifetimeSeconds),
    set: (key, value, lifetimeSeconds) => serverFor(key).set(key, value, lifetimeSeconds),
    append: (key, value) => serverFor(key).append(key, value),
    counter: (key, delta, create) => serverFor(key).counter(key, delta, create),
    touch: (key, lifetimeSeconds) => serverFor(key).touch(key, lifetimeSeconds),
    delete: (key) => serverFor(key).delete(key),
    replicaKeys,
    replicaKeyNear,
    async ping() {
      // A pool with one node down still serves every other node's keys (the failure policy: a node's loss
      // touches only its share), so health must not take the whole instance out: unavailable only when
      // no node answers.
      const results = await Promise.allSettled([...servers.values()].map((server) => server.ping()));
      const failed = results.filter((r) => r.status === "rejected");
      if (failed.length === results.length) throw (failed[0] as PromiseRejectedResult).reason;
    },
    async close() {
      await Promise.all([...servers.values()].map((server) => server.close()));
    },
  };
}

// nearIndex spreads keys over n replicas by a cheap, stable hash (FNV-1a): the same key, the same replica.
function nearIndex(near: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < near.length; i++) h = Math.imul(h ^ near.charCodeAt(i), 0x01000193);
  return (h >>> 0) % n;
}

// withoutUndefined drops fields given as undefined, so they do not hide a default.
function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
