// Graceful shutdown of the real process (`node --import tsx server/main.ts serve`): SIGTERM and SIGINT
// stop it accepting, let unary calls in flight finish, end open transactions with UNAVAILABLE (nothing of
// them written), force the rest after the grace period, and exit 0. memcached is then read directly.

import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { Keys } from "../server/core/keys.js";
import { createMemcachedStore } from "../server/store/memcached-store.js";
import type { Store } from "../server/store/store.js";
import { type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import { connectSessionClient, type SessionClient, startSessiondProcess } from "./helpers/ops-process.js";
import { op } from "./helpers/sessiond.js";
import { sleep } from "./helpers/wait.js";

const ns = "ShutdownNamespace";

describe("graceful shutdown of the sessiond process", function () {
  this.timeout(30_000);
  let memcached: MemcachedProcess;
  let direct: Store;
  const clients: SessionClient[] = [];

  // storedSession reads a session's record from memcached itself, as sessiond lays it out (keys.ts).
  async function storedSession(sessionId: string) {
    const generation = await direct.get(direct.replicaKeys(`sd1:${ns}:gen`)[0]!);
    if (generation === undefined) return undefined;
    return direct.get(new Keys("sd1").session(ns, Buffer.from(generation.value).toString("latin1"), sessionId));
  }

  before(async () => {
    memcached = await startMemcached();
    direct = createMemcachedStore({ servers: [memcached.address] });
  });
  afterEach(() => {
    memcached.resume();
    for (const c of clients.splice(0)) c.close();
  });
  after(async () => {
    await direct?.close();
    await memcached?.stop();
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`exits 0 on ${signal}, ending an open transaction with UNAVAILABLE and writing nothing of it`, async () => {
      const sessiond = await startSessiondProcess(["--memcached", memcached.address]);
      const client = connectSessionClient(sessiond.address);
      clients.push(client);
      const committed = `committed-before-${signal}`;
      const open = `open-at-${signal}`;
      await client.call("set", { namespace: ns, sessionId: committed, package: "cart", data: { items: 1 } });
      const tx = client.stream();
      expect((await tx.send(op("begin", { namespace: ns, sessionId: open }))).result.case).to.equal("begin");
      expect((await tx.send(op("set", { package: "cart", data: { items: 99 } }))).result.case).to.equal("set");

      sessiond.child.kill(signal);

      const ended = await tx.ended;
      expect(ended.code).to.equal(status.UNAVAILABLE);
      expect(ended.details).to.match(/shutting down/);
      expect(await sessiond.waitForExit()).to.deep.equal({ code: 0, signal: null });
      expect(sessiond.lines.map((l) => l.msg)).to.include.members(["sessiond started", "sessiond stopping", "sessiond stopped"]);
      // memcached, read directly: the session written before the signal is there, the open one is not.
      expect(await storedSession(committed)).to.not.equal(undefined);
      expect(await storedSession(open)).to.equal(undefined);
    });
  }

  it("lets a unary call in flight finish before it exits", async () => {
    const sessiond = await startSessiondProcess([
      "--memcached",
      memcached.address,
      "--memcached-timeout",
      "20000",
      "--grace",
      "20",
    ]);
    const client = connectSessionClient(sessiond.address);
    clients.push(client);
    await client.call("get", { namespace: ns, sessionId: "warm-up", package: "p" });
    await memcached.pause();
    const inFlight = client.call("set", { namespace: ns, sessionId: "in-flight", package: "cart", data: { items: 3 } });
    // Bounded settle: give the call time to reach the server before the signal (loopback takes < 1 ms).
    await sleep(300);

    sessiond.child.kill("SIGTERM");
    await sessiond.waitForLog((l) => l.msg === "sessiond stopping");
    memcached.resume();

    await inFlight; // answered OK, although the server was draining
    expect(await sessiond.waitForExit()).to.deep.equal({ code: 0, signal: null });
    expect(await storedSession("in-flight")).to.not.equal(undefined);
  });

  it("cancels calls still in flight once the grace period is over, and still exits 0", async () => {
    const sessiond = await startSessiondProcess([
      "--memcached",
      memcached.address,
      "--memcached-timeout",
      "20000",
      "--grace",
      "0.5",
    ]);
    const client = connectSessionClient(sessiond.address);
    clients.push(client);
    await client.call("get", { namespace: ns, sessionId: "warm-up", package: "p" });
    await memcached.pause();
    const stuck = client.call("set", { namespace: ns, sessionId: "stuck", package: "cart", data: { items: 4 } }).then(
      () => ({ code: status.OK }),
      (err: { code: number }) => ({ code: err.code }),
    );
    await sleep(300);

    sessiond.child.kill("SIGTERM");

    // memcached stays frozen: only the grace period can end this call and let the process exit.
    expect(await sessiond.waitForExit(10_000)).to.deep.equal({ code: 0, signal: null });
    expect((await stuck).code).to.be.oneOf([status.CANCELLED, status.UNAVAILABLE]);
    expect(sessiond.lines.some((l) => l.msg === "grace period over: cancelling calls still in flight")).to.equal(true);
  });
});
