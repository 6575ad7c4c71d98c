// The lovely.session doctest (../shared/seed/lovely.session.txt) once more, written with the SDK against
// a real memcached. Each step quotes the doctest line it mirrors; the code should read almost the same.
import { expect } from "chai";
import { createSessionClient } from "../client/index.js";
import { useSessiond } from "./helpers/fixture.js";
import { startSessiond } from "./helpers/sessiond.js";
import { fakeClock } from "./helpers/wait.js";

const ns = "MemCacheSession";

describe("the lovely.session scenario with the SDK", function () {
  this.timeout(20_000);
  const env = useSessiond();

  before(async () => {
    // >>> util.invalidateAll()
    await env.client.invalidateAll(ns);
  });

  it("empties a session once its namespace's timeout has passed", async () => {
    // >>> timeoutSessionData.timeout=1 (a container whose namespace times out after 1 s)
    const clock = fakeClock(); // the doctest sets lastAccessTime; here the clock is wound forward instead
    const short = await startSessiond({
      memcached: [env.memcached.address],
      core: { now: clock.now, namespaces: { [ns]: { timeoutSeconds: 1, resolutionSeconds: 0 } } },
    });
    const shortClient = createSessionClient(short.address);
    try {
      // >>> timeoutSession = timeoutSessionData['mySessionId']; timeoutData = timeoutSession['myData1']
      const timeoutSession = shortClient.session(ns, "mySessionId");
      expect(await timeoutSession.get("myData1")).to.deep.equal({});
      // >>> timeoutData['info'] = 'stored in memcache'
      await timeoutSession.set("myData1", { info: "stored in memcache" });
      // >>> timeoutSession['myData1'] -> {'info': 'stored in memcache'}
      expect(await timeoutSession.get("myData1")).to.deep.equal({ info: "stored in memcache" });
      // >>> timeoutSessionData.lastAccessTime=0: here, the clock passes beyond the timeout
      clock.advance(2200);
      // >>> timeoutSession['myData1'] is empty again
      expect(await timeoutSession.get("myData1")).to.deep.equal({});
    } finally {
      shortClient.close();
      await short.stop();
    }
  });

  describe("normal access, transactions and savepoints", () => {
    // A new container, as the doctest makes one.
    before(() => env.client.invalidateAll(ns));

    it("keeps data written in a transaction only once it is committed", async () => {
      // >>> session = sessionData['mySessionId']
      const session = env.client.session(ns, "mySessionId");
      await session.transaction(async (tx) => {
        // >>> data = session['myData']
        expect(await tx.get("myData")).to.deep.equal({});
        // >>> data['info'] = 'stored in memcache'
        await tx.set("myData", { info: "stored in memcache" });
        // >>> data -> {'info': 'stored in memcache'}
        expect(await tx.get("myData")).to.deep.equal({ info: "stored in memcache" });
        // Not committed yet: another reader does not see it.
        expect(await session.get("myData")).to.deep.equal({});
      }); // >>> transaction.commit()

      // >>> session['myData'] is read back from memcache
      expect(await session.get("myData")).to.deep.equal({ info: "stored in memcache" });
    });

    it("lists the session, as items() does", async () => {
      // >>> sessionData.items() -> [('mySessionId', )]
      const items = [];
      for await (const info of env.client.listSessions(ns)) items.push(info);
      expect(items.map((s) => s.sessionId)).to.deep.equal(["mySessionId"]);
      expect(items[0]!.packages).to.deep.equal(["myData"]);
    });

    it("rolls back to one savepoint twice and commits what was kept", async () => {
      const session = env.client.session(ns, "mySessionId");
      await session.transaction(async (tx) => {
        // >>> data['info'] = 'we want to keep this'
        tx.set("myData", { info: "we want to keep this" });
        // >>> savepoint = transaction.savepoint()
        const savepoint = await tx.savepoint();
        // >>> data['info'] = 'this should be dumped'
        tx.set("myData", { info: "this should be dumped" });
        // >>> savepoint.rollback()
        await savepoint.rollback();
        // >>> data['info'] -> 'we want to keep this'
        expect(await tx.get("myData", ["info"])).to.deep.equal({ info: "we want to keep this" });
        // >>> data['newinfo'] = 'go away'; newdata = session['myNewData']; newdata['foo'] = 'bar'
        tx.set("myData", { newinfo: "go away" });
        tx.set("myNewData", { foo: "bar" });
        // >>> savepoint.rollback(), a second time to the same savepoint
        await savepoint.rollback();
        // >>> data['newinfo'] -> KeyError: the key is gone
        expect(await tx.get("myData", ["newinfo"])).to.deep.equal({});
        // >>> session['myNewData'] is empty
        expect(await tx.get("myNewData")).to.deep.equal({});
      }); // >>> transaction.commit()

      // >>> session['myData'] -> {'info': 'we want to keep this'}, and no newinfo
      expect(await session.get("myData")).to.deep.equal({ info: "we want to keep this" });
      // >>> session['myNewData'] is empty
      expect(await session.get("myNewData")).to.deep.equal({});
    });
  });
});
