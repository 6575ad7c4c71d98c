import { Keys } from "../../server/core/keys.js";
import { createKeyRing, type KeyRing } from "../../server/store/key-ring.js";
import { createMemcachedStore } from "../../server/store/memcached-store.js";
import type { Store } from "../../server/store/store.js";
import type { TortureCluster } from "./torture-cluster.js";

/**
 * SessionPlacement tells which memcached node holds a session's record, as sessiond lays keys out
 * (server/core/keys.ts): `sd1:<namespace>:<generation>:s:<sha256 of the id>`, routed by md5 ketama over the
 * nodes, by sessiond itself (a pool) or by twemproxy (same ring: server/store/key-ring.ts). The key depends
 * on the namespace's generation, so the nemesis reads the generation's copies around each fault.
 */
export interface SessionPlacement {
  /**
   * generations reads every copy of the namespace's generation that answers (a pool: one per node; a
   * proxy: `--replicas` of them): several values when instances disagree, none before first use.
   */
  generations(namespace: string): Promise<string[]>;
  /** nodeOf names the memcached node ("127.0.0.1:port") that holds a session's record under `generation`. */
  nodeOf(namespace: string, generation: string, sessionId: string): string;
  /**
   * holdsEveryCopy says whether `node` holds every copy of the namespace's generation: through a proxy the
   * `--replicas` keys may all hash to one node, whose restart then loses the generation, and with it every
   * session of the namespace (their keys carry it).
   */
  holdsEveryCopy(namespace: string, node: string): boolean;
  close(): Promise<void>;
}

/** PLACEMENT_TIMEOUT_MS bounds a read of a generation copy: a frozen node must not stall the nemesis. */
const PLACEMENT_TIMEOUT_MS = 300;

/** createSessionPlacement reads the cluster's memcached as its sessiond processes see it (same servers, same replicas). */
export function createSessionPlacement(cluster: TortureCluster): SessionPlacement {
  const store: Store = createMemcachedStore({
    servers: cluster.servers,
    replicas: cluster.replicas,
    cmdTimeoutMs: PLACEMENT_TIMEOUT_MS,
    connectTimeoutMs: PLACEMENT_TIMEOUT_MS,
  });
  const ring: KeyRing = createKeyRing(cluster.nodes.map((node) => node.address));
  const keys = new Keys("sd1");
  return {
    async generations(namespace) {
      const key = keys.generation(namespace);
      const copies = await Promise.all(
        [key, ...store.replicaKeys(key)].map((k) => store.get(k).catch(() => undefined)), // a down node holds one copy of several
      );
      const found = copies.filter((c) => c !== undefined).map((c) => Buffer.from(c.value).toString("latin1"));
      return [...new Set(found)];
    },
    nodeOf: (namespace, generation, sessionId) => ring.serverFor(keys.session(namespace, generation, sessionId)),
    holdsEveryCopy: (namespace, node) => store.replicaKeys(keys.generation(namespace)).every((k) => ring.serverFor(k) === node),
    close: () => store.close(),
  };
}

/**
 * NodeWatch follows one node through a restart: `read` collects the generation copies of every namespace
 * (call it before the kill and once the node is back: the sessions of either generation lived there), and
 * `idsOn` answers, per namespace, the ids of `ids` whose record lived on the node under one of them (all of
 * them when the node held every copy of the generation).
 */
export interface NodeWatch {
  read(): Promise<void>;
  idsOn(): Map<string, string[]>;
}

/** watchNode makes the NodeWatch of `node`; `ids` are the session ids the run was given, per namespace (it grows). */
export function watchNode(placement: SessionPlacement, node: string, ids: ReadonlyMap<string, ReadonlySet<string>>): NodeWatch {
  const generations = new Map<string, Set<string>>();
  return {
    async read() {
      for (const namespace of ids.keys()) {
        const known = generations.get(namespace) ?? new Set();
        for (const g of await placement.generations(namespace)) known.add(g);
        generations.set(namespace, known);
      }
    },
    idsOn() {
      const on = new Map<string, string[]>();
      for (const [namespace, gens] of generations) {
        const here = [...(ids.get(namespace) ?? [])].filter((id) =>
          [...gens].some((g) => placement.nodeOf(namespace, g, id) === node),
        );
        on.set(namespace, here);
      }
      return on;
    },
  };
}
