// Bad input gets its status code and a message a person can act on; the server keeps serving and other
// sessions are untouched.

import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { useSessiond } from "./helpers/fixture.js";
import { op } from "./helpers/sessiond.js";

const ns = "MemCacheSession";

async function rejection(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { code: number; details: string };
  }
  throw new Error("expected the call to fail");
}

describe("bad input", function () {
  this.timeout(20_000);
  const env = useSessiond({ memcached: { args: ["-I", "1m"] }, core: { maxItemBytes: 64 * 1024 } });

  before(async () => {
    await env.sessiond.call("set", { namespace: ns, sessionId: "bystander", package: "p", data: { safe: true } });
  });

  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    ["an empty namespace", { namespace: "" }, /namespace "" is invalid/],
    ["a namespace with a space", { namespace: "my ns" }, /namespace "my ns" is invalid/],
    ["a namespace of 129 characters", { namespace: "n".repeat(129) }, /1\.\.128 characters/],
    ["an empty session id", { sessionId: "" }, /session_id "" is invalid/],
    ["a session id with a space", { sessionId: "a b" }, /printable ASCII/],
    ["a session id with a newline (a memcached command injection)", { sessionId: "x\r\nflush_all" }, /session_id/],
    ["a session id of 257 characters", { sessionId: "s".repeat(257) }, /session_id/],
    ["a session id with non-ASCII", { sessionId: "café" }, /printable ASCII/],
    ["an empty package", { package: "" }, /package name is empty/],
    ["a package with a control character", { package: "a\u0001b" }, /control character/],
    ["a package of 257 characters", { package: "p".repeat(257) }, /too long/],
  ];
  for (const [what, fields, message] of invalid) {
    it(`refuses ${what} with INVALID_ARGUMENT`, async () => {
      const err = await rejection(env.sessiond.call("get", { namespace: ns, sessionId: "u1", package: "p", ...fields } as never));
      expect(err.code).to.equal(status.INVALID_ARGUMENT);
      expect(err.details).to.match(message);
    });
  }

  it("accepts 256-character names and any UTF-8 in package and key names", async () => {
    const pkg = "ü".repeat(256);
    await env.sessiond.call("set", { namespace: ns, sessionId: "s".repeat(256), package: pkg, data: { "键 🔑": 1 } });
    expect((await env.sessiond.call("get", { namespace: ns, sessionId: "s".repeat(256), package: pkg })).data).to.deep.equal({
      "键 🔑": 1,
    });
  });

  it("keeps a package named __proto__ as an ordinary package", async () => {
    const data = JSON.parse('{"__proto__": {"polluted": true}, "plain": 1}');
    await env.sessiond.call("set", { namespace: ns, sessionId: "proto", package: "__proto__", data });
    await env.sessiond.call("set", { namespace: ns, sessionId: "proto", package: "__proto__", data: { more: 2 } });
    const read = (await env.sessiond.call("get", { namespace: ns, sessionId: "proto", package: "__proto__" })).data ?? {};
    expect(Object.keys(read).sort()).to.deep.equal(["__proto__", "more", "plain"]);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    const listed = await env.sessiond.call("listSessions", { namespace: ns });
    expect(listed.sessions.find((s) => s.sessionId === "proto")?.packages).to.deep.equal(["__proto__"]);
  });

  it("refuses a key with a control character in Set and Get", async () => {
    const set = await rejection(env.sessiond.call("set", { namespace: ns, sessionId: "u1", package: "p", data: { "a\nb": 1 } }));
    expect(set.code).to.equal(status.INVALID_ARGUMENT);
    expect(set.details).to.match(/key name "a\\nb" contains a control character/);
    const get = await rejection(env.sessiond.call("get", { namespace: ns, sessionId: "u1", package: "p", keys: [""] }));
    expect(get.code).to.equal(status.INVALID_ARGUMENT);
  });

  it("refuses numbers JSON cannot carry and values nested too deeply", async () => {
    const nan = await rejection(
      env.sessiond.call("set", { namespace: ns, sessionId: "u1", package: "p", data: { a: Number.NaN } }),
    );
    expect(nan.code).to.equal(status.INVALID_ARGUMENT);
    expect(nan.details).to.match(/value of key "a" is NaN: JSON numbers must be finite/);
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    const nested = await rejection(
      env.sessiond.call("set", { namespace: ns, sessionId: "u1", package: "p", data: { deep } as never }),
    );
    expect(nested.code).to.equal(status.INVALID_ARGUMENT);
    expect(nested.details).to.match(/nests deeper than 32 levels/);
  });

  it("refuses keys given without a package in Delete", async () => {
    const err = await rejection(env.sessiond.call("delete", { namespace: ns, sessionId: "bystander", keys: ["safe"] }));
    expect(err.code).to.equal(status.INVALID_ARGUMENT);
    expect(err.details).to.match(/keys given without a package/);
  });

  it("refuses a bad page size and a forged page token", async () => {
    expect((await rejection(env.sessiond.call("listSessions", { namespace: ns, pageSize: -1 }))).code).to.equal(
      status.INVALID_ARGUMENT,
    );
    expect((await rejection(env.sessiond.call("listSessions", { namespace: ns, pageSize: 5000 }))).code).to.equal(
      status.INVALID_ARGUMENT,
    );
    const forged = await rejection(env.sessiond.call("listSessions", { namespace: ns, pageToken: "not a token" }));
    expect(forged.code).to.equal(status.INVALID_ARGUMENT);
    expect(forged.details).to.match(/page_token is invalid/);
  });

  it("refuses a Set that would make the session larger than the item limit, writing nothing", async () => {
    const big = "x".repeat(70 * 1024);
    const err = await rejection(env.sessiond.call("set", { namespace: ns, sessionId: "big", package: "p", data: { big } }));
    expect(err.code).to.equal(status.RESOURCE_EXHAUSTED);
    expect(err.details).to.match(/over the limit of \d+ bytes/);
    expect((await env.sessiond.call("get", { namespace: ns, sessionId: "big", package: "p" })).data).to.deep.equal({});
  });

  describe("on a transaction stream", () => {
    it("answers each bad op with its code and keeps the stream open", async () => {
      const tx = env.sessiond.stream();
      // An op before begin.
      expect((await tx.send(op("get", { package: "p" }))).error?.code).to.equal(status.FAILED_PRECONDITION);
      expect((await tx.send(op("commit"))).error?.message).to.match(/send begin first/);
      // A bad begin, then a good one.
      expect((await tx.send(op("begin", { namespace: "bad ns", sessionId: "u" }))).error?.code).to.equal(status.INVALID_ARGUMENT);
      expect((await tx.send(op("begin", { namespace: ns, sessionId: "tx-bad" }))).result.case).to.equal("begin");
      // begin while one is open.
      const twice = await tx.send(op("begin", { namespace: ns, sessionId: "tx-bad" }));
      expect(twice.error?.code).to.equal(status.FAILED_PRECONDITION);
      expect(twice.error?.message).to.match(/already open/);
      // Bad names and values.
      expect((await tx.send(op("set", { package: "", data: { a: 1 } }))).error?.code).to.equal(status.INVALID_ARGUMENT);
      expect((await tx.send(op("get", { package: "p", keys: ["a\u0000"] }))).error?.code).to.equal(status.INVALID_ARGUMENT);
      // An unknown savepoint.
      const unknown = await tx.send(op("rollback", { savepointId: 987654 }));
      expect(unknown.error?.code).to.equal(status.NOT_FOUND);
      // A savepoint invalidated by a rollback to an earlier one.
      const first = (await tx.send(op("savepoint"))).result.value as { savepointId: number };
      await tx.send(op("set", { package: "p", data: { a: 1 } }));
      const second = (await tx.send(op("savepoint"))).result.value as { savepointId: number };
      expect((await tx.send(op("rollback", { savepointId: first.savepointId }))).error).to.equal(undefined);
      const stale = await tx.send(op("rollback", { savepointId: second.savepointId }));
      expect(stale.error?.code).to.equal(status.NOT_FOUND);
      expect(stale.error?.message).to.match(/invalidated by a rollback/);
      // Still usable after all that.
      await tx.send(op("set", { package: "p", data: { ok: true } }));
      expect((await tx.send(op("commit"))).result.case).to.equal("commit");
      // A savepoint of the finished transaction is gone too.
      await tx.send(op("begin", { namespace: ns, sessionId: "tx-bad" }));
      expect((await tx.send(op("rollback", { savepointId: first.savepointId }))).error?.code).to.equal(status.NOT_FOUND);
      expect((await tx.send(op("abort"))).result.case).to.equal("abort");
      expect((await tx.end()).code).to.equal(status.OK);
      expect((await env.sessiond.call("get", { namespace: ns, sessionId: "tx-bad", package: "p" })).data).to.deep.equal({
        ok: true,
      });
    });

    it("refuses a request with no op", async () => {
      const tx = env.sessiond.stream();
      const empty = await tx.send(undefined as never);
      expect(empty.error?.code).to.equal(status.INVALID_ARGUMENT);
      expect(empty.error?.message).to.match(/no op/);
      await tx.end();
    });

    it("refuses a too-large commit with RESOURCE_EXHAUSTED and lets the caller roll back and commit", async () => {
      const tx = env.sessiond.stream();
      await tx.send(op("begin", { namespace: ns, sessionId: "tx-big" }));
      await tx.send(op("set", { package: "p", data: { small: 1 } }));
      const sp = (await tx.send(op("savepoint"))).result.value as { savepointId: number };
      await tx.send(op("set", { package: "p", data: { big: "x".repeat(70 * 1024) } }));
      const tooBig = await tx.send(op("commit"));
      expect(tooBig.error?.code).to.equal(status.RESOURCE_EXHAUSTED);
      await tx.send(op("rollback", { savepointId: sp.savepointId }));
      expect((await tx.send(op("commit"))).result.case).to.equal("commit");
      await tx.end();
      expect((await env.sessiond.call("get", { namespace: ns, sessionId: "tx-big", package: "p" })).data).to.deep.equal({
        small: 1,
      });
    });
  });

  // Mocha runs nested suites after the tests above: this comes last.
  describe("afterwards", () => {
    it("still serves, and the bystander session is intact", async () => {
      expect((await env.sessiond.call("get", { namespace: ns, sessionId: "bystander", package: "p" })).data).to.deep.equal({
        safe: true,
      });
    });
  });
});
