// Secrets stay out of logs and errors: at --log-level debug, a run of every RPC (successes, bad input,
// refusals, conflicts, storage down) with a recognisable session id and token leaves neither in any log
// line; a keyed hash stands in for the session id; no error tells a caller where storage lives.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { createSessionClient } from "../client/index.js";
import { bearer, connectRaw, failure, sha256hex } from "./helpers/access.js";
import { type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import { type SessiondProcess, startSessiondProcess } from "./helpers/ops-process.js";
import { op } from "./helpers/sessiond.js";

const SESSION = "SeCrEt-SeSsIoN-4242";
const TOKEN = "ToKeN-sEcReT-9999";

describe("secrets out of logs and errors", function () {
  this.timeout(60_000);
  let memcached: MemcachedProcess;
  let proc: SessiondProcess & { address: string };

  before(async () => {
    memcached = await startMemcached();
    const config = join(mkdtempSync(join(tmpdir(), "sessiond-logs-")), "sessiond.yaml");
    writeFileSync(
      config,
      [
        "tokens:",
        `  - { identity: app, sha256: ${sha256hex(TOKEN)} }`,
        "access:",
        "  - { identity: app, namespaces: [Logs], allow: [read, write, admin] }",
      ].join("\n"),
    );
    proc = await startSessiondProcess(["--memcached", memcached.address, "--config", config, "--log-level", "debug"]);
  });
  after(async () => {
    proc.child.kill("SIGTERM");
    await proc.waitForExit();
    await memcached.stop();
  });

  it("logs no session id and no token through every RPC, failures included; a keyed hash correlates lines", async () => {
    const raw = connectRaw(proc.address);
    const auth = () => bearer(TOKEN);
    const ids = [SESSION];
    try {
      ids.push((await raw.call("createSession", { namespace: "Logs" }, auth())).sessionId);
      await raw.call("set", { namespace: "Logs", sessionId: SESSION, package: "p", data: { a: 1 } }, auth());
      await raw.call("get", { namespace: "Logs", sessionId: SESSION, package: "p" }, auth());
      await raw.call("delete", { namespace: "Logs", sessionId: SESSION, package: "p", keys: ["a"] }, auth());
      await raw.call("listSessions", { namespace: "Logs" }, auth());
      ids.push((await raw.call("rotateSession", { namespace: "Logs", sessionId: ids[1]! }, auth())).sessionId);
      // The principal RPCs: bind, describe, list, and (below, once the rest is done) revoke.
      await raw.call("setPrincipal", { namespace: "Logs", sessionId: SESSION, principal: "alice" }, auth());
      await raw.call("describeSession", { namespace: "Logs", sessionId: SESSION }, auth());
      await raw.call("listPrincipalSessions", { namespace: "Logs", principal: "alice" }, auth());
      await failure(raw.call("describeSession", { namespace: "Logs", sessionId: `${SESSION}-absent` }, auth()));
      const stream = raw.stream(auth());
      await stream.send(op("begin", { namespace: "Logs", sessionId: SESSION }));
      await stream.send(op("set", { package: "p", data: { b: 2 } }));
      const sp = await stream.send(op("savepoint"));
      await stream.send(op("rollback", { savepointId: (sp.result.value as { savepointId: number }).savepointId }));
      await stream.send(op("set", { package: "", data: { bad: true } })); // a failed op
      await raw.call("set", { namespace: "Logs", sessionId: SESSION, package: "p", data: { c: 3 } }, auth());
      expect((await stream.send(op("commit"))).error?.code, "a conflict").to.equal(status.ABORTED);
      await stream.send(op("begin", { namespace: "Logs", sessionId: SESSION }));
      await stream.end(); // discards an open transaction
      await raw.call("revokeSessions", { namespace: "Logs", principal: "alice" }, auth());
      // Bad input, refusals, an unknown token.
      await failure(raw.call("set", { namespace: "Logs", sessionId: `${SESSION} x`, package: "p", data: {} }, auth()));
      await failure(raw.call("get", { namespace: "Logs", sessionId: SESSION, package: "\u0001" }, auth()));
      await failure(raw.call("get", { namespace: "Other", sessionId: SESSION, package: "p" }, auth()));
      await failure(raw.call("get", { namespace: "Logs", sessionId: SESSION, package: "p" }, bearer(`${TOKEN}x`)));
      // Storage down: the error reaches the log with the address, the caller without it.
      await memcached.stop();
      const down = await failure(raw.call("get", { namespace: "Logs", sessionId: SESSION, package: "p" }, auth()));
      expect(down.code).to.equal(status.UNAVAILABLE);
      expect(down.details).to.not.include(memcached.address.split(":").pop()!);
      await proc.waitForLog((l) => l.msg === "storage unavailable");
      await memcached.restart();
      const sdk = createSessionClient(proc.address, { token: TOKEN });
      await sdk.session("Logs", SESSION).set("p", { d: 4 });
      await sdk.invalidateAll("Logs");
      sdk.close();
    } finally {
      raw.close();
    }
    proc.child.kill("SIGHUP");
    await proc.waitForLog((l) => l.msg === "reloaded on SIGHUP" && l.reloaded === "tokens and access");

    const text = proc.lines.map((l) => JSON.stringify(l)).join("\n") + proc.stderr();
    expect(proc.lines.filter((l) => l.msg === "call").length, "debug lines were written").to.be.above(5);
    for (const id of ids) expect(text, "a session id in the log").to.not.include(id);
    expect(text, "the token in the log").to.not.include(TOKEN);
    expect(text, "the token's digest in the log").to.not.include(sha256hex(TOKEN));
    const unavailable = proc.lines.find((l) => l.msg === "storage unavailable")!;
    const tag = (unavailable.request as { session?: string }).session;
    expect(tag, "a keyed hash stands in for the session id").to.match(/^[0-9a-f]{16}$/);
    const failed = proc.lines.filter((l) => (l.request as { session?: string } | undefined)?.session === tag);
    expect(failed.length, "lines about one session share its tag").to.be.at.least(1);
    expect(proc.lines.filter((l) => l.audit === true).map((l) => [l.method, l.code])).to.deep.include.members([
      ["ListSessions", status.OK],
      ["Get", status.PERMISSION_DENIED],
      ["Get", status.UNAUTHENTICATED],
      ["InvalidateAll", status.OK],
    ]);
  });
});
