// `sessiond serve --metrics HOST:PORT`: go-grpc-prometheus's metrics and sessiond's own, scraped from a real
// process after a known mix of calls; each counter moves by exactly what was done.

import { createServer } from "node:net";
import { Client, credentials, status } from "@grpc/grpc-js";
import { expect } from "chai";
import { ConfigError, loadConfig } from "../server/config/config.js";
import { type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import {
  connectSessionClient,
  type SessionClient,
  type SessiondProcess,
  spawnProcess,
  startSessiondProcess,
} from "./helpers/ops-process.js";
import { type Exposition, scrape, scrapeMetrics } from "./helpers/prometheus-text.js";
import { op } from "./helpers/sessiond.js";

const ns = "Metrics";
const SERVICE = "sessiond.v1.SessionService";
const unary = (method: string) => ({ grpc_type: "unary", grpc_service: SERVICE, grpc_method: method });
const TRANSACTION = { grpc_type: "bidi_stream", grpc_service: SERVICE, grpc_method: "Transaction" };

async function failure(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (err) {
    return (err as { code: number }).code;
  }
  throw new Error("expected the call to fail");
}

describe("metrics (--metrics)", function () {
  this.timeout(40_000);
  let memcached: MemcachedProcess;
  let sessiond: SessiondProcess & { address: string };
  let client: SessionClient;
  let metricsAddress: string;
  const scrapeNow = () => scrapeMetrics(metricsAddress);
  /** moved runs `what` and returns how much each sample moved (after minus before). */
  const moved = async (what: () => Promise<void>) => {
    const before = await scrapeNow();
    await what();
    const after = await scrapeNow();
    return (name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels);
  };

  before(async () => {
    memcached = await startMemcached();
    // No periodic health pings: every memcached command counted below comes from the calls the test makes.
    sessiond = await startSessiondProcess([
      "--memcached",
      memcached.address,
      "--metrics",
      "127.0.0.1:0",
      "--health-interval",
      "3600",
    ]);
    metricsAddress = sessiond.lines.find((l) => l.msg === "sessiond started")!.metrics as string;
    client = connectSessionClient(sessiond.address);
  });
  after(async () => {
    client?.close();
    sessiond?.child.kill("SIGTERM");
    await sessiond?.waitForExit();
    await memcached?.stop();
  });

  it("serves Prometheus text at /metrics, with the process and Node.js metrics, and 404 elsewhere", async () => {
    expect(metricsAddress).to.match(/^127\.0\.0\.1:\d+$/);
    expect((await scrape(metricsAddress, "/")).status).to.equal(404);
    expect((await scrape(metricsAddress, "/metrics/x")).status).to.equal(404);
    const res = await scrape(metricsAddress);
    expect(res.status).to.equal(200);
    expect(res.contentType).to.match(/^text\/plain; version=0\.0\.4/);
    const text: Exposition = await scrapeNow();
    expect(text.types.get("process_cpu_user_seconds_total")).to.equal("counter");
    expect(text.types.get("nodejs_eventloop_lag_seconds")).to.equal("gauge");
    expect(text.types.get("sessiond_open_transactions")).to.equal("gauge");
    expect(text.types.get("sessiond_commits_total")).to.equal("counter");
    expect(text.value("sessiond_commits_total", { result: "conflict" })).to.equal(0);
    // Every method's series exist from the start, at 0 before any call (go-grpc-prometheus's InitializeMetrics).
    const rotate = text.samples.filter((s) => s.name === "grpc_server_handled_total" && s.labels.grpc_method === "RotateSession");
    expect(rotate.map((s) => s.labels.grpc_code)).to.include.members(["OK", "InvalidArgument", "Unavailable"]);
    expect(rotate.every((s) => s.value === 0 && s.labels.grpc_type === "unary")).to.equal(true);
    expect(text.value("grpc_server_started_total", TRANSACTION)).to.equal(0);
    expect(text.samples.some((s) => s.name === "grpc_server_started_total" && s.labels.grpc_method === "Transaction")).to.equal(
      true,
    );
  });

  it("counts every call by method and code, its messages, and its handling time", async () => {
    const d = await moved(async () => {
      for (let i = 0; i < 2; i++) await client.call("set", { namespace: ns, sessionId: "mix", package: "p", data: { i } });
      for (let i = 0; i < 3; i++) await client.call("get", { namespace: ns, sessionId: "mix", package: "p" });
      expect(await failure(client.call("get", { namespace: "", sessionId: "mix", package: "p" }))).to.equal(
        status.INVALID_ARGUMENT,
      );
    });
    expect(d("grpc_server_started_total", unary("Get"))).to.equal(4);
    expect(d("grpc_server_handled_total", { ...unary("Get"), grpc_code: "OK" })).to.equal(3);
    expect(d("grpc_server_handled_total", { ...unary("Get"), grpc_code: "InvalidArgument" })).to.equal(1);
    expect(d("grpc_server_handled_total", { ...unary("Set"), grpc_code: "OK" })).to.equal(2);
    expect(d("grpc_server_handled_total", unary("Set"))).to.equal(2);
    expect(d("grpc_server_msg_received_total", unary("Get"))).to.equal(4);
    expect(d("grpc_server_msg_sent_total", unary("Get"))).to.equal(3); // no answer to the failed call
    expect(d("grpc_server_handling_seconds_count", unary("Get"))).to.equal(4);
    expect(d("grpc_server_handling_seconds_sum", unary("Get"))).to.be.above(0);
    // Each call read the session from memcached, and each Set wrote it.
    expect(d("sessiond_store_command_seconds_count", { server: memcached.address, command: "gets" })).to.be.at.least(5);
    expect(
      d("sessiond_store_command_seconds_count", { command: "add" }) +
        d("sessiond_store_command_seconds_count", { command: "cas" }),
    ).to.be.at.least(2);
    expect(d("sessiond_store_errors_total")).to.equal(0);
  });

  it("counts a Transaction stream's ops as messages and its commits by result, a lost race as a conflict", async () => {
    await client.call("set", { namespace: ns, sessionId: "race", package: "p", data: { v: 0 } });
    const d = await moved(async () => {
      const a = client.stream();
      const b = client.stream();
      await a.send(op("begin", { namespace: ns, sessionId: "race" }));
      await b.send(op("begin", { namespace: ns, sessionId: "race" }));
      await a.send(op("set", { package: "p", data: { v: 1 } }));
      await b.send(op("set", { package: "p", data: { v: 2 } }));
      expect((await a.send(op("commit"))).error).to.equal(undefined);
      expect((await b.send(op("commit"))).error?.code).to.equal(status.ABORTED);
      expect((await b.send(op("commit"))).error?.code).to.equal(status.FAILED_PRECONDITION); // no open transaction
      expect((await a.end()).code).to.equal(status.OK);
      expect((await b.end()).code).to.equal(status.OK);
    });
    expect(d("sessiond_commits_total", { result: "ok" })).to.equal(1);
    expect(d("sessiond_commits_total", { result: "conflict" })).to.equal(1);
    expect(d("sessiond_commits_total", { result: "error" })).to.equal(1);
    expect(d("grpc_server_started_total", TRANSACTION)).to.equal(2);
    expect(d("grpc_server_handled_total", { ...TRANSACTION, grpc_code: "OK" })).to.equal(2);
    expect(d("grpc_server_msg_received_total", TRANSACTION)).to.equal(7);
    expect(d("grpc_server_msg_sent_total", TRANSACTION)).to.equal(7);
  });

  it("follows open transactions with sessiond_open_transactions", async () => {
    const open = async () => (await scrapeNow()).value("sessiond_open_transactions");
    const d = await moved(async () => {
      expect(await open()).to.equal(0);
      const a = client.stream();
      const b = client.stream();
      await a.send(op("begin", { namespace: ns, sessionId: "open-a" }));
      await b.send(op("begin", { namespace: ns, sessionId: "open-b" }));
      expect(await open()).to.equal(2);
      await a.send(op("commit"));
      expect(await open()).to.equal(1);
      b.call.cancel(); // the stream goes away with its transaction open: discarded
      expect((await b.ended).code).to.equal(status.CANCELLED);
      for (let i = 0; i < 100 && (await open()) !== 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await open()).to.equal(0);
      await a.end();
    });
    // Each stream is handled once, the cancelled one too (with the status its handler ended it with: the
    // client's cancel reaches the handler as the end of its requests, which it answers OK, before the
    // stream's close is told).
    expect(d("grpc_server_started_total", TRANSACTION)).to.equal(2);
    expect(d("grpc_server_handled_total", TRANSACTION)).to.equal(2);
  });

  it("counts a stream whose deadline passes as DeadlineExceeded, once, with its handling time", async () => {
    const d = await moved(async () => {
      const late = client.stream(new Date(Date.now() + 300));
      await late.send(op("begin", { namespace: ns, sessionId: "late" }));
      expect((await late.ended).code).to.equal(status.DEADLINE_EXCEEDED);
      for (let i = 0; i < 100 && (await scrapeNow()).value("sessiond_open_transactions") !== 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
    });
    expect(d("grpc_server_started_total", TRANSACTION)).to.equal(1);
    expect(d("grpc_server_handled_total", TRANSACTION)).to.equal(1);
    expect(d("grpc_server_handled_total", { ...TRANSACTION, grpc_code: "DeadlineExceeded" })).to.equal(1);
    expect(d("grpc_server_handling_seconds_count", TRANSACTION)).to.equal(1);
    expect(d("grpc_server_handling_seconds_sum", TRANSACTION)).to.be.within(0.2, 5);
  });

  it("keeps caller strings out of labels: an unknown method adds no series, names and ids appear in none", async () => {
    const raw = new Client(sessiond.address, credentials.createInsecure());
    try {
      const code = await new Promise<number>((resolve) =>
        raw.makeUnaryRequest(
          "/sessiond.v1.SessionService/NoSuchMethod",
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          (err) => resolve(err?.code ?? 0),
        ),
      );
      expect(code).to.equal(status.UNIMPLEMENTED);
    } finally {
      raw.close();
    }
    const values = (await scrapeNow()).samples.flatMap((sample) => Object.values(sample.labels));
    for (const caller of ["NoSuchMethod", ns, "mix", "race", "open-a", "open-b"]) expect(values).to.not.include(caller);
    expect(values.filter((v) => v.includes("NoSuchMethod"))).to.deep.equal([]);
  });

  it("counts a call whose deadline passed while memcached was frozen as DeadlineExceeded, not as its late answer", async () => {
    await memcached.pause();
    try {
      const d = await moved(async () => {
        const late = new Date(Date.now() + 300);
        const get = client.call("get", { namespace: ns, sessionId: "late", package: "p" }, late);
        expect(await failure(get)).to.equal(status.DEADLINE_EXCEEDED);
        // The handler answers later (memcached's timeout, 1 s): that answer must not count as the call's end.
        await new Promise((resolve) => setTimeout(resolve, 1500));
      });
      expect(d("grpc_server_handled_total", { ...unary("Get"), grpc_code: "DeadlineExceeded" })).to.equal(1);
      expect(d("grpc_server_handled_total", unary("Get"))).to.equal(1);
    } finally {
      memcached.resume();
      // Until the store answers again (its circuit breaker opened while memcached was frozen).
      for (let i = 0; i < 100; i++) {
        try {
          await client.call("get", { namespace: ns, sessionId: "late", package: "p" });
          break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    }
  });

  it("counts UNAVAILABLE calls and each failed memcached command of its server while memcached is stopped", async () => {
    await memcached.stop();
    try {
      const d = await moved(async () => {
        expect(await failure(client.call("get", { namespace: ns, sessionId: "mix", package: "p" }))).to.equal(status.UNAVAILABLE);
        // The failed call makes health check memcached at once; let that check end too.
        await new Promise((resolve) => setTimeout(resolve, 200));
      });
      expect(d("grpc_server_handled_total", { ...unary("Get"), grpc_code: "Unavailable" })).to.equal(1);
      const commands = d("sessiond_store_command_seconds_count", { server: memcached.address });
      expect(commands).to.be.at.least(1);
      // memcached was down for every command sent: each one is an error of that server.
      expect(d("sessiond_store_errors_total", { server: memcached.address })).to.equal(commands);
    } finally {
      await memcached.restart();
    }
  });
});

describe("the --metrics setting", function () {
  this.timeout(30_000);

  it("is off by default, and read from the flag or SESSIOND_METRICS as HOST:PORT", () => {
    expect(loadConfig([], {}).metrics).to.equal(undefined);
    expect(loadConfig(["--metrics", "0.0.0.0:9464"], {}).metrics).to.equal("0.0.0.0:9464");
    expect(loadConfig([], { SESSIOND_METRICS: "[::1]:9464" }).metrics).to.equal("[::1]:9464");
    expect(() => loadConfig(["--metrics", "9464"], {})).to.throw(ConfigError, /--metrics "9464" is not HOST:PORT/);
  });

  it("stops sessiond from starting (exit 1) when its address is taken", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const sessiond = spawnProcess(process.execPath, [
        ...["--import", "tsx", "server/main.ts", "serve", "--listen", "127.0.0.1:0", "--metrics", `127.0.0.1:${port}`],
      ]);
      expect((await sessiond.waitForExit(20_000)).code).to.equal(1);
      expect(sessiond.stderr()).to.match(/EADDRINUSE/);
    } finally {
      taken.close();
    }
  });
});
