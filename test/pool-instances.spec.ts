// Three sessiond processes over one pool of three memcached nodes: read-modify-write increments through
// Transaction streams, spread over every instance, lose nothing while one node restarts in the middle.
import { expect } from "chai";
import { type MemcachedProcess, startMemcachedPool } from "./helpers/memcached.js";
import { connectSessionClient, type SessionClient, type SessiondProcess, startSessiondProcess } from "./helpers/ops-process.js";
import { sessionNodes } from "./helpers/pool-layout.js";
import { op } from "./helpers/sessiond.js";

const namespace = "PoolCounters";
const ABORTED = 10;
const UNAVAILABLE = 14;
const counters = Array.from({ length: 12 }, (_, i) => `counter-${i}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Tally counts, per counter, the commits that answered OK (and those that did after the restart). */
interface Tally {
  ok: number;
  okAfterRestart: number;
}

describe("three sessiond instances over a pool of three memcached nodes", function () {
  this.timeout(90_000);
  let pool: MemcachedProcess[];
  let servers: string[];
  let instances: Array<SessiondProcess & { address: string }>;
  let clients: SessionClient[];

  before(async () => {
    pool = await startMemcachedPool(3);
    servers = pool.map((m) => m.address);
    instances = await Promise.all([0, 1, 2].map(() => startSessiondProcess(["--memcached", servers.join(",")])));
    clients = instances.map((p) => connectSessionClient(p.address));
  });
  after(async () => {
    for (const client of clients ?? []) client.close();
    for (const p of instances ?? []) {
      p.child.kill("SIGTERM");
      await p.waitForExit();
    }
    for (const m of pool ?? []) await m.stop();
  });

  /** increment runs one read-modify-write transaction; "ok", "conflict" or "unavailable" (begin or commit). */
  async function increment(client: SessionClient, sessionId: string): Promise<"ok" | "conflict" | "unavailable"> {
    const tx = client.stream();
    try {
      const begun = await tx.send(op("begin", { namespace, sessionId }));
      if (begun.error !== undefined) {
        expect(begun.error.code, begun.error.message).to.equal(UNAVAILABLE);
        return "unavailable";
      }
      const read = await tx.send(op("get", { package: "stats", keys: ["count"] }));
      const count = ((read.result.value as { data?: { count?: number } }).data?.count ?? 0) + 1;
      await tx.send(op("set", { package: "stats", data: { count } }));
      const committed = await tx.send(op("commit"));
      if (committed.error === undefined) return "ok";
      expect([ABORTED, UNAVAILABLE], committed.error.message).to.include(committed.error.code);
      return committed.error.code === ABORTED ? "conflict" : "unavailable";
    } finally {
      await tx.end();
    }
  }

  // nodeOf names the memcached node that holds each counter, from the generation's copies (as an operator would).
  const nodeOf = () => sessionNodes(servers, namespace, counters);

  it("loses no increment on the healthy nodes while one node restarts, and none after it is back", async () => {
    await clients[0]!.call("createSession", { namespace }); // the namespace's generation exists
    const where = await nodeOf();
    const restarted = servers.find((s) => [...where.values()].includes(s) && [...where.values()].some((n) => n !== s))!;
    const tallies = new Map(counters.map((id) => [id, { ok: 0, okAfterRestart: 0 } as Tally]));
    let restartDone = false;
    let running = true;
    let conflicts = 0;

    const workers = clients.flatMap((client, i) =>
      [0, 1, 2, 3].map(async (w) => {
        for (let k = i * 4 + w; running; k++) {
          const sessionId = counters[k % counters.length]!;
          const outcome = await increment(client, sessionId);
          if (outcome === "ok") {
            const tally = tallies.get(sessionId)!;
            tally.ok++;
            if (restartDone) tally.okAfterRestart++;
          } else if (outcome === "conflict") conflicts++;
          else await sleep(20);
        }
      }),
    );
    await sleep(2000);
    await pool[servers.indexOf(restarted)]!.restart();
    restartDone = true;
    await sleep(2000);
    running = false;
    await Promise.all(workers);

    expect(conflicts, "writers really collided").to.be.greaterThan(0);
    for (const sessionId of counters) {
      const { data } = await clients[(counters.indexOf(sessionId) + 1) % 3]!.call("get", {
        namespace,
        sessionId,
        package: "stats",
      });
      const final = (data?.count as number | undefined) ?? 0;
      const tally = tallies.get(sessionId)!;
      if (where.get(sessionId) === restarted) {
        // Its node restarted empty: what it held before is gone (read as absent, never stale); every
        // increment committed after it came back is kept.
        expect(final, sessionId).to.be.at.least(tally.okAfterRestart).and.at.most(tally.ok);
        expect(tally.okAfterRestart, sessionId).to.be.greaterThan(0);
      } else {
        expect(final, `${sessionId} on a healthy node`).to.equal(tally.ok);
        expect(tally.ok, sessionId).to.be.greaterThan(0);
      }
    }
  });
});
