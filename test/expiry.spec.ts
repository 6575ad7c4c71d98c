// Sessions expire after their namespace's idle timeout; access slides the expiry, and a pure read refreshes
// only once the resolution has passed. On a fake clock: the core decides liveness by the record's own
// last-access time (memcached's expiry is only a backstop, minutes away here), so no test sleeps.
import { expect } from "chai";
import { useSessiond } from "./helpers/fixture.js";
import { fakeClock } from "./helpers/wait.js";

const ns = "Short";
const SECOND = 1000;

describe("expiry", () => {
  const clock = fakeClock();
  const env = useSessiond({
    core: { now: clock.now, namespaces: { [ns]: { timeoutSeconds: 60, resolutionSeconds: 10 } } },
  });

  const get = (sessionId: string) => env.sessiond.call("get", { namespace: ns, sessionId, package: "p" });
  const listed = async () => (await env.sessiond.call("listSessions", { namespace: ns })).sessions;
  const lastAccessMs = async (sessionId: string) => {
    const info = (await listed()).find((s) => s.sessionId === sessionId);
    return info?.lastAccessedAt === undefined
      ? undefined
      : Number(info.lastAccessedAt.seconds) * 1000 + info.lastAccessedAt.nanos / 1e6;
  };

  it("reads an idle session as empty once its timeout has passed, and stops listing it", async () => {
    await env.sessiond.call("set", { namespace: ns, sessionId: "idle", package: "p", data: { a: 1 } });
    clock.advance(59 * SECOND);
    expect((await get("idle")).data, "just inside the timeout").to.deep.equal({ a: 1 });
    expect((await listed()).map((s) => s.sessionId)).to.include("idle");
    clock.advance(61 * SECOND);
    expect((await get("idle")).data).to.deep.equal({});
    expect((await listed()).map((s) => s.sessionId)).to.not.include("idle");
  });

  it("keeps a session alive while it is read more often than its timeout", async () => {
    await env.sessiond.call("set", { namespace: ns, sessionId: "busy", package: "p", data: { a: 1 } });
    // 8 reads 20 s apart: 160 s, well past the 60 s timeout; each read is past the resolution, so it refreshes.
    for (let i = 0; i < 8; i++) {
      clock.advance(20 * SECOND);
      expect((await get("busy")).data, `read ${i}`).to.deep.equal({ a: 1 });
    }
    expect((await listed()).map((s) => s.sessionId)).to.include("busy");
  });

  it("refreshes on a read only once the last refresh is older than the resolution", async () => {
    await env.sessiond.call("set", { namespace: ns, sessionId: "resolved", package: "p", data: { a: 1 } });
    const written = clock.now();
    expect(await lastAccessMs("resolved")).to.equal(written);
    clock.advance(9 * SECOND);
    await get("resolved");
    expect(await lastAccessMs("resolved"), "a read within the resolution writes nothing").to.equal(written);
    clock.advance(2 * SECOND);
    await get("resolved");
    expect(await lastAccessMs("resolved"), "a read past the resolution refreshes").to.equal(clock.now());
  });

  it("keeps other namespaces on the default timeout", async () => {
    await env.sessiond.call("set", { namespace: "Long", sessionId: "u", package: "p", data: { a: 1 } });
    clock.advance(120 * SECOND);
    expect((await env.sessiond.call("get", { namespace: "Long", sessionId: "u", package: "p" })).data).to.deep.equal({ a: 1 });
  });
});
