import type { Socket } from "node:net";
import { connect, createServer } from "node:net";
import { expect } from "chai";
import { createKeyRing } from "../server/store/key-ring.js";
import { createMemcachedStore } from "../server/store/memcached-store.js";
import { createMemoryStore } from "../server/store/memory-store.js";
import { createSealedStore } from "../server/store/sealed-store.js";
import type { Store } from "../server/store/store.js";
import { StoreUnavailableError } from "../server/store/store.js";
import { SimPool } from "../sim/sim-pool.js";
import { createSimStore } from "../sim/sim-store.js";
import { keyLine, keysOf, recordingLogger } from "./helpers/data-keys.js";
import type { MemcachedProcess } from "./helpers/memcached.js";
import { startMemcached, startMemcachedPool } from "./helpers/memcached.js";
import { bytes, describeStoreConformance, rejection, uniqueKeys } from "./helpers/store-conformance.js";
import { sleep } from "./helpers/wait.js";

// Every Store method, called with harmless arguments; each must fail the same way when memcached is down.
const everyMethod = (store: Store, key: string): Record<string, () => Promise<unknown>> => ({
  get: () => store.get(key),
  getMany: () => store.getMany([key, `${key}:2`]),
  cas: () => store.cas(key, bytes("x"), "1", 0),
  add: () => store.add(key, bytes("x"), 0),
  set: () => store.set(key, bytes("x"), 0),
  append: () => store.append(key, bytes("x")),
  touch: () => store.touch(key, 10),
  delete: () => store.delete(key),
  ping: () => store.ping(),
});

describeStoreConformance("the memory store", () => createMemoryStore());
// The simulation's pool, with no network: each command runs when sent, on the real clock (its nodes'
// clocks tick once a second, as memcached's do), so the suite's real waits for expiry apply to it too.
describeStoreConformance("the simulated memcached pool of three nodes", () =>
  createSimStore(new SimPool(3, Date.now, undefined)),
);
describeStoreConformance("the simulated memcached of one node", () => createSimStore(new SimPool(1, Date.now, undefined)));

describe("the memory store on a fake clock", () => {
  let nowMs = Date.UTC(2030, 0, 1);
  const now = () => nowMs;

  it("expires an item when its lifetime has passed, not a millisecond before", async () => {
    const store = createMemoryStore({ now, sweepIntervalMs: 0 });
    await store.set("a", bytes("x"), 10);
    nowMs += 9_999;
    expect(await store.get("a")).to.not.equal(undefined);
    nowMs += 1;
    expect(await store.get("a")).to.equal(undefined);
    await store.close();
  });

  it("drops expired items in the background, so dead sessions do not pile up", async () => {
    const store = createMemoryStore({ now, sweepIntervalMs: 10 });
    for (let i = 0; i < 100; i++) await store.set(`dead-${i}`, bytes("x"), 1);
    await store.set("alive", bytes("x"), 0);
    expect(store.size).to.equal(101);
    nowMs += 1_000;
    await sleep(50); // a few sweeps, no reads
    expect(store.size).to.equal(1);
    await store.close();
  });
});

