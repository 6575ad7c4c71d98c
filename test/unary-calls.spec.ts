// The unary RPCs as a user meets them: create, set/get with keys, delete at each level, rotate,
// list with pages, invalidate a namespace.

import { timestampMs } from "@bufbuild/protobuf/wkt";
import { expect } from "chai";
import { useSessiond } from "./helpers/fixture.js";
import { startSessiond } from "./helpers/sessiond.js";

const ns = "Shop";

describe("unary calls", function () {
  this.timeout(20_000);
  const env = useSessiond({ core: { indexShards: 4 } });
  const get = (sessionId: string, pkg: string, keys: string[] = []) =>
    env.sessiond.call("get", { namespace: ns, sessionId, package: pkg, keys }).then((r) => r.data);

  it("creates sessions with random URL-safe ids of at least 128 bits", async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, () => env.sessiond.call("createSession", { namespace: ns })));
    const unique = new Set(ids.map((r) => r.sessionId));
    expect(unique.size).to.equal(20);
    for (const id of unique) {
      expect(id).to.match(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(id, "base64url").length * 8).to.be.at.least(128);
    }
    const listed = (await env.sessiond.call("listSessions", { namespace: ns, pageSize: 1000 })).sessions.map((s) => s.sessionId);
    for (const id of unique) expect(listed).to.include(id);
  });

  it("merges a Set into the package and reads back all keys or the listed ones", async () => {
    await env.sessiond.call("set", { namespace: ns, sessionId: "cart", package: "items", data: { apples: 2, pears: 1 } });
    await env.sessiond.call("set", {
      namespace: ns,
      sessionId: "cart",
      package: "items",
      data: { pears: 3, note: { gift: true, tags: ["a", null] } },
    });
    expect(await get("cart", "items")).to.deep.equal({ apples: 2, pears: 3, note: { gift: true, tags: ["a", null] } });
    expect(await get("cart", "items", ["pears", "missing"])).to.deep.equal({ pears: 3 });
    expect(await get("cart", "nothing")).to.deep.equal({});
    expect(await get("nobody", "items")).to.deep.equal({});
  });

  it("deletes keys, then a package, then the whole session", async () => {
    await env.sessiond.call("set", { namespace: ns, sessionId: "del", package: "a", data: { x: 1, y: 2 } });
    await env.sessiond.call("set", { namespace: ns, sessionId: "del", package: "b", data: { z: 3 } });
    await env.sessiond.call("delete", { namespace: ns, sessionId: "del", package: "a", keys: ["x"] });
    expect(await get("del", "a")).to.deep.equal({ y: 2 });
    await env.sessiond.call("delete", { namespace: ns, sessionId: "del", package: "a" });
    expect(await get("del", "a")).to.deep.equal({});
    expect(await get("del", "b")).to.deep.equal({ z: 3 });
    await env.sessiond.call("delete", { namespace: ns, sessionId: "del" });
    expect(await get("del", "b")).to.deep.equal({});
    const listed = (await env.sessiond.call("listSessions", { namespace: ns, pageSize: 1000 })).sessions.map((s) => s.sessionId);
    expect(listed).to.not.include("del");
  });

  it("rotates a session: the data moves to a new id and the old id is empty", async () => {
    await env.sessiond.call("set", { namespace: ns, sessionId: "before-login", package: "cart", data: { apples: 2 } });
    const { sessionId } = await env.sessiond.call("rotateSession", { namespace: ns, sessionId: "before-login" });
    expect(sessionId).to.not.equal("before-login");
    expect(await get(sessionId, "cart")).to.deep.equal({ apples: 2 });
    expect(await get("before-login", "cart")).to.deep.equal({});
  });

  it("lists every live session once, page by page, with packages and times", async () => {
    const other = "Paging";
    const started = Date.now();
    const ids = Array.from({ length: 23 }, (_, i) => `visitor-${String(i).padStart(2, "0")}`);
    for (const id of ids) await env.sessiond.call("set", { namespace: other, sessionId: id, package: "seen", data: { at: 1 } });
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await env.sessiond.call("listSessions", { namespace: other, pageSize: 5, pageToken });
      expect(page.sessions.length).to.be.at.most(5);
      for (const s of page.sessions) {
        expect(s.packages).to.deep.equal(["seen"]);
        expect(timestampMs(s.createdAt!)).to.be.within(started - 1000, Date.now() + 1000);
        expect(timestampMs(s.lastAccessedAt!)).to.be.at.least(timestampMs(s.createdAt!));
      }
      seen.push(...page.sessions.map((s) => s.sessionId));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(seen.sort()).to.deep.equal(ids);
    expect(pages).to.be.at.least(5);
  });

  it("invalidates every session of a namespace at once, and only of that namespace", async () => {
    await env.sessiond.call("set", { namespace: "Old", sessionId: "a", package: "p", data: { v: 1 } });
    await env.sessiond.call("set", { namespace: "Old", sessionId: "b", package: "p", data: { v: 1 } });
    await env.sessiond.call("set", { namespace: "Kept", sessionId: "a", package: "p", data: { v: 1 } });
    await env.sessiond.call("invalidateAll", { namespace: "Old" });
    expect((await env.sessiond.call("get", { namespace: "Old", sessionId: "a", package: "p" })).data).to.deep.equal({});
    expect((await env.sessiond.call("listSessions", { namespace: "Old" })).sessions).to.deep.equal([]);
    expect((await env.sessiond.call("get", { namespace: "Kept", sessionId: "a", package: "p" })).data).to.deep.equal({ v: 1 });
    // The namespace works as before for new data.
    await env.sessiond.call("set", { namespace: "Old", sessionId: "a", package: "p", data: { v: 2 } });
    expect((await env.sessiond.call("get", { namespace: "Old", sessionId: "a", package: "p" })).data).to.deep.equal({ v: 2 });
  });

  it("shows an InvalidateAll to another instance the moment it answers, and keeps what that instance writes after", async () => {
    const other = await startSessiond({ memcached: [env.memcached.address] });
    const read = (via: typeof other, sessionId: string) =>
      via.call("get", { namespace: "Shared", sessionId, package: "p" }).then((r) => r.data);
    try {
      await other.call("set", { namespace: "Shared", sessionId: "a", package: "p", data: { v: 1 } });
      expect(await read(other, "a"), "the other instance has seen (and may remember) the generation").to.deep.equal({ v: 1 });
      await env.sessiond.call("invalidateAll", { namespace: "Shared" });
      expect(await read(other, "a"), "at once, whatever the other instance remembered").to.deep.equal({});
      // A write through the other instance right after the answer lands in the new generation: kept.
      await other.call("set", { namespace: "Shared", sessionId: "b", package: "p", data: { v: 2 } });
      expect(await read(env.sessiond, "b")).to.deep.equal({ v: 2 });
      expect(await read(other, "b")).to.deep.equal({ v: 2 });
    } finally {
      await other.stop();
    }
  });
});
