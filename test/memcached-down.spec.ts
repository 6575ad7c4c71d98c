// When memcached is down, calls fail fast with UNAVAILABLE; when it returns, they work again, no restart.

import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { useSessiond } from "./helpers/fixture.js";
import { op } from "./helpers/sessiond.js";
import { eventually, fakeClock } from "./helpers/wait.js";

const ns = "Outage";

async function failure(promise: Promise<unknown>): Promise<{ code: number; details: string; ms: number }> {
  const started = Date.now();
  try {
    await promise;
  } catch (err) {
    return { ...(err as { code: number; details: string }), ms: Date.now() - started };
  }
  throw new Error("expected the call to fail");
}

describe("memcached down and back", function () {
  this.timeout(30_000);
  const clock = fakeClock();
  const env = useSessiond({ core: { now: clock.now } });

  before(async () => {
    await env.sessiond.call("set", { namespace: ns, sessionId: "u", package: "p", data: { v: 1 } });
  });

  it("answers UNAVAILABLE within a bounded time while memcached is stopped", async () => {
    await env.memcached.stop();
    for (const call of [
      () => env.sessiond.call("get", { namespace: ns, sessionId: "u", package: "p" }),
      () => env.sessiond.call("set", { namespace: ns, sessionId: "u", package: "p", data: { v: 2 } }),
      () => env.sessiond.call("listSessions", { namespace: ns }),
      () => env.sessiond.call("createSession", { namespace: ns }),
    ]) {
      const err = await failure(call());
      expect(err.code, err.details).to.equal(status.UNAVAILABLE);
      expect(err.details).to.match(/session storage is unavailable/);
      // The caller learns nothing of the storage's address (the server log has it).
      expect(err.details).to.not.include(String(env.memcached.port)).and.not.include(env.memcached.host);
      expect(err.ms).to.be.below(5000);
    }
    const tx = env.sessiond.stream();
    const begin = await tx.send(op("begin", { namespace: ns, sessionId: "u" }));
    expect(begin.error?.code).to.equal(status.UNAVAILABLE);
    await tx.end();
  });

  it("answers UNAVAILABLE when memcached hangs, bounded by the command timeout", async () => {
    await env.memcached.restart();
    await env.sessiond.call("set", { namespace: ns, sessionId: "u", package: "p", data: { v: 3 } });
    await env.memcached.pause();
    try {
      const err = await failure(env.sessiond.call("get", { namespace: ns, sessionId: "u", package: "p" }));
      expect(err.code, err.details).to.equal(status.UNAVAILABLE);
      expect(err.ms).to.be.below(5000);
    } finally {
      env.memcached.resume();
    }
  });

  it("works again once memcached is back, with no restart of sessiond", async () => {
    let data: unknown;
    // The first call after the outage may still meet the old connection; a few tries are allowed.
    await eventually(
      "a set and a get to pass after memcached is back",
      async () => {
        await env.sessiond.call("set", { namespace: ns, sessionId: "u", package: "p", data: { v: 4 } });
        data = (await env.sessiond.call("get", { namespace: ns, sessionId: "u", package: "p" })).data;
      },
      { intervalMs: 100 },
    );
    expect(data).to.deep.equal({ v: 4 });
  });
});