describe("the memcached store on one memcached", () => {
  let memcached: MemcachedProcess;
  before(async () => {
    memcached = await startMemcached();
  });
  after(async () => {
    await memcached?.stop();
  });

  describeStoreConformance("the memcached store on one memcached", () => createMemcachedStore({ servers: [memcached.address] }));
  describeStoreConformance("the sealed memcached store on one memcached", () =>
    createSealedStore(createMemcachedStore({ servers: [memcached.address] }), keysOf(keyLine("k1")), recordingLogger()),
  );

  describe("when memcached goes away", () => {
    let store: Store;
    const key = uniqueKeys("outage");
    beforeEach(() => {
      store = createMemcachedStore({ servers: [memcached.address] });
    });
    afterEach(async () => {
      memcached.resume();
      if (memcached.pid === undefined) await memcached.restart();
      await store.close();
    });

    it("rejects every method with StoreUnavailableError, fast, and recovers after a restart", async () => {
      await store.set(key("a"), bytes("before"), 0);
      await memcached.stop();
      for (const [method, call] of Object.entries(everyMethod(store, key("a")))) {
        const started = Date.now();
        const err = await rejection(call());
        const elapsedMs = Date.now() - started;
        expect(err, method).to.be.instanceOf(StoreUnavailableError);
        expect(err.message, method).to.equal(`memcached ${memcached.address} unreachable: ECONNREFUSED`);
        expect(elapsedMs, method).to.be.lessThan(3000);
      }

      await memcached.restart(); // same port, empty
      expect(await store.get(key("a"))).to.equal(undefined);
      expect(await store.add(key("a"), bytes("after"), 0)).to.equal(true);
      expect(Buffer.from((await store.get(key("a")))!.value).toString()).to.equal("after");
      await store.ping();
    });

    it("gives up on a frozen memcached after cmdTimeoutMs, then works once it thaws", async () => {
      const impatient = createMemcachedStore({ servers: [memcached.address], cmdTimeoutMs: 300 });
      try {
        await impatient.set(key("a"), bytes("x"), 0);
        await memcached.pause();
        const started = Date.now();
        const err = await rejection(impatient.get(key("a")));
        const elapsedMs = Date.now() - started;
        expect(err).to.be.instanceOf(StoreUnavailableError);
        expect(err.message).to.include("no answer within 300 ms");
        expect(elapsedMs).to.be.within(250, 1000);
        // The circuit breaker is open now: the next commands fail at once instead of waiting again.
        const fast = Date.now();
        const again = await rejection(impatient.get(key("a")));
        expect(again).to.be.instanceOf(StoreUnavailableError);
        expect(again.message).to.include("failing fast");
        expect(Date.now() - fast).to.be.below(100);

        memcached.resume();
        // A background probe (every breakMs, 500 ms by default) closes the breaker once memcached answers.
        let value: string | undefined;
        for (let attempt = 0; attempt < 30 && value === undefined; attempt++) {
          value = await impatient.get(key("a")).then(
            (found) => Buffer.from(found!.value).toString(),
            () => new Promise<undefined>((resolve) => setTimeout(resolve, 100)),
          );
        }
        expect(value).to.equal("x");
      } finally {
        await impatient.close();
      }
    });

    it("fails a command whose connection the server closes with StoreUnavailableError, not a bug", async () => {
      // A stand-in that accepts and reads the command, then hangs up without a reply.
      const server = createServer((socket) => socket.once("data", () => socket.end()));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const address = `127.0.0.1:${(server.address() as { port: number }).port}`;
      const dropping = createMemcachedStore({ servers: [address], cmdTimeoutMs: 5000 });
      try {
        const err = await rejection(dropping.get(key("a")));
        expect(err).to.be.instanceOf(StoreUnavailableError);
        expect(err.message).to.match(new RegExp(`^memcached ${address} unreachable: connection lost`));
      } finally {
        await dropping.close();
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it("gives up on a memcached that accepts no connection after connectTimeoutMs", async () => {
      // A frozen memcached with a listen backlog of 1: once two connections wait in the kernel's accept
      // queue, further connection attempts hang, as with a dropped network path.
      const frozen = await startMemcached({ args: ["-b", "1"] });
      const fillers: Socket[] = [];
      const hanging = createMemcachedStore({ servers: [frozen.address], connectTimeoutMs: 300 });
      try {
        await frozen.pause();
        let connected = 0;
        await new Promise<void>((resolve) => {
          for (let i = 0; i < 4; i++) {
            const socket = connect({ host: frozen.host, port: frozen.port }).on("error", () => undefined);
            socket.once("connect", () => ++connected === 2 && resolve());
            fillers.push(socket);
          }
        });
        const started = Date.now();
        const err = await rejection(hanging.get(key("a")));
        const elapsedMs = Date.now() - started;
        expect(err).to.be.instanceOf(StoreUnavailableError);
        expect(err.message).to.equal(`memcached ${frozen.address} unreachable: no connection within 300 ms`);
        expect(elapsedMs).to.be.within(250, 1000);
      } finally {
        fillers.forEach((socket) => {
          socket.destroy();
        });
        await hanging.close();
        await frozen.stop();
      }
    });
  });
});

describe("the memcached store over a pool of three memcached", () => {
  let pool: MemcachedProcess[];
  const addresses = () => pool.map((m) => m.address);
  before(async () => {
    pool = await startMemcachedPool(3);
  });
  after(async () => {
    await Promise.all((pool ?? []).map((m) => m.stop()));
  });

  describeStoreConformance("the memcached store over three memcached", () => createMemcachedStore({ servers: addresses() }));
  describeStoreConformance("the sealed memcached store over three memcached", () =>
    createSealedStore(createMemcachedStore({ servers: addresses() }), keysOf(keyLine("k2"), keyLine("k1")), recordingLogger()),
  );

  it("puts each key on the one server the ketama ring names, using all three", async () => {
    const store = createMemcachedStore({ servers: addresses() });
    const direct = addresses().map((address) => createMemcachedStore({ servers: [address] }));
    try {
      const key = uniqueKeys("spread");
      const keys = Array.from({ length: 60 }, (_, i) => key(`k${i}`));
      await Promise.all(keys.map((k) => store.set(k, bytes(k), 0)));
      expect((await store.getMany(keys)).size).to.equal(60);

      const ring = createKeyRing(addresses());
      const holders = await Promise.all(direct.map((server) => server.getMany(keys)));
      holders.forEach((held, i) => {
        expect(held.size, addresses()[i]).to.be.greaterThan(0);
        for (const k of held.keys()) expect(ring.serverFor(k)).to.equal(addresses()[i]);
      });
      expect(holders.reduce((sum, held) => sum + held.size, 0)).to.equal(60);
    } finally {
      await Promise.all([store, ...direct].map((s) => s.close()));
    }
  });

  it("fails only the keys of a stopped server, and uses it again after a restart", async () => {
    const store = createMemcachedStore({ servers: addresses() });
    const [down, ...up] = pool as [MemcachedProcess, ...MemcachedProcess[]];
    try {
      const ring = createKeyRing(addresses());
      const key = uniqueKeys("partial");
      const keys = Array.from({ length: 30 }, (_, i) => key(`k${i}`));
      const onDown = keys.filter((k) => ring.serverFor(k) === down.address);
      const onUp = keys.filter((k) => ring.serverFor(k) !== down.address);
      expect(onDown).to.not.be.empty;
      expect(onUp).to.not.be.empty;

      await down.stop();
      for (const k of onUp) await store.set(k, bytes(k), 0);
      expect((await store.getMany(onUp)).size).to.equal(onUp.length);
      const err = await rejection(store.set(onDown[0]!, bytes("x"), 0));
      expect(err).to.be.instanceOf(StoreUnavailableError);
      expect(err.message).to.include(down.address);
      expect(await rejection(store.getMany(keys))).to.be.instanceOf(StoreUnavailableError);
      await store.ping(); // the other nodes answer: health stays SERVING for their keys
      expect(up.every((m) => m.pid !== undefined)).to.equal(true);

      await down.restart();
      expect(await store.add(onDown[0]!, bytes("back"), 0)).to.equal(true);
      expect((await store.getMany(keys)).size).to.equal(onUp.length + 1);
    } finally {
      if (down.pid === undefined) await down.restart();
      await store.close();
    }
  });
});
