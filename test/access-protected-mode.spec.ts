// Protected mode: with no `access` section, sessiond answers only loopback callers. A caller on another
// host (a network namespace of the test's own) gets PERMISSION_DENIED telling it how to open sessiond,
// except for health and reflection; `--open-access` lets it in on purpose, with one warning at start; an
// `access` section governs whoever calls, from anywhere.

import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { createAccessControl, PROTECTED_MODE_MESSAGE } from "../server/access/access-control.js";
import { parseAccess } from "../server/access/access-rules.js";
import { isLoopbackPeer } from "../server/access/loopback.js";
import { loadConfig } from "../server/config/config.js";
import { createSessiond } from "../server/sessiond.js";
import { captureLogger, connectRaw } from "./helpers/access.js";
import { createRemoteHost, type RemoteHost } from "./helpers/remote-host.js";
import { type RunningSessiond, startSessiond } from "./helpers/sessiond.js";

const SERVICES = JSON.stringify(["sessiond.v1.SessionService", "grpc.health.v1.Health"]);
const anonymousOnCart = parseAccess([{ identity: "anonymous", namespaces: ["Cart"], allow: ["read", "write"] }], "test");

describe("protected mode", function () {
  this.timeout(60_000);

  it("takes loopback callers for what they are, and nothing else", () => {
    for (const peer of ["127.0.0.1:5301", "127.8.9.10:1", "::1:5301", "[::1]:5301", "::ffff:127.0.0.1:5301"]) {
      expect(isLoopbackPeer(peer), peer).to.equal(true);
    }
    for (const peer of ["10.213.19.2:5301", "::ffff:10.0.0.1:5301", "128.0.0.1:5301", "fe80::1:5301", "unknown", ""]) {
      expect(isLoopbackPeer(peer), peer).to.equal(false);
    }
  });

  it("admits other addresses once an access section exists, and bars them again when SIGHUP removes it", () => {
    const { logger } = captureLogger();
    const access = createAccessControl({ tokens: [], access: undefined }, logger);
    expect(access.mode).to.equal("loopback");
    expect(access.admit("127.0.0.1:1")).to.equal(undefined);
    expect(access.admit("10.213.19.2:1")).to.deep.equal({ code: status.PERMISSION_DENIED, details: PROTECTED_MODE_MESSAGE });
    access.update({ tokens: [], access: anonymousOnCart });
    expect([access.mode, access.admit("10.213.19.2:1")]).to.deep.equal(["rules", undefined]);
    access.update({ tokens: [], access: undefined });
    expect(access.admit("10.213.19.2:1")?.code).to.equal(status.PERMISSION_DENIED);
    const open = createAccessControl({ tokens: [], access: undefined }, logger, { openAccess: true });
    expect([open.mode, open.admit("10.213.19.2:1")]).to.deep.equal(["open", undefined]);
  });

  it("reads --open-access as a switch, SESSIOND_OPEN_ACCESS and the config file as true or false", () => {
    expect(loadConfig([], {}).openAccess).to.equal(false);
    expect(loadConfig(["--open-access"], {}).openAccess).to.equal(true);
    expect(loadConfig([], { SESSIOND_OPEN_ACCESS: "true" }).openAccess).to.equal(true);
    expect(loadConfig([], { SESSIOND_OPEN_ACCESS: "false" }).openAccess).to.equal(false);
    expect(() => loadConfig([], { SESSIOND_OPEN_ACCESS: "yes" })).to.throw("SESSIOND_OPEN_ACCESS");
  });

  it("says at start who may call: loopback callers only, or everyone with --open-access", async () => {
    for (const [flags, mode, warning] of [
      [[], "loopback", /^no access section in the config file: only loopback callers are answered/],
      [["--open-access"], "open", /^--open-access and no access section in the config file: every caller, from any address/],
    ] as const) {
      const { logger, lines } = captureLogger();
      const sessiond = createSessiond(loadConfig(["--listen", "127.0.0.1:0", ...flags], {}), logger);
      await sessiond.start();
      await sessiond.stop("test");
      const accessWarnings = lines.filter((l) => l.level === 40 && /access/.test(String(l.msg)));
      expect(accessWarnings.map((l) => l.msg)).to.have.length(1);
      expect(String(accessWarnings[0]!.msg)).to.match(warning);
      expect(lines.find((l) => l.msg === "sessiond started")).to.deep.include({ access: mode });
    }
  });

  describe("a caller on another host", () => {
    let remote: RemoteHost;
    const servers: RunningSessiond[] = [];
    const serve = async (security: NonNullable<Parameters<typeof startSessiond>[0]>["security"]) => {
      const sessiond = await startSessiond({ listen: "0.0.0.0:0", ...(security ? { security } : {}) });
      servers.push(sessiond);
      return `${remote.hostAddress}:${sessiond.port}`;
    };
    before(() => {
      remote = createRemoteHost();
    });
    after(async () => {
      remote?.remove();
      await Promise.all(servers.map((s) => s.stop()));
    });

    it("gets PERMISSION_DENIED saying how to open sessiond, on every call and stream; health and reflection answer", async () => {
      const target = await serve(undefined);
      const outcomes = await remote.callFrom(target, "Cart");
      for (const call of ["createSession", "get", "transaction"] as const) {
        expect(outcomes[call], call).to.deep.equal({ code: status.PERMISSION_DENIED, details: PROTECTED_MODE_MESSAGE });
      }
      expect(PROTECTED_MODE_MESSAGE).to.include("access section").and.include("--open-access");
      expect(outcomes.health).to.deep.equal({ code: 0, details: JSON.stringify("SERVING") });
      expect(outcomes.reflection).to.deep.equal({ code: 0, details: SERVICES });
      // The same server answers a loopback caller.
      const local = connectRaw(servers.at(-1)!.address);
      expect((await local.call("createSession", { namespace: "Cart" })).sessionId).to.have.length.above(20);
      local.close();
    });

    it("is answered with --open-access", async () => {
      const { logger } = captureLogger();
      const target = await serve({
        access: createAccessControl({ tokens: [], access: undefined }, logger, { openAccess: true }),
      });
      const outcomes = await remote.callFrom(target, "Cart");
      expect([outcomes.createSession, outcomes.get, outcomes.transaction]).to.deep.equal([
        { code: 0, details: "true" },
        { code: 0, details: "{}" },
        { code: 0, details: "begin" },
      ]);
    });

    it("is held to the access section's rules, as any caller, once one exists", async () => {
      const { logger } = captureLogger();
      const access = createAccessControl({ tokens: [], access: anonymousOnCart }, logger);
      const target = await serve({ access });
      expect((await remote.callFrom(target, "Cart")).get).to.deep.equal({ code: 0, details: "{}" });
      const refused = (await remote.callFrom(target, "Billing")).get;
      expect(refused.code).to.equal(status.PERMISSION_DENIED);
      expect(refused.details).to.equal('identity "anonymous" lacks the read permission on namespace "Billing"');
    });
  });
});
