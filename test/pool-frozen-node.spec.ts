// A frozen memcached node touches only its share: after one command timed out on it, calls that need it
// fail UNAVAILABLE at once (its circuit breaker is open) and calls that do not need it run at normal speed.
// Index writes to it are logged and skipped: the session is stored on a healthy node all the same.
import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { type MemcachedProcess, startMemcachedPool } from "./helpers/memcached.js";
import { type RunningSessiond, startSessiond } from "./helpers/sessiond.js";

const namespace = "FrozenShare";

describe("a pool of three memcached nodes with one frozen", function () {
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

  it("creates sessions on the healthy nodes without waiting the command timeout on every call", async () => {
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
});
