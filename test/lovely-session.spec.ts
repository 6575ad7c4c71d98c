// The lovely.session doctest (../shared/seed/lovely.session.txt), step by step, over plain gRPC against a
// real memcached. Each step quotes the doctest line it mirrors.
import { expect } from "chai";
import { describeOverBackends } from "./helpers/backends.js";
import { useSessiond } from "./helpers/fixture.js";
import { op, startSessiond } from "./helpers/sessiond.js";
import { fakeClock } from "./helpers/wait.js";

const ns = "MemCacheSession";
const id = "mySessionId";

describeOverBackends("the lovely.session scenario over gRPC", function (backend) {
  this.timeout(20_000);
  const env = useSessiond({ backend });

  before(async () => {
    // >>> util.invalidateAll()
    await env.sessiond.call("invalidateAll", { namespace: ns });
  });

  describe("timeout behaviour", () => {
    it("empties a session once its namespace's timeout has passed", async () => {
      // >>> timeoutSessionData.timeout=1 (a container whose namespace times out after 1 s)
      const clock = fakeClock(); // the doctest sets lastAccessTime; here the clock is wound forward instead
      const short = await startSessiond({
        memcached: env.servers,
        core: { now: clock.now, namespaces: { [ns]: { timeoutSeconds: 1, resolutionSeconds: 0 } } },
      });
      try {
        // >>> timeoutSession['myData1'] is empty at first
        expect((await short.call("get", { namespace: ns, sessionId: id, package: "myData1" })).data).to.deep.equal({});
        // >>> timeoutData['info'] = 'stored in memcache'
        await short.call("set", { namespace: ns, sessionId: id, package: "myData1", data: { info: "stored in memcache" } });
        expect((await short.call("get", { namespace: ns, sessionId: id, package: "myData1" })).data).to.deep.equal({
          info: "stored in memcache",
        });
        // >>> timeoutSessionData.lastAccessTime=0: here, the clock passes beyond the timeout
        clock.advance(2200);
        // >>> timeoutSession['myData1'] is empty again
        expect((await short.call("get", { namespace: ns, sessionId: id, package: "myData1" })).data).to.deep.equal({});
        const listed = await short.call("listSessions", { namespace: ns });
        expect(listed.sessions.map((s) => s.sessionId)).to.not.include(id);
      } finally {
        await short.stop();
      }
    });
  });

  describe("normal access, transactions and savepoints", () => {
    // A new container, as the doctest makes one: the timeout section's container had another timeout.
    before(() => env.sessiond.call("invalidateAll", { namespace: ns }));

    it("keeps data written in a transaction only once it is committed", async () => {
      const tx = env.sessiond.stream();
      // >>> session = sessionData['mySessionId']; data = session['myData']
      expect((await tx.send(op("begin", { namespace: ns, sessionId: id }))).result.case).to.equal("begin");
      expect((await tx.send(op("get", { package: "myData" }))).result.value).to.deep.include({ data: {} });
      // >>> data['info'] = 'stored in memcache'
      expect((await tx.send(op("set", { package: "myData", data: { info: "stored in memcache" } }))).result.case).to.equal("set");
      expect((await tx.send(op("get", { package: "myData" }))).result.value).to.deep.include({
        data: { info: "stored in memcache" },
      });
      // Not committed yet: another reader does not see it.
      expect((await env.sessiond.call("get", { namespace: ns, sessionId: id, package: "myData" })).data).to.deep.equal({});
      // >>> transaction.commit()
      const committed = await tx.send(op("commit"));
      expect(committed.error).to.equal(undefined);
      expect(committed.result.case).to.equal("commit");
      await tx.end();

      // >>> session['myData'] is read back from memcache
      expect((await env.sessiond.call("get", { namespace: ns, sessionId: id, package: "myData" })).data).to.deep.equal({
        info: "stored in memcache",
      });
    });

    it("lists the session, as items() does", async () => {
      // >>> sessionData.items() -> [('mySessionId', )]
      const listed = await env.sessiond.call("listSessions", { namespace: ns });
      expect(listed.sessions.map((s) => s.sessionId)).to.deep.equal([id]);
      expect(listed.sessions[0]!.packages).to.include("myData");
      expect(listed.nextPageToken).to.equal("");
    });

    it("rolls back to one savepoint twice and commits what was kept", async () => {
      const tx = env.sessiond.stream();
      await tx.send(op("begin", { namespace: ns, sessionId: id }));
      // >>> data['info'] = 'we want to keep this'
      await tx.send(op("set", { package: "myData", data: { info: "we want to keep this" } }));
      // >>> savepoint = transaction.savepoint()
      const sp = await tx.send(op("savepoint"));
      expect(sp.result.case).to.equal("savepoint");
      const savepointId = (sp.result.value as { savepointId: number }).savepointId;
      // >>> data['info'] = 'this should be dumped'
      await tx.send(op("set", { package: "myData", data: { info: "this should be dumped" } }));
      // >>> savepoint.rollback()
      expect((await tx.send(op("rollback", { savepointId }))).result.case).to.equal("rollback");
      // >>> data['info'] -> 'we want to keep this'
      expect((await tx.send(op("get", { package: "myData", keys: ["info"] }))).result.value).to.deep.include({
        data: { info: "we want to keep this" },
      });
      // >>> data['newinfo'] = 'go away'; newdata = session['myNewData']; newdata['foo'] = 'bar'
      await tx.send(op("set", { package: "myData", data: { newinfo: "go away" } }));
      await tx.send(op("set", { package: "myNewData", data: { foo: "bar" } }));
      // >>> savepoint.rollback(), a second time to the same savepoint
      const again = await tx.send(op("rollback", { savepointId }));
      expect(again.error).to.equal(undefined);
      // >>> data['newinfo'] -> KeyError: the key is gone
      expect((await tx.send(op("get", { package: "myData", keys: ["newinfo"] }))).result.value).to.deep.include({ data: {} });
      // >>> session['myNewData'] is empty
      expect((await tx.send(op("get", { package: "myNewData" }))).result.value).to.deep.include({ data: {} });
      // >>> transaction.commit()
      expect((await tx.send(op("commit"))).result.case).to.equal("commit");
      await tx.end();

      // >>> session['myData'] -> {'info': 'we want to keep this'}, and no newinfo
      expect((await env.sessiond.call("get", { namespace: ns, sessionId: id, package: "myData" })).data).to.deep.equal({
        info: "we want to keep this",
      });
      // >>> session['myNewData'] is empty
      expect((await env.sessiond.call("get", { namespace: ns, sessionId: id, package: "myNewData" })).data).to.deep.equal({});
      const listed = await env.sessiond.call("listSessions", { namespace: ns });
      expect(listed.sessions[0]!.packages).to.deep.equal(["myData"]);
    });
  });
});
