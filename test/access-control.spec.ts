// Access control as an operator configures it: bearer tokens (several per identity), rules per namespace
// with exact names, prefixes, "*" and "anonymous"; refusals are UNAUTHENTICATED or PERMISSION_DENIED,
// change nothing, and are audited; a refused op of a Transaction stream leaves the stream usable.

import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { createSessionClient } from "../client/index.js";
import { createAccessControl } from "../server/access/access-control.js";
import { parseAccess } from "../server/access/access-rules.js";
import { parseTokens } from "../server/access/tokens.js";
import { bearer, captureLogger, connectRaw, failure, type RawSessionClient, sha256hex } from "./helpers/access.js";
import { connectHealth } from "./helpers/access-health.js";
import { type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import { op, type RunningSessiond, startSessiond } from "./helpers/sessiond.js";

const file = {
  tokens: [
    { identity: "cart-service", sha256: sha256hex("cart-token") },
    { identity: "cart-service", sha256: sha256hex("cart-token-next") }, // a second token, for rotation
    { identity: "reporting", sha256: sha256hex("reporting-token") },
    { identity: "ops", sha256: sha256hex("ops-token") },
  ],
  access: [
    { identity: "cart-service", namespaces: ["Cart", "Checkout*"], allow: ["read", "write"] },
    { identity: "reporting", namespaces: ["Cart"], allow: ["read"] },
    { identity: "ops", namespaces: ["*"], allow: ["admin"] },
    { identity: "*", namespaces: ["Public"], allow: ["read"] },
    { identity: "anonymous", namespaces: ["Open*"], allow: ["read", "write"] },
  ],
};

describe("access control: tokens and rules", function () {
  this.timeout(20_000);
  let memcached: MemcachedProcess;
  let sessiond: RunningSessiond;
  let raw: RawSessionClient;
  const log = captureLogger("info");

  before(async () => {
    memcached = await startMemcached();
    const access = createAccessControl(
      { tokens: parseTokens(file.tokens, "test"), access: parseAccess(file.access, "test") },
      log.logger,
    );
    sessiond = await startSessiond({ memcached: [memcached.address], security: { access }, logger: log.logger });
    raw = connectRaw(sessiond.address);
  });
  after(async () => {
    raw.close();
    await sessiond.stop();
    await memcached.stop();
  });

  const get = (namespace: string, sessionId: string, token?: string) =>
    raw.call("get", { namespace, sessionId, package: "p" }, bearer(token)).then((r) => r.data);

  it("lets an identity with the permission read and write, with either of its tokens", async () => {
    await raw.call("set", { namespace: "Cart", sessionId: "u1", package: "p", data: { items: 1 } }, bearer("cart-token"));
    expect(await get("Cart", "u1", "cart-token-next")).to.deep.equal({ items: 1 });
    expect(await get("Cart", "u1", "reporting-token"), "read only, on Cart").to.deep.equal({ items: 1 });
  });

  it("answers UNAUTHENTICATED to an unknown token or a malformed authorization value, and writes nothing", async () => {
    const unknown = await failure(
      raw.call("set", { namespace: "Cart", sessionId: "u2", package: "p", data: { a: 1 } }, bearer("guess")),
    );
    expect(unknown.code).to.equal(status.UNAUTHENTICATED);
    expect(unknown.details).to.not.include("guess");
    const malformed = bearer(undefined);
    malformed.set("authorization", "Basic Y2FydDp0b2tlbg==");
    expect((await failure(raw.call("get", { namespace: "Cart", sessionId: "u2", package: "p" }, malformed))).code).to.equal(
      status.UNAUTHENTICATED,
    );
    expect(await get("Cart", "u2", "cart-token")).to.deep.equal({});
  });

  it("answers PERMISSION_DENIED naming identity, permission and namespace, and changes nothing", async () => {
    const denied = await failure(
      raw.call("set", { namespace: "Cart", sessionId: "u1", package: "p", data: { items: 99 } }, bearer("reporting-token")),
    );
    expect(denied.code).to.equal(status.PERMISSION_DENIED);
    expect(denied.details).to.include('"reporting"').and.include("write").and.include('"Cart"');
    const admin = await failure(raw.call("invalidateAll", { namespace: "Cart" }, bearer("cart-token")));
    expect(admin.code).to.equal(status.PERMISSION_DENIED);
    expect(admin.details).to.include("admin");
    expect(await get("Cart", "u1", "cart-token")).to.deep.equal({ items: 1 });
  });

  it("matches prefixes: Checkout* covers CheckoutEU, not Check", async () => {
    await raw.call("set", { namespace: "CheckoutEU", sessionId: "u3", package: "p", data: { ok: true } }, bearer("cart-token"));
    expect(await get("CheckoutEU", "u3", "cart-token")).to.deep.equal({ ok: true });
    expect((await failure(get("Check", "u3", "cart-token"))).code).to.equal(status.PERMISSION_DENIED);
  });

  it('lets "*" match every authenticated caller, and "anonymous" only callers without credentials', async () => {
    expect(await get("Public", "x", "reporting-token")).to.deep.equal({});
    expect((await failure(get("Public", "x"))).code, "anonymous is not *").to.equal(status.PERMISSION_DENIED);
    await raw.call("set", { namespace: "OpenHouse", sessionId: "guest", package: "p", data: { hi: 1 } });
    expect(await get("OpenHouse", "guest")).to.deep.equal({ hi: 1 });
    expect((await failure(get("OpenHouse", "guest", "cart-token"))).code, "a token names its identity").to.equal(
      status.PERMISSION_DENIED,
    );
  });

  it("checks every Transaction op: a refused op answers error 7, the stream goes on, the refused write is not committed", async () => {
    const stream = raw.stream(bearer("reporting-token"));
    expect((await stream.send(op("begin", { namespace: "Cart", sessionId: "u1" }))).result.case).to.equal("begin");
    const refused = await stream.send(op("set", { package: "p", data: { items: 7 } }));
    expect(refused.error?.code).to.equal(status.PERMISSION_DENIED);
    expect(refused.error?.message).to.include('"reporting"').and.include("write").and.include('"Cart"');
    expect((await stream.send(op("delete", { package: "p" }))).error?.code).to.equal(status.PERMISSION_DENIED);
    expect((await stream.send(op("get", { package: "p" }))).result.value).to.deep.include({ data: { items: 1 } });
    expect((await stream.send(op("savepoint"))).result.case).to.equal("savepoint");
    const commit = await stream.send(op("commit", { onlyIfNoErrors: true }));
    expect(commit.error?.code, "a refused op fails only_if_no_errors").to.equal(status.FAILED_PRECONDITION);
    const other = await stream.send(op("begin", { namespace: "Checkout", sessionId: "u1" }));
    expect(other.error?.code, "begin needs read on its namespace").to.equal(status.PERMISSION_DENIED);
    expect((await stream.send(op("begin", { namespace: "Cart", sessionId: "u1" }))).result.case, "still usable").to.equal(
      "begin",
    );
    expect((await stream.send(op("commit"))).result.case).to.equal("commit");
    expect((await stream.end()).code).to.equal(status.OK);
    expect(await get("Cart", "u1", "cart-token")).to.deep.equal({ items: 1 });
  });

  it("runs a whole transaction for an identity with read and write", async () => {
    const stream = raw.stream(bearer("cart-token"));
    await stream.send(op("begin", { namespace: "Cart", sessionId: "u4" }));
    await stream.send(op("set", { package: "p", data: { a: 1 } }));
    const sp = await stream.send(op("savepoint"));
    await stream.send(op("set", { package: "p", data: { a: 2 } }));
    await stream.send(op("rollback", { savepointId: (sp.result.value as { savepointId: number }).savepointId }));
    expect((await stream.send(op("commit", { onlyIfNoErrors: true }))).result.case).to.equal("commit");
    await stream.end();
    expect(await get("Cart", "u4", "cart-token")).to.deep.equal({ a: 1 });
  });

  it("refuses a whole stream with an unknown token: UNAUTHENTICATED", async () => {
    const stream = raw.stream(bearer("nope"));
    const ended = await stream.ended;
    expect(ended.code).to.equal(status.UNAUTHENTICATED);
  });

  it("audits admin calls and every refusal at info: identity, method, namespace, code; never a token", async () => {
    log.lines.length = 0;
    await raw.call("listSessions", { namespace: "Cart" }, bearer("ops-token"));
    await failure(raw.call("invalidateAll", { namespace: "Cart" }, bearer("reporting-token")));
    await failure(raw.call("get", { namespace: "Cart", sessionId: "u1", package: "p" }, bearer("wrong-token")));
    const audit = log.lines.filter((l) => l.audit === true);
    expect(audit.map((l) => [l.level, l.identity, l.method, l.namespace, l.code])).to.deep.equal([
      [30, "ops", "ListSessions", "Cart", status.OK],
      [30, "reporting", "InvalidateAll", "Cart", status.PERMISSION_DENIED],
      [30, undefined, "Get", "Cart", status.UNAUTHENTICATED],
    ]);
    expect(JSON.stringify(log.lines)).to.not.match(/ops-token|reporting-token|wrong-token/);
  });

  it("sends the SDK's token on every call, asking a token function each time", async () => {
    let asked = 0;
    const client = createSessionClient(sessiond.address, {
      token: () => {
        asked++;
        return asked % 2 === 0 ? "cart-token" : "cart-token-next";
      },
    });
    try {
      await client.session("Cart", "sdk").set("p", { n: 1 });
      await client.transaction("Cart", "sdk", async (tx) => {
        tx.set("p", { n: ((await tx.get("p")).n as number) + 1 });
      });
      expect(await client.session("Cart", "sdk").get("p")).to.deep.equal({ n: 2 });
      expect(asked).to.equal(3);
      await client
        .session("Other", "sdk")
        .get("p")
        .then(
          () => expect.fail("Other is not cart-service's"),
          (err: { code: number }) => expect(err.code).to.equal(status.PERMISSION_DENIED),
        );
    } finally {
      client.close();
    }
  });

  it("keeps Health open to every caller", async () => {
    const health = connectHealth(sessiond.address);
    try {
      expect(await health.check()).to.equal("SERVING");
    } finally {
      health.close();
    }
  });
});
