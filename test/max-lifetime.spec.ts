// Absolute lifetime (--max-lifetime): a session older than that since its creation is gone however busy it
// is, rotation keeps its creation time, and expires_at is the earlier of idle and absolute expiry.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { pino } from "pino";
import { createSessionClient } from "../client/index.js";
import { ConfigError, loadConfig } from "../server/config/config.js";
import { createSessiond } from "../server/sessiond.js";
import { useSessiond } from "./helpers/fixture.js";
import { startMemcached } from "./helpers/memcached.js";
import { op } from "./helpers/sessiond.js";

const ns = "Absolute";
const ABORTED = 10;

describe("absolute lifetime, on an injected clock", () => {
  let clock = Date.now();
  const advance = (ms: number) => {
    clock += ms;
  };
  const env = useSessiond({ core: { now: () => clock, namespaces: { [ns]: { maxLifetimeSeconds: 2 } } } });
  const get = async (sessionId: string, namespace = ns) =>
    (await env.sessiond.call("get", { namespace, sessionId, package: "p" })).data;

  it("ends a session kept busy once it is 2 s old", async () => {
    const { sessionId } = await env.sessiond.call("createSession", { namespace: ns, principal: "mallory" });
    for (let elapsed = 0; elapsed <= 1600; elapsed += 400) {
      await env.sessiond.call("set", { namespace: ns, sessionId, package: "p", data: { elapsed } });
      expect(await get(sessionId), `at ${elapsed} ms`).to.deep.equal({ elapsed });
      advance(400);
    }
    advance(100); // 2.1 s since creation, last write 0.5 s ago
    expect(await get(sessionId)).to.deep.equal({});
    const listed = await env.sessiond.call("listPrincipalSessions", { namespace: ns, principal: "mallory" });
    expect(listed.sessions).to.deep.equal([]);
  });

  it("keeps the creation time through rotation, so rotating does not extend the lifetime", async () => {
    const { sessionId, handle } = await env.sessiond.call("createSession", { namespace: ns });
    await env.sessiond.call("set", { namespace: ns, sessionId, package: "p", data: { a: 1 } });
    advance(1500);
    const rotated = await env.sessiond.call("rotateSession", { namespace: ns, sessionId, principal: "nina" });
    expect(rotated.handle).to.equal(handle);
    const { session } = await env.sessiond.call("describeSession", { namespace: ns, sessionId: rotated.sessionId });
    expect(timestampMs(session!.expiresAt!)).to.equal(timestampMs(session!.createdAt!) + 2000);
    advance(600);
    expect(await get(rotated.sessionId)).to.deep.equal({});
  });

  it("refuses the commit of a transaction whose session reached its absolute lifetime since begin", async () => {
    const { sessionId } = await env.sessiond.call("createSession", { namespace: ns });
    await env.sessiond.call("set", { namespace: ns, sessionId, package: "p", data: { a: 1 } });
    const tx = env.sessiond.stream();
    await tx.send(op("begin", { namespace: ns, sessionId }));
    await tx.send(op("set", { package: "p", data: { a: 2 } }));
    advance(2100);
    const committed = await tx.send(op("commit"));
    expect(committed.error?.code, committed.error?.message).to.equal(ABORTED);
    expect(await get(sessionId)).to.deep.equal({});
    await tx.end();
  });

  it("gives expires_at as the earlier of idle and absolute expiry, and leaves other namespaces alone", async () => {
    const { sessionId } = await env.sessiond.call("createSession", { namespace: "Unbounded" });
    const { session } = await env.sessiond.call("describeSession", { namespace: "Unbounded", sessionId });
    expect(timestampMs(session!.expiresAt!)).to.equal(timestampMs(session!.lastAccessedAt!) + 3600_000);
    await env.sessiond.call("set", { namespace: "Unbounded", sessionId, package: "p", data: { a: 1 } });
    advance(10_000);
    expect(await get(sessionId, "Unbounded")).to.deep.equal({ a: 1 });
  });
});

describe("sessiond serve --max-lifetime 2, on the wall clock", function () {
  this.timeout(20_000);

  it("ends a session written every 300 ms after 2 s, rotation included", async () => {
    const memcached = await startMemcached();
    const config = loadConfig(["--max-lifetime", "2", "--listen", "127.0.0.1:0", "--memcached", memcached.address], {});
    expect(config.maxLifetimeSeconds).to.equal(2);
    const sessiond = createSessiond(config, pino({ level: "silent" }));
    const client = createSessionClient(await sessiond.start());
    try {
      let session = await client.createSession("Wall", { principal: "olga" });
      const started = Date.now();
      let goneAfterMs = Infinity;
      await session.set("p", { i: 0 });
      for (let i = 1; Date.now() - started < 4000; i++) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        if (Object.keys(await session.get("p")).length === 0) {
          goneAfterMs = Date.now() - started;
          break;
        }
        if (i === 3) session = await session.rotate();
        await session.set("p", { i });
      }
      // Busy every 300 ms, rotated once, and still gone 2 s after creation (memcached is not involved: the
      // record's creation time is the clock).
      expect(goneAfterMs).to.be.within(1500, 2700);
    } finally {
      client.close();
      await sessiond.stop("test over");
      await memcached.stop();
    }
  });
});

describe("max-lifetime settings", () => {
  it("reads --max-lifetime, SESSIOND_MAX_LIFETIME and a namespace's max-lifetime in the config file", () => {
    const dir = mkdtempSync(join(tmpdir(), "sessiond-max-lifetime-"));
    const file = join(dir, "sessiond.json");
    writeFileSync(file, JSON.stringify({ namespaces: { Bank: { timeout: 900, "max-lifetime": 28800 } } }));
    expect(loadConfig([], {}).maxLifetimeSeconds).to.equal(0);
    expect(loadConfig([], { SESSIOND_MAX_LIFETIME: "86400" }).maxLifetimeSeconds).to.equal(86400);
    expect(loadConfig(["--config", file], {}).namespaces).to.deep.equal({
      Bank: { timeoutSeconds: 900, maxLifetimeSeconds: 28800 },
    });
    writeFileSync(file, JSON.stringify({ namespaces: { Bank: { "max-lifetime": -1 } } }));
    expect(() => loadConfig(["--config", file], {})).to.throw(ConfigError, /max-lifetime/);
    expect(() => loadConfig(["--max-lifetime", "soon"], {})).to.throw(ConfigError, /--max-lifetime/);
  });
});
