// A pool of three memcached nodes loses one: only that node's sessions are touched. The namespace's
// generation has a copy on every node, so no single node holds what the whole namespace needs.
import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { createKeyRing } from "../server/store/key-ring.js";
import { createMemcachedStore } from "../server/store/memcached-store.js";
import { type MemcachedProcess, startMemcachedPool } from "./helpers/memcached.js";
import { readGeneration, sessionNodes } from "./helpers/pool-layout.js";
import { type RunningSessiond, startSessiond } from "./helpers/sessiond.js";
import { eventually } from "./helpers/wait.js";

describe("a pool of three memcached nodes that loses one", function () {
  this.timeout(60_000);
  let pool: MemcachedProcess[];
  let servers: string[];
  let a: RunningSessiond;

  before(async () => {
    pool = await startMemcachedPool(3);
    servers = pool.map((m) => m.address);
    a = await startSessiond({ memcached: servers });
  });
  after(async () => {
    await a?.stop();
    for (const m of pool ?? []) await m.stop();
  });

  /** fillSessions writes `count` sessions of `namespace` and says which node holds each. */
  async function fillSessions(namespace: string, count: number): Promise<Map<string, string>> {
    const ids = Array.from({ length: count }, (_, i) => `user-${i}`);
    for (const [i, sessionId] of ids.entries()) await a.call("set", { namespace, sessionId, package: "p", data: { i } });
    return sessionNodes(servers, namespace, ids);
  }

  async function readAll(via: RunningSessiond, namespace: string, ids: Iterable<string>) {
    const kept: string[] = [];
    for (const sessionId of ids) {
      const { data } = await via.call("get", { namespace, sessionId, package: "p" });
      if (data && Object.keys(data).length > 0) kept.push(sessionId);
    }
    return kept;
  }

  it("keeps a copy of the namespace's generation on every node", async () => {
    await a.call("set", { namespace: "Copies", sessionId: "u", package: "p", data: { x: 1 } });
    const generation = await readGeneration(servers, "Copies");
    const store = createMemcachedStore({ servers });
    try {
      const copies = store.replicaKeys("sd1:Copies:gen");
      const ring = createKeyRing(servers);
      expect(new Set(copies.map((k) => ring.serverFor(k)))).to.have.property("size", 3);
      for (const key of copies) {
        expect(Buffer.from((await store.get(key))!.value).toString("latin1")).to.equal(generation);
      }
    } finally {
      await store.close();
    }
  });

  for (const index of [0, 1, 2]) {
    it(`keeps every session not on node ${index} when node ${index} restarts empty`, async () => {
      const namespace = `Restart${index}`;
      const nodeOf = await fillSessions(namespace, 45);
      const lost = [...nodeOf].filter(([, node]) => node === servers[index]).map(([id]) => id);
      expect(lost.length, "some sessions live on the restarted node").to.be.greaterThan(0);
      await pool[index]!.restart();
      // A fresh instance has no cached generation: it must find it on the surviving copies.
      const fresh = await startSessiond({ memcached: servers });
      try {
        for (const via of [a, fresh]) {
          const kept = await readAll(via, namespace, nodeOf.keys());
          expect(kept.sort()).to.deep.equal([...nodeOf.keys()].filter((id) => !lost.includes(id)).sort());
        }
        // The lost sessions read as absent, never stale, and can be written again.
        await fresh.call("set", { namespace, sessionId: lost[0]!, package: "p", data: { again: true } });
        expect((await a.call("get", { namespace, sessionId: lost[0]!, package: "p" })).data).to.deep.equal({ again: true });
      } finally {
        await fresh.stop();
      }
    });
  }

  it("answers the sessions on healthy nodes, without waiting, while another node is frozen", async () => {
    const namespace = "Frozen";
    const nodeOf = await fillSessions(namespace, 30);
    await pool[0]!.pause();
    const fresh = await startSessiond({ memcached: servers });
    try {
      for (const [sessionId, node] of nodeOf) {
        const started = performance.now();
        if (node === servers[0]) {
          const err = await fresh.call("get", { namespace, sessionId, package: "p" }).catch((e: { code: number }) => e);
          expect((err as { code: number }).code).to.equal(status.UNAVAILABLE);
        } else {
          const { data } = await fresh.call("get", { namespace, sessionId, package: "p" });
          expect(data).to.deep.equal({ i: Number(sessionId.slice(5)) });
          // Not a speed test: memcached's command timeout is 1000 ms; a call that waited for the frozen node takes it.
          expect(performance.now() - started, `get ${sessionId}`).to.be.below(900);
        }
      }
    } finally {
      pool[0]!.resume();
      await fresh.stop();
    }
    // A node that thawed is used again once the breaker's probe finds it answering: wait for that here, so
    // the next scenario starts with every node serving.
    const onFrozen = [...nodeOf].find(([, node]) => node === servers[0])![0];
    await eventually("the thawed node to serve writes again", () =>
      a.call("set", { namespace, sessionId: onFrozen, package: "p", data: { thawed: true } }).then(
        () => true,
        () => false,
      ),
    );
  });

  it("fails InvalidateAll UNAVAILABLE while a node is down, and once it succeeds no old session is ever read again", async () => {
    const namespace = "Invalidate";
    const nodeOf = await fillSessions(namespace, 30);
    await pool[1]!.stop();
    const down = await a.call("invalidateAll", { namespace }).catch((e: { code: number }) => e);
    expect((down as { code: number }).code).to.equal(status.UNAVAILABLE);
    await pool[1]!.restart();
    await a.call("invalidateAll", { namespace });
    // Every node in turn restarts empty or freezes and comes back: the old generation never returns.
    for (const m of pool) {
      await m.restart();
      const fresh = await startSessiond({ memcached: servers });
      try {
        expect(await readAll(fresh, namespace, nodeOf.keys())).to.deep.equal([]);
        expect(await readAll(a, namespace, nodeOf.keys())).to.deep.equal([]);
      } finally {
        await fresh.stop();
      }
    }
  });

  it("fails InvalidateAll UNAVAILABLE while a node is frozen; a retry after it thaws invalidates everything", async () => {
    const namespace = "InvalidateFrozen";
    const nodeOf = await fillSessions(namespace, 30);
    await pool[2]!.pause();
    const frozen = await a.call("invalidateAll", { namespace }).catch((e: { code: number }) => e);
    expect((frozen as { code: number }).code).to.equal(status.UNAVAILABLE);
    pool[2]!.resume();
    // The caller retries UNAVAILABLE (the SDK does): the node is used again once a probe finds it answering.
    for (let attempt = 0; ; attempt++) {
      const retried = await a.call("invalidateAll", { namespace }).catch((e: { code: number }) => e);
      if (!(retried as { code?: number } | undefined)?.code) break;
      expect((retried as { code: number }).code).to.equal(status.UNAVAILABLE);
      expect(attempt, "InvalidateAll still failing 3 s after the node thawed").to.be.below(30);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const fresh = await startSessiond({ memcached: servers });
    try {
      expect(await readAll(fresh, namespace, nodeOf.keys())).to.deep.equal([]);
    } finally {
      await fresh.stop();
    }
  });
});
