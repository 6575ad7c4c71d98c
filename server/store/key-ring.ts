import { createRequire } from "node:module";

// hashring ships no types (there is an @types/hashring we do without): this is the part we use.
interface HashRing {
  get(key: string): string | undefined;
}
type HashRingConstructor = new (
  servers: Record<string, { vnodes: number }>,
  algorithm: string,
  options: Record<string, unknown>,
) => HashRing;
const HashRing = createRequire(import.meta.url)("hashring") as HashRingConstructor;

/** KeyRing maps each key to one memcached server of a fixed list. */
export interface KeyRing {
  /** servers is the list the ring was made from, in the given order. */
  readonly servers: readonly string[];
  /** serverFor names the server ("host:port", as given) that holds `key`. */
  serverFor(key: string): string;
}

// twemproxy's ketama constants (nc_ketama.c): 160 points per server, 4 per md5 digest.
const KETAMA_POINTS_PER_SERVER = 160;
const KETAMA_POINTS_PER_HASH = 4;
// twemproxy (like libmemcached) leaves the port out of a server's hash name when it is 11211.
const KETAMA_DEFAULT_PORT = 11211;

/**
 * createKeyRing returns the consistent-hash ring that maps keys exactly as twemproxy does with
 * `hash: md5`, `distribution: ketama` and the same servers listed as `host:port:1` with no names, so a
 * sessiond fleet and a twemproxy in front of the same memcacheds agree on where every key lives.
 * Servers are "host:port" strings; the host is hashed as written ("localhost" and "127.0.0.1" are
 * different servers to the ring, as to twemproxy). Weights are all 1. Caveat: twemproxy's
 * `auto_eject_hosts` reshapes its ring when a server fails; this ring never changes.
 */
export function createKeyRing(servers: readonly string[]): KeyRing {
  if (servers.length === 0) throw new Error("key ring: no memcached servers given");
  for (const server of servers) parseServer(server);
  if (new Set(servers).size !== servers.length) {
    throw new Error(`key ring: memcached servers listed twice in ${servers.join(",")}`);
  }
  if (servers.length === 1) {
    const only = servers[0] as string;
    return { servers: [...servers], serverFor: () => only };
  }
  // hashring's own count of hashes per server is floor(40 * n / n) in doubles, which gives 39 for 7, 14, 28...
  // servers; twemproxy computes it in floats and gets 39 for 25, 47... servers instead. So the count is
  // computed here as twemproxy does and handed to hashring per server; "vnode count" 0 makes hashring take
  // a per-server count as it is.
  const perServer = ketamaHashesPerServer(servers.length);
  const ring = new HashRing(Object.fromEntries(servers.map((server) => [server, { vnodes: perServer }])), "md5", {
    compatibility: "ketama",
    "vnode count": 0,
    "default port": KETAMA_DEFAULT_PORT,
  });
  return {
    servers: [...servers],
    serverFor(key) {
      const server = ring.get(key);
      if (server === undefined) throw new Error(`key ring: no server for key ${key}`);
      return server;
    },
  };
}

// ketamaHashesPerServer is how many md5 digests (of 4 points each) twemproxy puts on the ring for each of
// `count` servers of equal weight, reproducing its single-precision arithmetic:
// floorf(pct * 160 / 4 * count + 1e-10) with pct = 1.0f / count.
function ketamaHashesPerServer(count: number): number {
  const f = Math.fround;
  const pct = f(1 / count);
  const scaled = f(f(f(pct * KETAMA_POINTS_PER_SERVER) / KETAMA_POINTS_PER_HASH) * f(count));
  return Math.floor(f(scaled + 0.0000000001));
}

function parseServer(server: string): void {
  const match = /^(.+):(\d{1,5})$/.exec(server);
  const port = match === null ? NaN : Number(match[2]);
  if (!(port > 0 && port < 65536)) {
    throw new Error(`key ring: memcached server ${JSON.stringify(server)} is not "host:port"`);
  }
}
