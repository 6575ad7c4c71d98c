// grpc.health.v1.Health as a load balancer or Kubernetes sees it: SERVING while memcached answers,
// NOT_SERVING while it is down, SERVING again once it is back; sessiond assembled from its settings.

import {
  type Client,
  type ClientReadableStream,
  credentials,
  makeGenericClientConstructor,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { expect } from "chai";
import { service as healthService } from "grpc-health-check";
import { pino } from "pino";
import { loadConfig } from "../server/config/config.js";
// Importing the probe must not probe: it used to call and exit the process on import.
import { checkHealth } from "../server/health-probe.js";
import { createSessiond, type Sessiond } from "../server/sessiond.js";
import { type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import { connectSessionClient } from "./helpers/ops-process.js";
import { eventually } from "./helpers/wait.js";

const HealthClient = makeGenericClientConstructor(healthService, "Health");
type Health = Client & {
  check(req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void): void;
  watch(req: { service: string }): ClientReadableStream<{ status: string }>;
};

function check(client: Health, service = ""): Promise<string> {
  return new Promise((resolve, reject) => client.check({ service }, (err, res) => (err ? reject(err) : resolve(res.status))));
}

// until polls the health status until it is `want`, for at most timeoutMs (a bounded wait, not a timing claim).
async function until(client: Health, want: string, timeoutMs = 10_000): Promise<string> {
  let last = "";
  const answers = async () => {
    last = await check(client);
    return last === want;
  };
  // On a timeout the caller's assertion names the status it got instead.
  await eventually(`health to answer ${want}`, answers, { timeoutMs, intervalMs: 50 }).catch(() => undefined);
  return last;
}

describe("health follows memcached", function () {
  this.timeout(30_000);
  let memcached: MemcachedProcess;
  let sessiond: Sessiond;
  let health: Health;

  async function start(flags: string[]) {
    const config = loadConfig(
      ["--listen", "127.0.0.1:0", "--memcached", memcached.address, "--memcached-timeout", "500", ...flags],
      {},
    );
    sessiond = createSessiond(config, pino({ level: process.env.SESSIOND_TEST_LOG ?? "silent" }));
    const address = await sessiond.start();
    health = new HealthClient(address, credentials.createInsecure()) as unknown as Health;
    return address;
  }

  beforeEach(async () => {
    memcached = await startMemcached();
  });
  afterEach(async () => {
    health?.close();
    await sessiond?.stop("test over");
    await memcached?.stop();
  });

  it("serves SERVING while memcached answers, NOT_SERVING while it is down, and SERVING again when it is back", async () => {
    await start(["--health-interval", "0.2"]);
    expect(await check(health)).to.equal("SERVING");
    expect(await check(health, "sessiond.v1.SessionService")).to.equal("SERVING");
    const watched: string[] = [];
    const watch = health.watch({ service: "" });
    watch.on("data", (r: { status: string }) => watched.push(r.status));
    watch.on("error", () => {});

    await memcached.stop();
    expect(await until(health, "NOT_SERVING")).to.equal("NOT_SERVING");
    expect(await check(health, "sessiond.v1.SessionService")).to.equal("NOT_SERVING");

    await memcached.restart();
    expect(await until(health, "SERVING")).to.equal("SERVING");
    watch.cancel();
    // A Watch stream hears each change once: the status it started with, down, and up again.
    expect(watched).to.deep.equal(["SERVING", "NOT_SERVING", "SERVING"]);
  });

  it("turns NOT_SERVING as soon as a call finds memcached down, without waiting for the next poll", async () => {
    const address = await start(["--health-interval", "3600"]);
    const client = connectSessionClient(address);
    try {
      await memcached.stop();
      // No poll is due for an hour: nothing has looked at memcached yet.
      expect(await check(health)).to.equal("SERVING");

      const failed = await client.call("get", { namespace: "N", sessionId: "s", package: "p" }).catch((err: ServiceError) => err);
      expect((failed as ServiceError).code).to.equal(status.UNAVAILABLE);

      expect(await until(health, "NOT_SERVING", 5000)).to.equal("NOT_SERVING");
      await memcached.restart();
      expect(await sessiond.server.health.check()).to.equal("SERVING");
      expect(await check(health)).to.equal("SERVING");
    } finally {
      client.close();
    }
  });

  it("answers the Docker health probe SERVING while memcached answers, NOT_SERVING while it is down", async () => {
    const address = await start(["--health-interval", "0.2"]);
    expect(await checkHealth(address, 3000)).to.equal("SERVING");
    await memcached.stop();
    await until(health, "NOT_SERVING");
    expect(await checkHealth(address, 3000)).to.equal("NOT_SERVING");
  });

  it("answers NOT_SERVING and ends Watch streams when it drains", async () => {
    await start(["--health-interval", "0.2"]);
    const watch = health.watch({ service: "" });
    const statuses: string[] = [];
    watch.on("data", (r: { status: string }) => statuses.push(r.status));
    const ended = new Promise<number>((resolve) => watch.on("status", (s) => resolve(s.code)));
    watch.on("error", () => {});
    await until(health, "SERVING");

    await sessiond.stop("test drain");

    expect(await ended).to.equal(status.OK);
    expect(statuses).to.deep.equal(["SERVING", "NOT_SERVING"]);
  });
});
