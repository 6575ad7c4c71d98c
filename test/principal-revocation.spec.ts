// Revoking a principal's sessions: 10,000 in one call, seen by every instance the moment it answers, surviving a
// restart of any memcached node of a pool, consistent under concurrent binds, rotations and revokes, and
// never undone by a transaction that began before it.
import { expect } from "chai";
import { pino } from "pino";
import { Keys } from "../server/core/keys.js";
import { createSessionCore } from "../server/core/session-core.js";
import { createKeyRing } from "../server/store/key-ring.js";
import { dumpKeys, type MemcachedProcess, startMemcached, startMemcachedPool } from "./helpers/memcached.js";
import { op, type RunningSessiond, startSessiond } from "./helpers/sessiond.js";
import { eventually } from "./helpers/wait.js";

const ns = "Revocation";
const ABORTED = 10;

/** inParallel runs `task(i)` for i in 0..count-1, at most `width` at a time, and returns the results in order. */
async function inParallel<T>(count: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

async function bound(via: RunningSessiond, principal: string, count: number, namespace = ns): Promise<string[]> {
  return inParallel(count, 64, async (i) => {
    const { sessionId } = await via.call("createSession", { namespace, principal, attributes: { n: String(i) } });
    await via.call("set", { namespace, sessionId, package: "p", data: { i } });
    return sessionId;
  });
}

async function stillReadable(via: RunningSessiond, ids: readonly string[], namespace = ns): Promise<string[]> {
  const data = await inParallel(ids.length, 64, (i) => via.call("get", { namespace, sessionId: ids[i]!, package: "p" }));
  return ids.filter((_, i) => Object.keys(data[i]!.data ?? {}).length > 0);
}

describe("revoking a principal's sessions", function () {
  this.timeout(120_000);
  let memcached: MemcachedProcess;
  let a: RunningSessiond;
  let b: RunningSessiond;

  before(async () => {
    memcached = await startMemcached({ memoryMb: 256 });
    a = await startSessiond({ memcached: [memcached.address] });
    b = await startSessiond({ memcached: [memcached.address] });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await memcached?.stop();
  });

  it("revokes 10,000 sessions of one principal in one call, after which all read empty", async () => {
    // Filled through a core on a's store (the server's code without gRPC): the test is about the revoke.
    const core = createSessionCore(a.store, {}, pino({ level: "silent" }));
    const ids = await inParallel(10_000, 64, async (i) => {
      const { sessionId } = await core.createSession(ns, { principal: "busy-user" });
      await core.set(ns, sessionId, "p", { i });
      return sessionId;
    });
    expect(await stillReadable(a, ids.slice(0, 100))).to.have.length(100);
    const started = performance.now();
    const { revokedCount } = await a.call("revokeSessions", { namespace: ns, principal: "busy-user" });
    const ms = performance.now() - started;
    console.info(`      RevokeSessions of 10,000 sessions of one principal: ${ms.toFixed(1)} ms`);
    expect(revokedCount).to.equal(10_000);
    expect(await stillReadable(a, ids), "on the revoking instance").to.deep.equal([]);
    expect(await stillReadable(b, ids.slice(0, 1000)), "on another instance").to.deep.equal([]);
    const listed = await a.call("listPrincipalSessions", { namespace: ns, principal: "busy-user" });
    expect(listed.sessions).to.deep.equal([]);
  });

  it("is seen by every instance the moment it answers, whatever they read before", async () => {
    const [id] = await bound(a, "henry", 1);
    // b has read the session (and its principal's stamp copy beside it), so it knows henry's binding.
    expect(await stillReadable(b, [id!])).to.deep.equal([id]);
    await a.call("revokeSessions", { namespace: ns, principal: "henry" });
    expect(await stillReadable(a, [id!]), "the revoking instance").to.deep.equal([]);
    expect(await stillReadable(b, [id!]), "another instance, at once").to.deep.equal([]);
    // A transaction b began before the revoke cannot write the session back to life.
    const [other] = await bound(a, "ivy", 1);
    const tx = b.stream();
    try {
      expect((await tx.send(op("begin", { namespace: ns, sessionId: other! }))).error).to.equal(undefined);
      await tx.send(op("set", { package: "p", data: { late: true } }));
      await a.call("revokeSessions", { namespace: ns, principal: "ivy" });
      const committed = await tx.send(op("commit"));
      expect(committed.error?.code, "the commit after the revoke answered").to.equal(10);
    } finally {
      await tx.end();
    }
    expect(await stillReadable(b, [other!])).to.deep.equal([]);
  });

  it("refuses the commit of a transaction that began before the revoke, and never writes the session back", async () => {
    const [id] = await bound(a, "ivy", 1);
    const tx = a.stream();
    await tx.send(op("begin", { namespace: ns, sessionId: id }));
    expect((await tx.send(op("get", { package: "p" }))).result.value).to.deep.include({ data: { i: 0 } });
    await tx.send(op("set", { package: "p", data: { i: 99 } }));
    await b.call("revokeSessions", { namespace: ns, principal: "ivy" });
    // The commit runs on `a`, whose cached stamp may be up to 1 s old: wait that long, as a client would not.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const committed = await tx.send(op("commit"));
    expect(committed.error?.code, committed.error?.message).to.equal(ABORTED);
    expect(await stillReadable(a, [id!])).to.deep.equal([]);
    // A transaction begun after the revoke sees the session absent.
    await tx.send(op("begin", { namespace: ns, sessionId: id }));
    expect((await tx.send(op("get", { package: "p" }))).result.value).to.deep.include({ data: {} });
    await tx.send(op("abort"));
    await tx.end();
  });

  it("ends with a consistent listing after concurrent binds, rotations and revokes of one principal", async () => {
    const principal = "jack";
    const ids = await bound(a, principal, 20);
    const current = [...ids];
    const extra: string[] = [];
    await Promise.all([
      // Rotations on both instances, some of them re-binding at the same time.
      inParallel(10, 5, async (i) => {
        const via = i % 2 ? a : b;
        const { sessionId } = await via.call("rotateSession", {
          namespace: ns,
          sessionId: current[i]!,
          principal: i % 3 ? "" : principal,
        });
        current[i] = sessionId;
      }),
      inParallel(10, 5, async () => {
        const { sessionId } = await b.call("createSession", { namespace: ns, principal });
        extra.push(sessionId);
      }),
      inParallel(4, 2, async (i) => {
        await new Promise((resolve) => setTimeout(resolve, 5 * i));
        const listed = await a.call("listPrincipalSessions", { namespace: ns, principal, pageSize: 5 });
        const handles = listed.sessions.slice(0, 1).map((s) => s.handle);
        if (handles.length > 0) await a.call("revokeSessions", { namespace: ns, principal, handles });
      }),
      inParallel(5, 5, async (i) => {
        await b.call("setPrincipal", { namespace: ns, sessionId: ids[15 + i]!, principal: "kate" }).catch(() => undefined);
      }),
    ]);
    // Truth: what each session says about itself.
    const truth = new Set<string>();
    for (const sessionId of [...current, ...extra]) {
      const described = await a.call("describeSession", { namespace: ns, sessionId }).catch(() => undefined);
      if (described?.session?.principal === principal) truth.add(described.session.handle);
    }
    const listed = await a.call("listPrincipalSessions", { namespace: ns, principal, pageSize: 1000 });
    expect(listed.sessions.map((s) => s.handle).sort()).to.deep.equal([...truth].sort());
    expect(truth.size).to.be.greaterThan(10);

    // The count of a revocation of all comes from a counter kept next to the list: after all that, it
    // still counts each live session once (rotations, re-binds and moves to kate included).
    const { revokedCount } = await b.call("revokeSessions", { namespace: ns, principal });
    expect(revokedCount).to.equal(truth.size);
    const after = await b.call("listPrincipalSessions", { namespace: ns, principal, pageSize: 1000 });
    expect(after.sessions).to.deep.equal([]);
  });

  it("counts each revoked session once, from the list itself when the counter was lost", async () => {
    const namespace = "Counting";
    const revokeAll = async (except: string[] = []) =>
      (await a.call("revokeSessions", { namespace, principal: "nina", exceptHandles: except })).revokedCount;
    const ids = await bound(a, "nina", 6, namespace);
    const handleOf = async (sessionId: string) => (await a.call("describeSession", { namespace, sessionId })).session!.handle;
    // Rotations (one a new login) keep the handle: still six sessions.
    ids[0] = (await a.call("rotateSession", { namespace, sessionId: ids[0]!, principal: "nina" })).sessionId;
    ids[0] = (await b.call("rotateSession", { namespace, sessionId: ids[0]!, principal: "" })).sessionId;
    const kept = await handleOf(ids[0]!);
    expect(
      (await a.call("revokeSessions", { namespace, principal: "nina", handles: [await handleOf(ids[1]!)] })).revokedCount,
    ).to.equal(1);
    expect(await revokeAll([kept]), "all but the kept one, of five").to.equal(4);
    expect(await revokeAll([kept]), "at once again: nothing left but the kept one").to.equal(0);

    // The counter lost (its node restarted, say): the revocation counts the list instead.
    await bound(a, "nina", 3, namespace);
    const counters = (await dumpKeys(memcached.port)).filter((key) => key.startsWith(`sd1:${namespace}:`) && key.endsWith(":n"));
    expect(counters).to.have.length(1);
    expect(await a.store.delete(counters[0]!)).to.equal(true);
    expect(await revokeAll(), "the kept one and three new ones").to.equal(4);
    expect(await stillReadable(a, ids, namespace)).to.deep.equal([]);
    // And counting starts again from there.
    await bound(a, "nina", 2, namespace);
    expect(await revokeAll()).to.equal(2);
    expect(await revokeAll()).to.equal(0);

    // After the answer, the list is cleared of what was revoked: its items end up empty, and a session
    // bound afterwards is the one line left.
    const listItems = async () => {
      const keys = (await dumpKeys(memcached.port)).filter(
        (key) => key.startsWith(`sd1:${namespace}:`) && /:p:[^:]+:\d+$/.test(key),
      );
      const found = await a.store.getMany(keys);
      return [...found.values()].flatMap((item) => Buffer.from(item.value).toString("latin1").split("\n").filter(Boolean));
    };
    await eventually("the list is cleared", async () => expect(await listItems()).to.deep.equal([]));
    const [last] = await bound(a, "nina", 1, namespace);
    const lines = await listItems();
    expect(lines).to.have.length(1);
    expect(lines[0]!.split(" ")[0]).to.equal(await handleOf(last!));
  });
});

describe("a revocation on a pool of three memcached nodes", function () {
  this.timeout(120_000);
  let pool: MemcachedProcess[];
  let a: RunningSessiond;

  before(async () => {
    pool = await startMemcachedPool(3);
    a = await startSessiond({ memcached: pool.map((m) => m.address) });
  });
  after(async () => {
    await a?.stop();
    for (const m of pool ?? []) await m.stop();
  });

  it("is never forgotten when any node restarts empty: no revoked session comes back", async () => {
    const ids = await bound(a, "laura", 60, "PoolRevocation");
    await a.call("revokeSessions", { namespace: "PoolRevocation", principal: "laura" });
    for (const [index, node] of pool.entries()) {
      await node.restart();
      // A fresh instance has no cached stamp: it must find one of the surviving copies.
      const fresh = await startSessiond({ memcached: pool.map((m) => m.address) });
      try {
        expect(await stillReadable(fresh, ids, "PoolRevocation"), `after node ${index} restarted`).to.deep.equal([]);
        expect(await stillReadable(a, ids, "PoolRevocation")).to.deep.equal([]);
      } finally {
        await fresh.stop();
      }
    }
    // A new session of laura after all that is unaffected.
    const [fresh] = await bound(a, "laura", 1, "PoolRevocation");
    expect(await stillReadable(a, [fresh!], "PoolRevocation")).to.deep.equal([fresh]);
  });

  it("reads bound sessions on healthy nodes, without waiting, while another node is frozen", async () => {
    const namespace = "PoolFrozen";
    const ids = await bound(a, "mike", 30, namespace);
    const ring = createKeyRing(pool.map((m) => m.address));
    await pool[0]!.pause();
    const fresh = await startSessiond({ memcached: pool.map((m) => m.address) });
    try {
      const keys = new Keys("sd1");
      const gen = await readGeneration(fresh, namespace);
      let healthy = 0;
      for (const sessionId of ids) {
        if (ring.serverFor(keys.session(namespace, gen, sessionId)) === pool[0]!.address) continue;
        const started = performance.now();
        const { data } = await fresh.call("get", { namespace, sessionId, package: "p" });
        expect(Object.keys(data ?? {})).to.deep.equal(["i"]);
        // memcached's command timeout is 1000 ms: a read that waited for the frozen node takes that long.
        expect(performance.now() - started, sessionId).to.be.below(900);
        healthy++;
      }
      expect(healthy).to.be.greaterThan(5);
    } finally {
      pool[0]!.resume();
      await fresh.stop();
    }
  });
});

// readGeneration reads the namespace's generation from any copy, as an operator would.
async function readGeneration(via: RunningSessiond, namespace: string): Promise<string> {
  for (const key of via.store.replicaKeys(`sd1:${namespace}:gen`)) {
    const found = await via.store.get(key).catch(() => undefined);
    if (found) return Buffer.from(found.value).toString("latin1");
  }
  throw new Error("no copy of the generation found");
}
