// Two sessiond instances racing on a namespace's shared state, as a user running two instances behind a
// load balancer meets it: a namespace's first use from both at once, InvalidateAll sent to both at once,
// a write on one right after InvalidateAll answered on the other, every copy of a generation lost with its
// node. Nothing acknowledged may be lost, and nothing invalidated may be read after the answer. Over one
// memcached, a pool of three, and twemproxy.
import { expect } from "chai";
import { Keys } from "../server/core/keys.js";
import { createKeyRing } from "../server/store/key-ring.js";
import { type MemcachedProcess, startMemcachedPool } from "./helpers/memcached.js";
import { type RunningSessiond, startSessiond } from "./helpers/sessiond.js";
import { startTwemproxy, type TwemproxyProcess } from "./helpers/twemproxy.js";

for (const nodes of [1, 3]) {
  describe(`two sessiond instances racing on a namespace, over ${nodes === 1 ? "one memcached" : "a pool of three memcached"}`, function () {
    this.timeout(60_000);
    let pool: MemcachedProcess[];
    let a: RunningSessiond;
    let b: RunningSessiond;

    before(async () => {
      pool = await startMemcachedPool(nodes);
      const memcached = pool.map((m) => m.address);
      [a, b] = await Promise.all([startSessiond({ memcached }), startSessiond({ memcached })]);
    });
    after(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      for (const m of pool ?? []) await m.stop();
    });

    /** write creates a session through `via` and stores its number in it; answers its id once both answered OK. */
    async function write(via: RunningSessiond, namespace: string, n: number): Promise<string> {
      const { sessionId } = await via.call("createSession", { namespace });
      await via.call("set", { namespace, sessionId, package: "p", data: { n } });
      return sessionId;
    }
    /** lost answers the sessions (of `written`, id -> number) that do not read back their number through `via`. */
    async function lost(via: RunningSessiond, namespace: string, written: Map<string, number>): Promise<string[]> {
      const missing: string[] = [];
      for (const [sessionId, n] of written) {
        const { data } = await via.call("get", { namespace, sessionId, package: "p" });
        if (data?.n !== n) missing.push(sessionId);
      }
      return missing;
    }
    /** writeFromBoth writes `each` sessions through each instance at once; answers id -> number. */
    async function writeFromBoth(namespace: string, each: number): Promise<Map<string, number>> {
      const ids = await Promise.all(Array.from({ length: 2 * each }, (_, n) => write(n % 2 ? b : a, namespace, n)));
      return new Map(ids.map((id, n) => [id, n]));
    }

    it("keeps every session written through either instance when both use a fresh namespace at once", async () => {
      for (let round = 0; round < 20; round++) {
        const namespace = `Fresh-${nodes}-${round}`;
        const written = await writeFromBoth(namespace, 5);
        expect(await lost(a, namespace, written), `round ${round}, read through a`).to.deep.equal([]);
        expect(await lost(b, namespace, written), `round ${round}, read through b`).to.deep.equal([]);
        const listed = await a.call("listSessions", { namespace, pageSize: 100 });
        expect(listed.sessions.map((s) => s.sessionId).sort()).to.deep.equal([...written.keys()].sort());
      }
    });

    it("settles InvalidateAlls sent to both instances at once on one generation: what either writes after is kept", async () => {
      const namespace = `Invalidated-${nodes}`;
      for (let round = 0; round < 20; round++) {
        const before = await writeFromBoth(namespace, 2);
        await Promise.all([a.call("invalidateAll", { namespace }), b.call("invalidateAll", { namespace })]);
        expect(await lost(a, namespace, before), `round ${round}: invalidated sessions read through a`).to.have.length(4);
        expect(await lost(b, namespace, before), `round ${round}: invalidated sessions read through b`).to.have.length(4);
        const after = await writeFromBoth(namespace, 3);
        expect(await lost(a, namespace, after), `round ${round}, read through a`).to.deep.equal([]);
        expect(await lost(b, namespace, after), `round ${round}, read through b`).to.deep.equal([]);
      }
    });

    it("keeps a write sent to one instance right after InvalidateAll answered on the other, and serves nothing invalidated", async () => {
      const namespace = `RightAfter-${nodes}`;
      for (let round = 0; round < 10; round++) {
        // b has used the namespace, so it knows (and may remember) the generation about to be replaced.
        const old = await writeFromBoth(namespace, 5);
        expect(await lost(b, namespace, old)).to.deep.equal([]);
        await a.call("invalidateAll", { namespace });
        const oldIds = [...old.keys()];
        const served = await Promise.all(
          oldIds.map((sessionId) => b.call("get", { namespace, sessionId, package: "p" }).then((r) => r.data ?? {})),
        );
        expect(
          served.filter((d) => Object.keys(d).length > 0),
          `round ${round}: b served invalidated sessions`,
        ).to.deep.equal([]);
        const ids = await Promise.all(Array.from({ length: 30 }, (_, n) => write(b, namespace, n)));
        const written = new Map(ids.map((id, n) => [id, n]));
        expect(await lost(a, namespace, written), `round ${round}: written through b, read through a`).to.deep.equal([]);
        expect(await lost(b, namespace, written), `round ${round}: written through b, read through b`).to.deep.equal([]);
      }
    });
  });
}

