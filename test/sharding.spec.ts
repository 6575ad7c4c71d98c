// A pool of three memcached processes is one store, sharded by ketama consistent hashing.
import { expect } from "chai";
import { MemcacheClient } from "memcache-client";
import { type MemcachedProcess, startMemcachedPool } from "./helpers/memcached.js";
import { type RunningSessiond, startSessiond } from "./helpers/sessiond.js";

describe("a pool of three memcached servers", function () {
  this.timeout(30_000);
  let pool: MemcachedProcess[];
  let a: RunningSessiond;
  let b: RunningSessiond;

  before(async () => {
    pool = await startMemcachedPool(3);
    const servers = pool.map((m) => m.address);
    a = await startSessiond({ memcached: servers });
    b = await startSessiond({ memcached: [...servers].reverse() });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    for (const m of pool ?? []) await m.stop();
  });

  it("spreads sessions over all three servers, each readable through any instance", async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `user-${i}`);
    for (const id of ids) await a.call("set", { namespace: "Pool", sessionId: id, package: "p", data: { id } });
    for (const id of ids) {
      expect((await b.call("get", { namespace: "Pool", sessionId: id, package: "p" })).data).to.deep.equal({ id });
    }
    // Each memcached holds some of the items (curr_items counts the sessions, index shards, generation).
    for (const m of pool) {
      const client = new MemcacheClient({ server: m.address });
      try {
        const stats = await client.cmd<{ STAT: string[][] }>("stats");
        const items = Number(stats.STAT.find(([name]) => name === "curr_items")?.[1]);
        expect(items, `items on ${m.address}`).to.be.greaterThan(5);
      } finally {
        client.shutdown();
      }
    }
  });
});
