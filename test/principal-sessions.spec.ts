// Sessions of a principal: binding at creation, at rotation and with SetPrincipal; handles that stay with a
// session; "your devices" listings that never show a session id; revocation of all, some, or all but some.
import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import type { SessionSummary } from "../client/index.js";
import { useSessiond } from "./helpers/fixture.js";

const ns = "Principals";

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe("sessions of a principal", function () {
  this.timeout(30_000);
  const env = useSessiond();
  const devices = (name: string): Promise<SessionSummary[]> => all(env.client.principal(ns, name).sessions());

  it("lists alice's three sessions with handles and attributes, never an id; revokes all but one; bob is untouched", async () => {
    const { client } = env;
    const phone = await client.createSession(ns, { principal: "alice", attributes: { device: "phone", ip: "10.0.0.1" } });
    const laptop = await client.createSession(ns, { principal: "alice", attributes: { device: "laptop" } });
    const tablet = await client.createSession(ns, { principal: "alice", attributes: { device: "tablet" } });
    const bobs = await client.createSession(ns, { principal: "bob", attributes: { device: "desktop" } });
    for (const s of [phone, laptop, tablet, bobs]) await s.set("cart", { items: 1 });

    const listed = await devices("alice");
    expect(listed.map((s) => s.handle).sort()).to.deep.equal([phone.handle, laptop.handle, tablet.handle].sort());
    expect(listed.map((s) => s.attributes.device).sort()).to.deep.equal(["laptop", "phone", "tablet"]);
    for (const s of listed) {
      expect(s.sessionId, "no session id in a principal's listing").to.equal("");
      expect(s.principal).to.equal("alice");
      expect(s.packages).to.deep.equal(["cart"]);
      expect(s.expiresAt!.getTime()).to.be.greaterThan(Date.now());
    }
    expect(JSON.stringify(listed)).to.not.include(phone.id);

    // "Log out other devices" from the phone.
    expect(await client.principal(ns, "alice").revoke({ except: [phone.handle!] })).to.equal(2);
    expect((await devices("alice")).map((s) => s.handle)).to.deep.equal([phone.handle]);
    expect(await phone.get("cart")).to.deep.equal({ items: 1 });
    expect(await laptop.get("cart")).to.deep.equal({});
    expect(await tablet.get("cart")).to.deep.equal({});
    await expectNotFound(laptop.describe());
    expect(await bobs.get("cart")).to.deep.equal({ items: 1 });
    expect((await devices("bob")).map((s) => s.handle)).to.deep.equal([bobs.handle]);

    // A session of alice made after the revoke works, and is listed next to the kept one.
    const again = await client.createSession(ns, { principal: "alice", attributes: { device: "laptop" } });
    await again.set("cart", { items: 7 });
    expect(await again.get("cart")).to.deep.equal({ items: 7 });
    expect((await devices("alice")).map((s) => s.handle).sort()).to.deep.equal([phone.handle, again.handle].sort());
  });

  it("keeps a session's handle and creation time through rotation, and binds at rotation (the login moment)", async () => {
    const anonymous = await env.client.createSession(ns, { attributes: { user_agent: "Firefox" } });
    await anonymous.set("cart", { items: 2 });
    const before = await anonymous.describe();
    expect(before.principal).to.equal("");
    expect(before.handle).to.equal(anonymous.handle);

    const loggedIn = await anonymous.rotate({ principal: "carol" });
    expect(loggedIn.id).to.not.equal(anonymous.id);
    expect(loggedIn.handle).to.equal(anonymous.handle);
    const after = await loggedIn.describe();
    expect(after).to.include({ sessionId: loggedIn.id, handle: anonymous.handle, principal: "carol" });
    expect(after.attributes).to.deep.equal({ user_agent: "Firefox" });
    expect(after.createdAt).to.deep.equal(before.createdAt);
    expect(await loggedIn.get("cart")).to.deep.equal({ items: 2 });
    await expectNotFound(anonymous.describe());

    // A second rotation keeps the binding; the listing still shows one session, under the same handle.
    const rotated = await loggedIn.rotate();
    expect((await rotated.describe()).principal).to.equal("carol");
    expect((await devices("carol")).map((s) => s.handle)).to.deep.equal([anonymous.handle]);
  });

  it("binds, re-binds and unbinds with SetPrincipal, which refuses a session that does not exist", async () => {
    const s = await env.client.createSession(ns);
    expect(await s.setPrincipal("dave", { device: "watch" })).to.equal(s.handle);
    expect((await devices("dave")).map((d) => d.attributes)).to.deep.equal([{ device: "watch" }]);
    await s.setPrincipal("erin");
    expect(await devices("dave")).to.deep.equal([]);
    expect((await devices("erin")).map((d) => d.handle)).to.deep.equal([s.handle]);
    await s.setPrincipal("");
    expect(await devices("erin")).to.deep.equal([]);
    expect((await s.describe()).principal).to.equal("");
    await expectNotFound(env.client.session(ns, "nobody-has-this-id").setPrincipal("dave"));
  });

  it("revokes the listed handles only", async () => {
    const a = await env.client.createSession(ns, { principal: "frank" });
    const b = await env.client.createSession(ns, { principal: "frank" });
    await a.set("p", { x: 1 });
    await b.set("p", { x: 2 });
    expect(await env.client.principal(ns, "frank").revoke({ handles: [a.handle!] })).to.equal(1);
    expect(await a.get("p")).to.deep.equal({});
    expect(await b.get("p")).to.deep.equal({ x: 2 });
    expect((await devices("frank")).map((s) => s.handle)).to.deep.equal([b.handle]);
  });

  it("pages through a principal's sessions in handle order", async () => {
    const made = await Promise.all(Array.from({ length: 7 }, () => env.client.createSession(ns, { principal: "grace" })));
    const seen = await all(env.client.principal(ns, "grace").sessions({ pageSize: 3 }));
    const handles = made.map((s) => s.handle!).sort();
    expect(seen.map((s) => s.handle)).to.deep.equal(handles);
    const first = await env.sessiond.call("listPrincipalSessions", { namespace: ns, principal: "grace", pageSize: 3 });
    expect(first.sessions).to.have.length(3);
    expect(first.nextPageToken).to.not.equal("");
  });

  it("answers INVALID_ARGUMENT for bad principals, attributes, handles and page tokens", async () => {
    const call = env.sessiond.call;
    const bad = [
      call("createSession", { namespace: ns, principal: "has space" }),
      call("createSession", { namespace: ns, principal: "x".repeat(257) }),
      call("createSession", {
        namespace: ns,
        attributes: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, ""])),
      }),
      call("createSession", { namespace: ns, attributes: { "": "empty key" } }),
      call("createSession", { namespace: ns, attributes: { k: "v".repeat(257) } }),
      call("createSession", { namespace: ns, attributes: { k: "line\nbreak" } }),
      call("listPrincipalSessions", { namespace: ns, principal: "" }),
      call("listPrincipalSessions", { namespace: ns, principal: "alice", pageToken: "garbage" }),
      call("revokeSessions", { namespace: ns, principal: "alice", handles: ["not a handle"] }),
      call("revokeSessions", { namespace: ns, principal: "" }),
    ];
    for (const [i, attempt] of bad.entries()) {
      const err = (await attempt.then(
        () => undefined,
        (e: unknown) => e,
      )) as { code: number } | undefined;
      expect(err?.code, `case ${i}`).to.equal(status.INVALID_ARGUMENT);
    }
    const ok = await call("createSession", { namespace: ns, principal: "ok", attributes: { ip: "", device: "é📱" } });
    expect(ok.handle).to.match(/^[A-Za-z0-9_-]{22}$/);
  });
});

async function expectNotFound(promise: Promise<unknown>): Promise<void> {
  const err = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as { code: number } | undefined;
  expect(err?.code).to.equal(status.NOT_FOUND);
}
