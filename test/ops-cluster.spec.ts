// `sessiond serve --workers 2`: two processes on one port, node's cluster handing connections round-robin;
// SIGTERM to the primary drains both and exits 0.

import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import { connectSessionClient, type SessionClient, startSessiondProcess } from "./helpers/ops-process.js";
import { op } from "./helpers/sessiond.js";
import { eventually } from "./helpers/wait.js";

describe("sessiond serve --workers", function () {
  this.timeout(60_000);
  let memcached: MemcachedProcess;
  before(async () => {
    memcached = await startMemcached();
  });
  after(() => memcached?.stop());

  it("serves from two worker processes that share state through memcached, and drains both on SIGTERM", async () => {
    const sessiond = await startSessiondProcess(["--workers", "2", "--memcached", memcached.address, "--log-level", "debug"], {
      startedMessage: "sessiond cluster started",
      // Three processes each compile the TypeScript with tsx first: on a busy 2-core machine that took 15 s.
      startTimeoutMs: 30_000,
    });
    const workers = (sessiond.lines.find((l) => l.msg === "sessiond cluster started")!.workers as number[]).sort();
    expect(workers).to.have.length(2);
    expect(workers).to.not.include(sessiond.child.pid);

    // Each client gets its own connection (no shared subchannel), and cluster deals connections round-robin.
    const clients: SessionClient[] = [];
    const setCalls = () => sessiond.lines.filter((l) => l.msg === "call" && l.method === "Set");
    try {
      for (let i = 0; i < 8 && new Set(setCalls().map((l) => l.pid)).size < 2; i++) {
        const client = connectSessionClient(sessiond.address, { "grpc.use_local_subchannel_pool": 1 });
        clients.push(client);
        await client.call("set", {
          namespace: "Cluster",
          sessionId: "shared",
          package: "visits",
          data: { [`client${i}`]: true },
        });
        // The worker logs the call (debug) before it answers; wait until its line has come through the pipe.
        await eventually(`worker's log line of call ${i}`, () => setCalls().length > i);
      }
      expect([...new Set(setCalls().map((l) => l.pid))].sort()).to.deep.equal(workers);
      // Whichever worker answers, the session is the same: state lives in memcached.
      const seen = await Promise.all(
        clients.map((c) => c.call("get", { namespace: "Cluster", sessionId: "shared", package: "visits" })),
      );
      for (const answer of seen) expect(Object.keys(answer.data ?? {})).to.have.length(clients.length);

      const tx = clients[0]!.stream();
      await tx.send(op("begin", { namespace: "Cluster", sessionId: "open-at-stop" }));
      sessiond.child.kill("SIGTERM");
      expect((await tx.ended).code).to.equal(status.UNAVAILABLE);
    } finally {
      for (const c of clients) c.close();
    }
    expect(await sessiond.waitForExit()).to.deep.equal({ code: 0, signal: null });
    const stopped = sessiond.lines
      .filter((l) => l.msg === "sessiond stopped")
      .map((l) => l.pid)
      .sort();
    expect(stopped).to.deep.equal(workers);
    expect(sessiond.lines.some((l) => l.msg === "sessiond cluster stopped" && l.exitCode === 0)).to.equal(true);
  });
});
