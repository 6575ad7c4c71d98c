// `sessiond serve --workers 2 --metrics HOST:PORT`: the primary serves the sum of both workers' metrics.

import { expect } from "chai";
import { type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import { connectSessionClient, type SessionClient, spawnProcess } from "./helpers/ops-process.js";
import { scrape, scrapeMetrics } from "./helpers/prometheus-text.js";

const SET = { grpc_type: "unary", grpc_service: "sessiond.v1.SessionService", grpc_method: "Set" };

describe("metrics with --workers", function () {
  this.timeout(90_000);
  let memcached: MemcachedProcess;
  before(async () => {
    memcached = await startMemcached();
  });
  after(() => memcached?.stop());

  it("serves, from the primary, sums that equal the calls made across both workers", async () => {
    const sessiond = spawnProcess(process.execPath, [
      ...["--import", "tsx", "server/main.ts", "serve", "--listen", "127.0.0.1:0", "--workers", "2"],
      ...["--memcached", memcached.address, "--metrics", "127.0.0.1:0", "--log-level", "debug"],
    ]);
    const clients: SessionClient[] = [];
    try {
      // Two workers compiling TypeScript at once start slowly on a busy machine.
      await sessiond.waitForLog((l) => l.msg === "sessiond cluster started", 60_000);
      // A worker logs "sessiond started" after the primary heard it listen: wait for the line, do not assume it.
      const address = (await sessiond.waitForLog((l) => l.msg === "sessiond started")).address as string;
      const served = await sessiond.waitForLog((l) => l.msg?.startsWith("sessiond cluster metrics served") === true);
      const metrics = served.metrics as string;
      expect(served.pid).to.equal(sessiond.child.pid);
      const workers = sessiond.lines.find((l) => l.msg === "sessiond cluster started")!.workers as number[];
      const before = await scrapeMetrics(metrics);
      expect(before.value("grpc_server_handled_total", SET)).to.equal(0);

      // Each client has a connection of its own, dealt round-robin; the first may all land on one worker
      // (it can listen before the other), so calls go on until both workers have answered some.
      const setCalls = () => sessiond.lines.filter((l) => l.msg === "call" && l.method === "Set");
      let calls = 0;
      for (let i = 0; i < 12 && (i < 4 || new Set(setCalls().map((l) => l.pid)).size < 2); i++) {
        const client = connectSessionClient(address, { "grpc.use_local_subchannel_pool": 1 });
        clients.push(client);
        for (let j = 0; j <= i % 3; j++) {
          await client.call("set", { namespace: "ClusterMetrics", sessionId: `s${i}`, package: "p", data: { j } });
          calls++;
        }
        for (const deadline = Date.now() + 5000; setCalls().length < calls && Date.now() < deadline; ) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      expect([...new Set(setCalls().map((l) => l.pid))].sort()).to.deep.equal([...workers].sort());

      const after = await scrapeMetrics(metrics);
      expect(after.value("grpc_server_started_total", SET)).to.equal(calls);
      expect(after.value("grpc_server_handled_total", { ...SET, grpc_code: "OK" })).to.equal(calls);
      expect(after.value("grpc_server_msg_received_total", SET)).to.equal(calls);
      expect(after.value("grpc_server_handling_seconds_count", SET)).to.equal(calls);
      expect(after.value("sessiond_open_transactions")).to.equal(0);
      expect((await scrape(metrics, "/nothing")).status).to.equal(404);
    } finally {
      for (const c of clients) c.close();
      sessiond.child.kill("SIGTERM");
    }
    expect(await sessiond.waitForExit()).to.deep.equal({ code: 0, signal: null });
  });
});
