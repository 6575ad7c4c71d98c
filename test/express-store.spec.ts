// SessiondStore against a real sessiond over a real memcached, called as express-session calls a store:
// connect-redis's lifecycle (set -> get -> touch -> destroy), then what it does differently: it saves only
// the keys a request changed, expiry follows the namespace's timeout, and errors carry gRPC codes.
import { promisify } from "node:util";
import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { SessiondStore, type SessionObject } from "../client/express/index.js";
import { useSessiond } from "./helpers/fixture.js";
import { fakeClock } from "./helpers/wait.js";

// promised turns one of the store's callback methods into a promise, as a test reads best.
function promised(store: SessiondStore) {
  return {
    get: promisify<string, SessionObject | null>((sid, cb) => store.get(sid, cb as never)),
    set: promisify<string, SessionObject, void>((sid, s, cb) => store.set(sid, s, cb as never)),
    touch: promisify<string, SessionObject, void>((sid, s, cb) => store.touch(sid, s, cb as never)),
    destroy: promisify<string, void>((sid, cb) => store.destroy(sid, cb as never)),
    all: promisify<SessionObject[]>((cb) => store.all(cb as never)),
    length: promisify<number>((cb) => store.length(cb as never)),
    clear: promisify<void>((cb) => store.clear(cb as never)),
  };
}

const cookie = { originalMaxAge: 60_000, expires: "2030-01-01T00:00:00.000Z", httpOnly: true, path: "/" };

describe("SessiondStore, the store of express-session", () => {
  const clock = fakeClock();
  const env = useSessiond({ core: { now: clock.now, namespaces: { Short: { timeoutSeconds: 10, resolutionSeconds: 0 } } } });
  let store: SessiondStore;
  let s: ReturnType<typeof promised>;

  before(() => {
    store = new SessiondStore({ client: env.client });
    s = promised(store);
  });

  it("stores, reads, refreshes and destroys a session (connect-redis's lifecycle)", async () => {
    await s.set("sid-lifecycle", { cookie, user: "alice" });
    expect(await s.get("sid-lifecycle")).to.deep.equal({ cookie, user: "alice" });
    // Kept where sessiond clients see it: namespace "express", package "session", one key per top-level key.
    expect(await env.client.session("express", "sid-lifecycle").get("session")).to.deep.equal({ cookie, user: "alice" });
    await s.touch("sid-lifecycle", { cookie, user: "alice" });
    expect(await s.get("sid-lifecycle")).to.deep.equal({ cookie, user: "alice" });
    await s.destroy("sid-lifecycle");
    expect(await s.get("sid-lifecycle")).to.equal(null);
  });

  it("answers null for a session it never stored", async () => {
    expect(await s.get("sid-never")).to.equal(null);
  });

  it("writes only the keys the request changed: two requests that read the same session both keep their change", async () => {
    await s.set("sid-merge", { cookie, cart: [], theme: "light", draft: "hello" });
    const first = (await s.get("sid-merge")) as SessionObject;
    const second = (await s.get("sid-merge")) as SessionObject;
    (first.cart as string[]).push("apples"); // changed in place, as apps do
    second.theme = "dark";
    delete second.draft;
    await s.set("sid-merge", first);
    await s.set("sid-merge", second); // a whole-object store would bring back the empty cart here
    expect(await s.get("sid-merge")).to.deep.equal({ cookie, cart: ["apples"], theme: "dark" });
  });

  it("lets the last commit win on a key both requests changed", async () => {
    await s.set("sid-both", { cookie, theme: "light" });
    const first = (await s.get("sid-both")) as SessionObject;
    const second = (await s.get("sid-both")) as SessionObject;
    first.theme = "dark";
    second.theme = "blue";
    await s.set("sid-both", first);
    await s.set("sid-both", second);
    expect((await s.get("sid-both"))?.theme).to.equal("blue");
  });

  it("keeps a session alive with touch, on the namespace's timeout, and lets an untouched one expire", async () => {
    const short = promised(new SessiondStore({ client: env.client, namespace: "Short" }));
    await short.set("sid-touched", { cookie, user: "alice" });
    await short.set("sid-idle", { cookie, user: "bob" });
    clock.advance(7000); // of a 10 s timeout
    await short.touch("sid-touched", { cookie, user: "alice" });
    clock.advance(7000); // 14 s after both were written
    expect(await short.get("sid-touched")).to.deep.equal({ cookie, user: "alice" });
    expect(await short.get("sid-idle")).to.equal(null);
  });

  it("does not let the cookie's maxAge shorten the namespace's timeout", async () => {
    const past = { ...cookie, originalMaxAge: 1000, expires: new Date(clock.now() - 60_000).toISOString() };
    await s.set("sid-cookie", { cookie: past, user: "carol" });
    expect((await s.get("sid-cookie"))?.user).to.equal("carol");
  });

  it("lists, counts and clears the namespace's sessions (all, length, clear)", async () => {
    const own = promised(new SessiondStore({ client: env.client, namespace: "Listed" }));
    await own.set("sid-a", { cookie, n: 1 });
    await own.set("sid-b", { cookie, n: 2 });
    expect(await own.length()).to.equal(2);
    const all = await own.all();
    expect(all.map((x) => [x.id, x.n]).sort()).to.deep.equal([
      ["sid-a", 1],
      ["sid-b", 2],
    ]);
    await own.clear();
    expect(await own.length()).to.equal(0);
    expect(await own.get("sid-a")).to.equal(null);
  });

  it("hands errors to the callback as Errors whose code is the gRPC status", async () => {
    const bad = promised(new SessiondStore({ client: env.client, namespace: "not a namespace" }));
    const err = await bad.get("sid").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(Error);
    expect((err as { code: number }).code).to.equal(status.INVALID_ARGUMENT);
  });

  it("reaches sessiond by address too, and closes the client it made", async () => {
    const own = new SessiondStore({ address: env.sessiond.address });
    try {
      await promised(own).set("sid-address", { cookie, via: "address" });
      expect((await s.get("sid-address"))?.via).to.equal("address");
    } finally {
      own.close();
    }
  });

  it("needs an address or a client", () => {
    expect(() => new SessiondStore({})).to.throw(TypeError, /address/);
  });
});
