import { type Store, StoreUnavailableError, type Versioned } from "../server/store/store.js";
import { checkDelta, checkLifetimeSeconds, checkStoreKey, checkValue, counterBytes } from "../server/store/store-arguments.js";
import type { Command, Reply } from "./memcached-node.js";
import type { SimPool } from "./sim-pool.js";

/** SimStoreOptions are those of the real store that shape failures: `createMemcachedStore` documents them. */
export interface SimStoreOptions {
  cmdTimeoutMs: number;
  breakMs: number;
  /** replicas is the number of replica keys on a pool of one node (a proxy). */
  replicas: number;
}

/** SimStore is one instance's Store over a simulated pool; `crash` silences it for good (the instance died). */
export interface SimStore extends Store {
  crash(): void;
}

const defaults: SimStoreOptions = { cmdTimeoutMs: 1000, breakMs: 500, replicas: 3 };

/**
 * createSimStore is one sessiond instance's connection to a simulated pool, behaving as
 * `createMemcachedStore` does over real memcached (memcached-store.ts, memcached-server.ts): keys go to the
 * ring's node; `getMany` sends one `gets` per node; replicated values use the same `<key>~<n>` search;
 * `cas` with a version that is no cas unique answers false unsent; a silent node fails a command with
 * StoreUnavailableError after cmdTimeoutMs (plus up to a quarter: memcache-client checks timers every
 * quarter) and opens that node's circuit breaker (fail fast, probe with `version` every breakMs); a node
 * restarting refuses at once; a broken connection fails its command (a write may have been applied);
 * memcached's SERVER_ERROR and CLIENT_ERROR are plain Errors naming the server.
 */
