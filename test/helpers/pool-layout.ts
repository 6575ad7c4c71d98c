import { Keys } from "../../server/core/keys.js";
import { createKeyRing } from "../../server/store/key-ring.js";
import { createMemcachedStore } from "../../server/store/memcached-store.js";

/**
 * readGeneration reads a namespace's generation id straight from memcached, from the first of its copies
 * that answers, as an operator would (key prefix "sd1"). Throws when no copy is found.
 */
export async function readGeneration(servers: readonly string[], namespace: string): Promise<string> {
  const store = createMemcachedStore({ servers });
  try {
    for (const key of store.replicaKeys(`sd1:${namespace}:gen`)) {
      const found = await store.get(key).catch(() => undefined); // a stopped node holds one copy of several
      if (found) return Buffer.from(found.value).toString("latin1");
    }
    throw new Error(`no copy of the generation of ${namespace} found`);
  } finally {
    await store.close();
  }
}

/** sessionNodes names, for each session id, the memcached server of the pool that holds it (as the ring does). */
export async function sessionNodes(
  servers: readonly string[],
  namespace: string,
  ids: readonly string[],
): Promise<Map<string, string>> {
  const generation = await readGeneration(servers, namespace);
  const ring = createKeyRing(servers);
  const keys = new Keys("sd1");
  return new Map(ids.map((id) => [id, ring.serverFor(keys.session(namespace, generation, id))]));
}
