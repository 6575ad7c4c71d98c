// Two sessiond instances racing on a namespace's shared state, as a user running two instances behind a
// load balancer meets it: a namespace's first use from both at once, InvalidateAll sent to both at once,
// a write on one right after InvalidateAll answered on the other. Nothing acknowledged may be lost, and
// nothing invalidated may be read after the answer. Over one memcached and over a pool of three.
import { expect } from "chai";
import { type MemcachedProcess, startMemcachedPool } from "./helpers/memcached.js";
import { type RunningSessiond, startSessiond } from "./helpers/sessiond.js";

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
