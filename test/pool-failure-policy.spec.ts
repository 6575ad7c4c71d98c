// The failure policy of a pool: consistency first. A node that is down or frozen touches only its share:
// its sessions answer UNAVAILABLE until it returns (never rehashed onto another node), the others are
// served at normal speed. After one command timed out on a frozen node, calls that need it fail at once
// (its circuit breaker is open). Index writes to it are logged and skipped: the session is stored all the same.
import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { Keys } from "../server/core/keys.js";
import { createMemcachedStore } from "../server/store/memcached-store.js";
import { type MemcachedProcess, startMemcachedPool } from "./helpers/memcached.js";
import { readGeneration, sessionNodes } from "./helpers/pool-layout.js";
import { type RunningSessiond, startSessiond } from "./helpers/sessiond.js";

const namespace = "FrozenShare";

describe("the failure policy of a pool of three memcached nodes", function () {
  this.timeout(60_000);
  let pool: MemcachedProcess[];
  let sessiond: RunningSessiond;

  before(async () => {
    pool = await startMemcachedPool(3);
    sessiond = await startSessiond({ memcached: pool.map((m) => m.address) });
    await sessiond.call("createSession", { namespace }); // the generation is known before the freeze
  });
  after(async () => {
    pool?.[0]?.resume();
    await sessiond?.stop();
    for (const m of pool ?? []) await m.stop();
  });

  it("creates sessions on the healthy nodes while one is frozen, without waiting the command timeout on every call", async () => {
    await pool[0]!.pause();
    const created: string[] = [];
    const slow: number[] = [];
    let unavailable = 0;
    try {
      for (let i = 0; i < 60; i++) {
        const started = performance.now();
        try {
          const { sessionId } = await sessiond.call("createSession", { namespace });
          created.push(sessionId);
        } catch (err) {
          expect((err as { code: number }).code).to.equal(status.UNAVAILABLE);
          unavailable++;
        }
        const ms = performance.now() - started;
        // memcached's command timeout is 1000 ms: only calls that waited for the frozen node take that long.
        if (ms > 500) slow.push(ms);
      }
    } finally {
      pool[0]!.resume();
    }
    // About a third of the ids land on the frozen node (their create answers UNAVAILABLE), the rest are stored.
    expect(created.length, `${unavailable} failed`).to.be.greaterThan(25);
    expect(unavailable).to.be.greaterThan(0);
    // One call trips the breaker (a second may have been in flight with it); the others do not wait.
    expect(slow.length, `slow calls: ${slow.map(Math.round).join(", ")} ms`).to.be.at.most(2);
    for (const sessionId of created) {
      await sessiond.call("set", { namespace, sessionId, package: "p", data: { ok: true } });
      expect((await sessiond.call("get", { namespace, sessionId, package: "p" })).data).to.deep.equal({ ok: true });
    }
  });

  it("answers UNAVAILABLE for a stopped node's sessions until it returns, and never writes them elsewhere", async () => {
    const ids: string[] = [];
    // A node thawed by the test before may still be failing fast until its probe answers: retry, as clients do.
    for (let attempt = 0; ids.length < 30; attempt++) {
      expect(attempt, "the pool answers again").to.be.below(100);
      try {
        const { sessionId } = await sessiond.call("createSession", { namespace });
        await sessiond.call("set", { namespace, sessionId, package: "p", data: { i: ids.length } });
        ids.push(sessionId);
      } catch (err) {
        expect((err as { code: number }).code).to.equal(status.UNAVAILABLE);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const servers = pool.map((m) => m.address);
    const generation = await readGeneration(servers, namespace);
    const nodes = await sessionNodes(servers, namespace, ids);
    const onDown = (id: string) => nodes.get(id) === servers[2];
    expect(ids.filter(onDown)).to.not.be.empty;

    await pool[2]!.stop();
    try {
      // The instance still serves two thirds of the sessions: health must not take it out of a load balancer.
      expect(await sessiond.server.health.check()).to.equal("SERVING");
      for (const sessionId of ids) {
        const write = sessiond.call("set", { namespace, sessionId, package: "p", data: { during: true } });
        if (!onDown(sessionId)) {
          await write;
          continue;
        }
        const err = await write.catch((e: { code: number }) => e);
        expect((err as { code: number }).code, sessionId).to.equal(status.UNAVAILABLE);
        const read = await sessiond.call("get", { namespace, sessionId, package: "p" }).catch((e: { code: number }) => e);
        expect((read as { code: number }).code, sessionId).to.equal(status.UNAVAILABLE);
      }
      // Nothing of the down node's sessions went to the survivors: their keys are absent everywhere else.
      const keys = ids.filter(onDown).map((id) => new Keys("sd1").session(namespace, generation, id));
      for (const survivor of servers.slice(0, 2)) {
        const direct = createMemcachedStore({ servers: [survivor] });
        expect((await direct.getMany(keys)).size, survivor).to.equal(0);
        await direct.close();
      }
    } finally {
      await pool[2]!.restart();
    }
    // Back, empty: its sessions read as absent (never stale), the others kept their writes.
    for (const sessionId of ids) {
      const { data } = await sessiond.call("get", { namespace, sessionId, package: "p" });
      expect(data, sessionId).to.deep.equal(onDown(sessionId) ? {} : { i: ids.indexOf(sessionId), during: true });
    }
  });
});