describe("two sessiond instances through twemproxy, when every copy of a generation is lost with its node", function () {
  this.timeout(60_000);
  let proxy: TwemproxyProcess;
  let a: RunningSessiond;
  let b: RunningSessiond;

  before(async () => {
    proxy = await startTwemproxy(3);
    [a, b] = await Promise.all([startSessiond({ memcached: [proxy.address] }), startSessiond({ memcached: [proxy.address] })]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await proxy?.stop();
  });

  it("starts the namespace again on every instance: nothing reads back after an InvalidateAll that answered", async () => {
    // A namespace whose three copies (--replicas 3) the proxy's ketama ring puts on one node.
    const ring = createKeyRing(proxy.pool.map((m) => m.address));
    let namespace = "";
    for (let i = 0; namespace === ""; i++) {
      const nodes = [0, 1, 2].map((n) => ring.serverFor(`sd1:OneNode${i}:gen~${n}`));
      if (nodes.every((node) => node === nodes[0])) namespace = `OneNode${i}`;
    }
    const node = proxy.pool.find((m) => m.address === ring.serverFor(`sd1:${namespace}:gen~0`))!;
    const victims = Array.from({ length: 20 }, (_, i) => `victim-${i}`);
    // readable answers the victims that still read back their data through `via`.
    const readable = async (via: RunningSessiond) => {
      const data = await Promise.all(
        victims.map((sessionId) => via.call("get", { namespace, sessionId, package: "p" }).then((r) => r.data ?? {})),
      );
      return victims.filter((_, i) => Object.keys(data[i]!).length > 0);
    };
    for (let k = 0; k < 3; k++) await a.call("invalidateAll", { namespace }); // both instances see counter 3
    for (const sessionId of victims) await a.call("set", { namespace, sessionId, package: "p", data: { x: 1 } });
    expect(await readable(b)).to.deep.equal(victims);
    // Most victims live on the other nodes: only the generation makes them unreachable after the restart.
    const generation = Buffer.from((await b.store.get(`sd1:${namespace}:gen~0`))!.value).toString("latin1");
    const elsewhere = victims.filter((id) => ring.serverFor(new Keys("sd1").session(namespace, generation, id)) !== node.address);
    expect(elsewhere.length).to.be.greaterThan(5);
    await node.restart(); // every copy of the generation is gone, and the victims that lived on that node
    await a.call("invalidateAll", { namespace });
    expect(await readable(a), "through the instance that invalidated").to.deep.equal([]);
    expect(await readable(b), "through the other").to.deep.equal([]);
    await b.call("set", { namespace, sessionId: "after", package: "p", data: { y: 2 } });
    expect((await a.call("get", { namespace, sessionId: "after", package: "p" })).data).to.deep.equal({ y: 2 });
  });
});
