// The guarantee SessiondStore exists for, through a real Express app: 20 requests of one session that
// overlap, each setting its own key, all keep their key. The store it replaces, connect-memcached, on the
// same memcached, keeps the last writer's whole object and loses the others.

import { expect } from "chai";
import connectMemcached from "connect-memcached";
import session from "express-session";
import { SessiondStore } from "../client/express/index.js";
import { startWriterApp, type WriterApp, writeConcurrently } from "./helpers/concurrent-writers.js";
import { useSessiond } from "./helpers/fixture.js";

const REQUESTS = 20;

describe("20 concurrent requests of one session through Express", function () {
  this.timeout(30_000);
  const env = useSessiond();
  let app: WriterApp | undefined;

  afterEach(async () => {
    await app?.close();
  });

  it("keep all 20 keys with SessiondStore, the requests having overlapped", async () => {
    app = await startWriterApp(new SessiondStore({ client: env.client }), REQUESTS);
    const kept = await writeConcurrently(app, REQUESTS);
    expect(app.maxInFlight(), "requests inside their handler at once").to.equal(REQUESTS);
    expect(kept).to.equal(REQUESTS);
  });

  it("keep only some with connect-memcached on the same memcached: its lost updates", async () => {
    const MemcachedStore = connectMemcached(session);
    const store = new MemcachedStore({ hosts: [env.memcached.address] });
    try {
      app = await startWriterApp(store, REQUESTS);
      const kept = await writeConcurrently(app, REQUESTS);
      expect(app.maxInFlight()).to.equal(REQUESTS);
      expect(kept).to.be.below(REQUESTS);
    } finally {
      store.client.end();
    }
  });
});
