// Sessions expire after their namespace's idle timeout; access slides the expiry.
import { expect } from "chai";
import { useSessiond } from "./helpers/fixture.js";

const ns = "Short";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("expiry", function () {
  this.timeout(30_000);
  const env = useSessiond({ core: { namespaces: { [ns]: { timeoutSeconds: 1.5, resolutionSeconds: 0.2 } } } });

  const get = (sessionId: string) => env.sessiond.call("get", { namespace: ns, sessionId, package: "p" });
  const listed = async () => (await env.sessiond.call("listSessions", { namespace: ns })).sessions.map((s) => s.sessionId);

  it("reads an idle session as empty once its timeout has passed, and stops listing it", async () => {
    await env.sessiond.call("set", { namespace: ns, sessionId: "idle", package: "p", data: { a: 1 } });
    expect((await get("idle")).data).to.deep.equal({ a: 1 });
    expect(await listed()).to.include("idle");
    await sleep(2500);
    expect((await get("idle")).data).to.deep.equal({});
    expect(await listed()).to.not.include("idle");
  });

  it("keeps a session alive while it is read more often than its timeout", async () => {
    await env.sessiond.call("set", { namespace: ns, sessionId: "busy", package: "p", data: { a: 1 } });
    // 3 s of reads every 400 ms: twice the timeout, each read refreshes (resolution 0.2 s).
    for (let i = 0; i < 8; i++) {
      await sleep(400);
      expect((await get("busy")).data, `read ${i}`).to.deep.equal({ a: 1 });
    }
    expect(await listed()).to.include("busy");
  });

  it("keeps other namespaces on the default timeout", async () => {
    await env.sessiond.call("set", { namespace: "Long", sessionId: "u", package: "p", data: { a: 1 } });
    await sleep(2000);
    expect((await env.sessiond.call("get", { namespace: "Long", sessionId: "u", package: "p" })).data).to.deep.equal({ a: 1 });
  });
});
