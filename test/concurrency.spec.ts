// No lost updates: clients increment one counter through transactions, retrying when commit answers
// ABORTED, on one sessiond and on two sessiond instances sharing one memcached, or one twemproxy pool.
import { expect } from "chai";
import { describeOverBackends, type StartedBackend } from "./helpers/backends.js";
import { op, type RunningSessiond, startSessiond } from "./helpers/sessiond.js";

const ns = "Counters";
const ABORTED = 10;

/** increment reads the counter and writes it + 1 in one transaction, until a commit goes through. */
async function increment(sessiond: RunningSessiond, sessionId: string): Promise<number> {
  const tx = sessiond.stream();
  let conflicts = 0;
  for (;;) {
    await tx.send(op("begin", { namespace: ns, sessionId }));
    const read = await tx.send(op("get", { package: "stats", keys: ["count"] }));
    const count = ((read.result.value as { data?: { count?: number } }).data?.count ?? 0) + 1;
    await tx.send(op("set", { package: "stats", data: { count } }));
    // Let other writers interleave between read and commit.
    await new Promise((resolve) => setImmediate(resolve));
    const committed = await tx.send(op("commit"));
    if (committed.error === undefined) break;
    expect(committed.error.code, committed.error.message).to.equal(ABORTED);
    conflicts++;
  }
  await tx.end();
  return conflicts;
}

async function countOf(sessiond: RunningSessiond, sessionId: string): Promise<unknown> {
  return (await sessiond.call("get", { namespace: ns, sessionId, package: "stats" })).data?.count;
}

describeOverBackends("concurrent writers", function (backend) {
  this.timeout(60_000);
  let storage: StartedBackend;
  let one: RunningSessiond;
  let two: RunningSessiond;

  before(async () => {
    storage = await backend.start();
    one = await startSessiond({ memcached: storage.servers });
    two = await startSessiond({ memcached: storage.servers });
  });
  after(async () => {
    await one?.stop();
    await two?.stop();
    await storage?.stop();
  });

  it("never lose an increment when 8 clients each add 25 through transactions", async () => {
    const clients = 8;
    const rounds = 25;
    const conflicts = await Promise.all(
      Array.from({ length: clients }, async () => {
        let seen = 0;
        for (let i = 0; i < rounds; i++) seen += await increment(one, "counter-1");
        return seen;
      }),
    );
    expect(await countOf(one, "counter-1")).to.equal(clients * rounds);
    // The scenario only proves something if writers really collided.
    expect(conflicts.reduce((a, b) => a + b, 0)).to.be.greaterThan(0);
  });

  it("never lose an increment across two sessiond instances sharing one store", async () => {
    const perInstance = 4;
    const rounds = 20;
    await Promise.all(
      [one, two].flatMap((sessiond) =>
        Array.from({ length: perInstance }, async () => {
          for (let i = 0; i < rounds; i++) await increment(sessiond, "counter-2");
        }),
      ),
    );
    expect(await countOf(one, "counter-2")).to.equal(2 * perInstance * rounds);
    expect(await countOf(two, "counter-2")).to.equal(2 * perInstance * rounds);
  });

  it("never lose a unary Set: concurrent sets of different keys all land", async () => {
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? one : two).call("set", { namespace: ns, sessionId: "merge", package: "p", data: { [`k${i}`]: i } }),
      ),
    );
    const data = (await one.call("get", { namespace: ns, sessionId: "merge", package: "p" })).data ?? {};
    expect(Object.keys(data)).to.have.length(40);
  });
});
