// Each resource bound of sessiond, set by its flag, hit on purpose: it answers with its documented code.

import { type ServiceError, status } from "@grpc/grpc-js";
import { expect } from "chai";
import { pino } from "pino";
import { loadConfig } from "../server/config/config.js";
import { createSessiond, type Sessiond } from "../server/sessiond.js";
import { startMemcached } from "./helpers/memcached.js";
import { connectSessionClient, type SessionClient, spawnProcess } from "./helpers/ops-process.js";
import { op } from "./helpers/sessiond.js";
import { eventually, sleep } from "./helpers/wait.js";

const ns = "BoundsNamespace";

describe("resource bounds", function () {
  this.timeout(30_000);
  let sessiond: Sessiond | undefined;
  let client: SessionClient | undefined;

  async function start(flags: string[]): Promise<string> {
    const config = loadConfig(["--listen", "127.0.0.1:0", ...flags], {});
    sessiond = createSessiond(config, pino({ level: process.env.SESSIOND_TEST_LOG ?? "silent" }));
    const address = await sessiond.start();
    client = connectSessionClient(address);
    return address;
  }

  afterEach(async () => {
    client?.close();
    await sessiond?.stop("test over");
    sessiond = undefined;
  });

  it("refuses a message over --max-message-bytes with RESOURCE_EXHAUSTED", async () => {
    await start(["--max-message-bytes", "65536"]);
    await client!.call("set", { namespace: ns, sessionId: "s", package: "p", data: { small: "x".repeat(10_000) } });

    const err = (await client!
      .call("set", { namespace: ns, sessionId: "s", package: "p", data: { big: "x".repeat(100_000) } })
      .catch((e: ServiceError) => e)) as ServiceError;

    expect(err.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(await client!.call("get", { namespace: ns, sessionId: "s", package: "p", keys: ["big"] }))
      .to.have.property("data")
      .that.deep.equals({});
  });

  it("discards a transaction idle past --idle-timeout and ends its stream with DEADLINE_EXCEEDED", async () => {
    await start(["--idle-timeout", "0.3"]);
    const tx = client!.stream();
    await tx.send(op("begin", { namespace: ns, sessionId: "idle" }));
    await tx.send(op("set", { package: "cart", data: { items: 7 } }));

    const ended = await tx.ended; // no more ops: the idle timeout ends it

    expect(ended.code).to.equal(status.DEADLINE_EXCEEDED);
    expect(ended.details).to.match(/idle/);
    expect(sessiond!.server.registry.openTransactions).to.equal(0);
    expect((await client!.call("get", { namespace: ns, sessionId: "idle", package: "cart" })).data).to.deep.equal({});
  });

  it("keeps a transaction that sends ops more often than --idle-timeout", async () => {
    await start(["--idle-timeout", "1"]);
    // Real time on purpose: the idle timeout is the stream registry's wall-clock sweep, so the ops must
    // really outlast it (1.5 s of ops, each 100 ms after the last).
    const tx = client!.stream();
    await tx.send(op("begin", { namespace: ns, sessionId: "busy" }));
    for (let i = 0; i < 15; i++) {
      expect((await tx.send(op("set", { package: "cart", data: { step: i } }))).result.case).to.equal("set");
      await sleep(100);
    }
    expect((await tx.send(op("commit"))).error).to.equal(undefined);
    expect((await client!.call("get", { namespace: ns, sessionId: "busy", package: "cart" })).data).to.deep.equal({ step: 14 });
    await tx.end();
  });

  it("answers begin past --max-transactions with RESOURCE_EXHAUSTED and keeps the stream open", async () => {
    await start(["--max-transactions", "2"]);
    const [first, second, third] = [client!.stream(), client!.stream(), client!.stream()];
    expect((await first.send(op("begin", { namespace: ns, sessionId: "a" }))).result.case).to.equal("begin");
    expect((await second.send(op("begin", { namespace: ns, sessionId: "b" }))).result.case).to.equal("begin");

    const refused = await third.send(op("begin", { namespace: ns, sessionId: "c" }));
    expect(refused.error?.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(refused.error?.message).to.match(/--max-transactions/);

    expect((await first.send(op("commit"))).error).to.equal(undefined);
    expect((await third.send(op("begin", { namespace: ns, sessionId: "c" }))).result.case).to.equal("begin");
    await Promise.all([first.end(), second.end(), third.end()]);
  });

  it("refuses a session over --max-item-bytes with RESOURCE_EXHAUSTED, keeping what was stored", async () => {
    await start(["--max-item-bytes", "8192"]);
    await client!.call("set", { namespace: ns, sessionId: "big", package: "p", data: { small: "x".repeat(1000) } });

    const err = (await client!
      .call("set", { namespace: ns, sessionId: "big", package: "p", data: { large: "x".repeat(20_000) } })
      .catch((e: ServiceError) => e)) as ServiceError;

    expect(err.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(Object.keys((await client!.call("get", { namespace: ns, sessionId: "big", package: "p" })).data ?? {})).to.deep.equal([
      "small",
    ]);
  });

  it("answers UNAVAILABLE when memcached does not answer within --memcached-timeout", async () => {
    const memcached = await startMemcached();
    try {
      await start(["--memcached", memcached.address, "--memcached-timeout", "300", "--health-interval", "3600"]);
      await client!.call("get", { namespace: ns, sessionId: "s", package: "p" });
      await memcached.pause(); // accepts connections, answers nothing: a hung server

      const err = (await client!
        .call("get", { namespace: ns, sessionId: "s2", package: "p" })
        .catch((e: ServiceError) => e)) as ServiceError;

      expect(err.code).to.equal(status.UNAVAILABLE);
      expect(err.details).to.match(/unavailable/i);
    } finally {
      memcached.resume();
      client?.close();
      await sessiond?.stop("test over");
      sessiond = undefined;
      await memcached.stop();
    }
  });

  it("notices a client that stopped answering through --keepalive and discards its transaction", async () => {
    const address = await start(["--keepalive", "0.2", "--keepalive-timeout", "0.2", "--idle-timeout", "0"]);
    const stalled = spawnProcess(process.execPath, [
      "--import",
      "tsx",
      "test/helpers/ops-stalled-client.ts",
      address,
      ns,
      "stalled",
    ]);
    try {
      const ready = await stalled.waitForLog((l) => l.msg === "ready");
      expect(ready).to.include({ begin: "begin", set: "set" });
      expect(sessiond!.server.registry.openTransactions).to.equal(1);

      stalled.child.kill("SIGSTOP"); // the client's machine is gone: it answers no more pings

      await eventually(
        "keepalive to notice the stopped client and discard its transaction",
        () => sessiond!.server.registry.openTransactions === 0,
        {
          timeoutMs: 10_000,
          intervalMs: 50,
        },
      );
      expect((await client!.call("get", { namespace: ns, sessionId: "stalled", package: "cart" })).data).to.deep.equal({});
    } finally {
      stalled.child.kill("SIGKILL");
      await stalled.exited;
    }
  });
});