export function createSimStore(pool: SimPool, options: Partial<SimStoreOptions> = {}): SimStore {
  const { cmdTimeoutMs, breakMs, replicas } = { ...defaults, ...options };
  const net = pool.network;
  const broken: Array<StoreUnavailableError | undefined> = pool.nodes.map(() => undefined);
  const replicaCache = new Map<string, readonly string[]>();
  let closed = false;
  let crashed = false;

  function send(node: number, command: Command): Promise<Reply> {
    const address = pool.addresses[node]!;
    if (closed) return Promise.reject(new StoreUnavailableError(`memcached ${address}: store is closed`));
    if (crashed) return new Promise(() => undefined); // a dead process hears nothing
    const cause = broken[node];
    if (cause !== undefined) {
      return Promise.reject(
        new StoreUnavailableError(`${cause.message} (failing fast; probing ${address} every ${breakMs} ms)`, { cause }),
      );
    }
    return new Promise<Reply>((resolve, reject) => {
      let answered = false;
      const timeout = net?.scheduler.after(cmdTimeoutMs * (1 + net.random.next() / 4), () => {
        if (answered || crashed) return;
        answered = true;
        const err = new StoreUnavailableError(`memcached ${address} unreachable: no answer within ${cmdTimeoutMs} ms`);
        trip(node, err);
        reject(err);
      });
      const finish = (run: () => void) => {
        if (answered || crashed) return;
        answered = true;
        timeout?.cancel();
        run();
      };
      pool.deliver(node, command, {
        reply: (reply) => finish(() => resolve(reply)),
        fail: (reason) => finish(() => reject(new StoreUnavailableError(`memcached ${address} unreachable: ${reason}`))),
      });
    });
  }

  // trip opens a node's breaker after a timeout and probes it every breakMs until it answers.
  function trip(node: number, err: StoreUnavailableError): void {
    if (broken[node] !== undefined || net === undefined) return;
    broken[node] = err;
    const probe = () =>
      net.scheduler.after(breakMs, () => {
        if (closed || crashed) return;
        const timeout = net.scheduler.after(cmdTimeoutMs, () => probe());
        pool.deliver(
          node,
          { op: "version" },
          {
            reply: () => {
              timeout.cancel();
              broken[node] = undefined;
            },
            fail: () => undefined, // the timeout probes again
          },
        );
      });
    probe();
  }

  // answer turns a reply into the Store's result: `yes` words are true, `no` words false, errors thrown.
  async function run(key: string, command: Command, yes: readonly string[], no: readonly string[]): Promise<boolean> {
    const node = pool.nodeOf(key);
    const reply = await send(node, command);
    if (yes.includes(reply.word)) return true;
    if (no.includes(reply.word)) return false;
    throw refusal(node, reply);
  }

  function refusal(node: number, reply: Reply): Error {
    const text = "message" in reply ? `${reply.word} ${reply.message}` : reply.word;
    return new Error(`memcached ${pool.addresses[node]} refused the command: ${text}`);
  }

  function storage(op: "add" | "set" | "append", key: string, value: Uint8Array, lifetime: number): Command {
    checkStoreKey(key);
    checkValue(value);
    checkLifetimeSeconds(lifetime);
    // Copied when sent, as a socket write would: the caller may reuse its buffer at once.
    return { op, key, value: Buffer.from(value), lifetime };
  }

  async function getMany(keys: readonly string[]): Promise<Map<string, Versioned>> {
    for (const key of keys) checkStoreKey(key);
    const byNode = new Map<number, string[]>();
    for (const key of new Set(keys)) {
      const node = pool.nodeOf(key);
      const group = byNode.get(node);
      if (group === undefined) byNode.set(node, [key]);
      else group.push(key);
    }
    const found = new Map<string, Versioned>();
    const replies = await Promise.all([...byNode].map(([node, group]) => send(node, { op: "gets", keys: group })));
    for (const reply of replies) {
      if (reply.word !== "VALUES") throw new Error(`memcached answered gets with ${reply.word}`);
      for (const [key, item] of reply.values) found.set(key, { value: item.value, version: item.cas });
    }
    return found;
  }

  function replicaKeys(key: string): readonly string[] {
    let keys = replicaCache.get(key);
    if (keys !== undefined) return keys;
    if (pool.nodes.length === 1) keys = Array.from({ length: replicas }, (_, n) => `${key}~${n}`);
    else {
      const found = new Map<string, string>();
      for (let n = 0; found.size < pool.nodes.length && n < 100_000; n++) {
        const server = pool.ring.serverFor(`${key}~${n}`);
        if (!found.has(server)) found.set(server, `${key}~${n}`);
      }
      keys = pool.addresses.map((server) => found.get(server)).filter((k) => k !== undefined);
    }
    replicaCache.set(key, keys);
    return keys;
  }

  return {
    crash() {
      crashed = true;
    },
    async get(key) {
      return (await getMany([key])).get(key);
    },
    getMany,
    async cas(key, value, version, lifetime) {
      const { value: bytes } = storage("set", key, value, lifetime) as { value: Buffer };
      const command: Command = { op: "cas", key, value: bytes, lifetime, cas: version };
      if (!(/^\d{1,20}$/.test(version) && BigInt(version) <= 0xffff_ffff_ffff_ffffn)) return false;
      return run(key, command, ["STORED"], ["EXISTS", "NOT_FOUND"]);
    },
    add: (key, value, lifetime) => run(key, storage("add", key, value, lifetime), ["STORED"], ["NOT_STORED"]),
    async set(key, value, lifetime) {
      await run(key, storage("set", key, value, lifetime), ["STORED"], []);
    },
    append: (key, value) => run(key, storage("append", key, value, 0), ["STORED"], ["NOT_STORED"]),
    async touch(key, lifetime) {
      checkStoreKey(key);
      checkLifetimeSeconds(lifetime);
      return run(key, { op: "touch", key, lifetime }, ["TOUCHED"], ["NOT_FOUND"]);
    },
    async delete(key) {
      checkStoreKey(key);
      return run(key, { op: "delete", key }, ["DELETED"], ["NOT_FOUND"]);
    },
    async counter(key, delta, create) {
      checkStoreKey(key);
      checkDelta(delta);
      const node = pool.nodeOf(key);
      const step = async () => {
        const reply = await send(node, { op: delta < 0 ? "decr" : "incr", key, delta: Math.abs(delta) });
        if (reply.word === "NUMBER") return reply.value;
        if (reply.word === "NOT_FOUND") return undefined;
        throw refusal(node, reply);
      };
      let value = await step();
      if (value === undefined && create) {
        const initial = Math.max(delta, 0);
        if (await run(key, storage("add", key, counterBytes(initial), 0), ["STORED"], ["NOT_STORED"])) return initial;
        value = await step(); // added meanwhile by another writer
      }
      return value;
    },
    replicaKeys,
    replicaKeyNear(key, near) {
      const keys = replicaKeys(key);
      if (pool.nodes.length === 1) return keys[nearIndex(near, keys.length)]!;
      return keys.find((k) => pool.nodeOf(k) === pool.nodeOf(near)) ?? keys[0]!;
    },
    async ping() {
      const results = await Promise.allSettled(pool.nodes.map((_, node) => send(node, { op: "version" })));
      const failed = results.filter((r) => r.status === "rejected");
      if (failed.length === results.length) throw (failed[0] as PromiseRejectedResult).reason;
    },
    async close() {
      closed = true;
    },
  };
}

// nearIndex is memcached-store.ts's choice of a replica by a key's hash (FNV-1a) on a single server.
function nearIndex(near: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < near.length; i++) h = Math.imul(h ^ near.charCodeAt(i), 0x01000193);
  return (h >>> 0) % n;
}
