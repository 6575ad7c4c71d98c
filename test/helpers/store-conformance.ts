import { randomBytes } from "node:crypto";
import { expect } from "chai";
import type { Store } from "../../server/store/store.js";
import { MAX_LIFETIME_SECONDS, StoreUnavailableError } from "../../server/store/store.js";
import { eventually } from "./wait.js";

/** rejection awaits `promise` and returns what it rejected with; it fails the test if it resolved. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(Error);
    return err as Error;
  }
  expect.fail("expected a rejection, but the promise resolved");
}

/** uniqueKeys returns a function that makes keys no other test (or earlier run on the same memcached) uses. */
export function uniqueKeys(label: string): (name: string) => string {
  const run = randomBytes(6).toString("hex");
  return (name) => `conformance:${label}:${run}:${name}`;
}

/** bytes makes a Buffer from a string, for short readable values. */
export const bytes = (text: string): Buffer => Buffer.from(text, "utf8");

/**
 * describeStoreConformance is the one spec every Store implementation passes: memcached's semantics as
 * sessiond relies on them. `makeStore` is called before each test; the store is closed after it.
 */
export function describeStoreConformance(name: string, makeStore: () => Store | Promise<Store>): void {
  describe(`${name} conforms to the Store contract`, () => {
    let store: Store;
    let key: (name: string) => string;

    beforeEach(async function () {
      store = await makeStore();
      key = uniqueKeys(this.currentTest?.title.replace(/\W+/g, "-").slice(0, 40) ?? "test");
    });
    afterEach(async () => {
      await store.close();
    });

    it("reads a missing key as undefined", async () => {
      expect(await store.get(key("missing"))).to.equal(undefined);
    });

    it("adds an absent key and reads it back with a version", async () => {
      expect(await store.add(key("a"), bytes("hello"), 0)).to.equal(true);
      const read = await store.get(key("a"));
      expect(read?.value).to.be.instanceOf(Uint8Array);
      expect(Buffer.from(read!.value).toString()).to.equal("hello");
      expect(read?.version).to.be.a("string").and.not.equal("");
    });

    it("refuses to add a key that exists, keeping the first value", async () => {
      expect(await store.add(key("a"), bytes("first"), 0)).to.equal(true);
      expect(await store.add(key("a"), bytes("second"), 0)).to.equal(false);
      expect(Buffer.from((await store.get(key("a")))!.value).toString()).to.equal("first");
    });

    it("accepts a cas with the current version", async () => {
      await store.set(key("a"), bytes("v1"), 0);
      const read = await store.get(key("a"));
      expect(await store.cas(key("a"), bytes("v2"), read!.version, 0)).to.equal(true);
      expect(Buffer.from((await store.get(key("a")))!.value).toString()).to.equal("v2");
    });

    it("refuses a cas with a stale version", async () => {
      await store.set(key("a"), bytes("v1"), 0);
      const stale = (await store.get(key("a")))!.version;
      await store.set(key("a"), bytes("v2 by someone else"), 0);
      expect(await store.cas(key("a"), bytes("v3"), stale, 0)).to.equal(false);
      expect(Buffer.from((await store.get(key("a")))!.value).toString()).to.equal("v2 by someone else");
    });

    it("refuses a cas on a key deleted since it was read, and does not recreate it", async () => {
      await store.set(key("a"), bytes("v1"), 0);
      const read = await store.get(key("a"));
      expect(await store.delete(key("a"))).to.equal(true);
      expect(await store.cas(key("a"), bytes("v2"), read!.version, 0)).to.equal(false);
      expect(await store.get(key("a"))).to.equal(undefined);
    });

    it("refuses a cas with a version it never gave out", async () => {
      await store.set(key("a"), bytes("v1"), 0);
      expect(await store.cas(key("a"), bytes("v2"), "not-a-version", 0)).to.equal(false);
      expect(await store.cas(key("a"), bytes("v2"), "18446744073709551615", 0)).to.equal(false);
      expect(await store.cas(key("a"), bytes("v2"), "99999999999999999999", 0)).to.equal(false); // over 64 bits
      expect(Buffer.from((await store.get(key("a")))!.value).toString()).to.equal("v1");
    });

    it("gives a new version on every write but keeps it on touch", async () => {
      const versions: string[] = [];
      const current = async () => (await store.get(key("a")))!.version;
      await store.add(key("a"), bytes("1"), 0);
      versions.push(await current());
      await store.set(key("a"), bytes("2"), 0);
      versions.push(await current());
      await store.set(key("a"), bytes("2"), 0); // same bytes: still a write
      versions.push(await current());
      expect(await store.cas(key("a"), bytes("3"), versions.at(-1)!, 0)).to.equal(true);
      versions.push(await current());
      expect(new Set(versions).size).to.equal(4);
      expect(await store.touch(key("a"), 60)).to.equal(true);
      expect(await current()).to.equal(versions.at(-1));
    });

    it("overwrites a value with set", async () => {
      await store.set(key("a"), bytes("old"), 0);
      await store.set(key("a"), bytes("new"), 0);
      expect(Buffer.from((await store.get(key("a")))!.value).toString()).to.equal("new");
    });

    it("reads several keys at once, leaving out the missing ones", async () => {
      await store.set(key("one"), bytes("1"), 0);
      await store.set(key("three"), bytes("3"), 0);
      const found = await store.getMany([key("one"), key("two"), key("three")]);
      expect([...found.keys()].sort()).to.deep.equal([key("one"), key("three")].sort());
      expect(Buffer.from(found.get(key("three"))!.value).toString()).to.equal("3");
      expect(found.get(key("one"))!.version).to.equal((await store.get(key("one")))!.version);
      expect((await store.getMany([])).size).to.equal(0);
    });

    it("reads hundreds of keys in one getMany", async () => {
      const keys = Array.from({ length: 300 }, (_, i) => key(`many-${i}`));
      await Promise.all(keys.filter((_, i) => i % 3 !== 0).map((k) => store.set(k, bytes(k), 0)));
      const found = await store.getMany(keys);
      expect(found.size).to.equal(200);
      for (const [k, v] of found) expect(Buffer.from(v.value).toString()).to.equal(k);
    });

    it("appends bytes to an existing value and answers false for an absent key", async () => {
      expect(await store.append(key("absent"), bytes("x"))).to.equal(false);
      expect(await store.get(key("absent"))).to.equal(undefined);
      await store.set(key("log"), bytes("one\n"), 0);
      const before = (await store.get(key("log")))!.version;
      expect(await store.append(key("log"), bytes("two\n"))).to.equal(true);
      expect(await store.append(key("log"), new Uint8Array([0, 255]))).to.equal(true);
      const read = await store.get(key("log"));
      expect(Buffer.from(read!.value).equals(Buffer.concat([bytes("one\ntwo\n"), Buffer.from([0, 255])]))).to.equal(true);
      // An append racing with a read-modify-write makes that write's compare-and-swap fail: nothing lost.
      expect(read!.version).to.not.equal(before);
      expect(await store.cas(key("log"), bytes("compacted"), before, 0)).to.equal(false);
    });

    it("refuses an append past the item size, keeping the value", async () => {
      await store.set(key("full"), Buffer.alloc(600 * 1024, 1), 0);
      expect(await store.append(key("full"), Buffer.alloc(600 * 1024, 2))).to.equal(false);
      expect((await store.get(key("full")))!.value.byteLength).to.equal(600 * 1024);
    });

    it("keeps an item's lifetime when appending to it", async () => {
      await store.set(key("short"), bytes("a"), 1);
      expect(await store.append(key("short"), bytes("b"))).to.equal(true);
      // memcached's clock ticks once a second: the item goes within about 2 s of its write, append or not.
      await eventually(
        "the appended item to expire with the lifetime it was set with",
        async () => !(await store.get(key("short"))),
        {
          timeoutMs: 4000,
          intervalMs: 100,
        },
      );
    });

    it("touches only keys that exist", async () => {
      expect(await store.touch(key("absent"), 60)).to.equal(false);
      await store.set(key("present"), bytes("x"), 0);
      expect(await store.touch(key("present"), 60)).to.equal(true);
    });

    it("expires items after their lifetime unless touched or given none", async () => {
      await store.set(key("set"), bytes("x"), 1);
      expect(await store.add(key("added"), bytes("x"), 1)).to.equal(true);
      await store.set(key("cas"), bytes("x"), 0);
      const read = await store.get(key("cas"));
      expect(await store.cas(key("cas"), bytes("y"), read!.version, 1)).to.equal(true);
      await store.set(key("touched"), bytes("x"), 1);
      expect(await store.touch(key("touched"), 60)).to.equal(true);
      await store.set(key("forever"), bytes("x"), 0);
      await store.set(key("shortened"), bytes("x"), 0);
      expect(await store.touch(key("shortened"), 1)).to.equal(true);
      expect(await store.get(key("set"))).to.not.equal(undefined);

      // A real timer: memcached's own clock (it ticks once a second, so a 1 s item goes within 1..2 s; no
      // fake clock reaches into memcached). Polled, not slept: it returns as soon as the items are gone.
      await eventually(
        "the 1-second items to expire",
        async () => {
          for (const gone of ["set", "added", "cas", "shortened"]) {
            expect(await store.get(key(gone)), gone).to.equal(undefined);
          }
        },
        { timeoutMs: 4000, intervalMs: 100 },
      );
      expect(await store.get(key("touched"))).to.not.equal(undefined);
      expect(await store.get(key("forever"))).to.not.equal(undefined);
      expect(await store.touch(key("set"), 60)).to.equal(false);
      expect(await store.cas(key("cas"), bytes("z"), read!.version, 0)).to.equal(false);
      expect(await store.add(key("added"), bytes("again"), 0)).to.equal(true);
    });

    it("reads a lifetime over 30 days as a Unix time", async () => {
      const inAnHour = Math.floor(Date.now() / 1000) + 3600;
      await store.set(key("future"), bytes("x"), inAnHour);
      await store.set(key("past"), bytes("x"), MAX_LIFETIME_SECONDS + 1); // 1970 plus 30 days: long gone
      expect(await store.get(key("future"))).to.not.equal(undefined);
      expect(await store.get(key("past"))).to.equal(undefined);
    });

    it("deletes a key that exists and answers false for one that does not", async () => {
      await store.set(key("a"), bytes("x"), 0);
      expect(await store.delete(key("a"))).to.equal(true);
      expect(await store.get(key("a"))).to.equal(undefined);
      expect(await store.delete(key("a"))).to.equal(false);
    });

    it("round-trips all 256 byte values exactly", async () => {
      const all = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
      await store.set(key("bytes"), all, 0);
      expect(Buffer.from((await store.get(key("bytes")))!.value).equals(all)).to.equal(true);
      expect(Buffer.from((await store.getMany([key("bytes")])).get(key("bytes"))!.value).equals(all)).to.equal(true);
    });

    it("round-trips a 500 KB value exactly", async () => {
      const big = randomBytes(500 * 1024);
      expect(await store.add(key("big"), big, 0)).to.equal(true);
      const read = await store.get(key("big"));
      expect(read!.value.byteLength).to.equal(big.length);
      expect(Buffer.from(read!.value).equals(big)).to.equal(true);
    });

    it("stores plain Uint8Arrays and empty values as bytes", async () => {
      const view = new Uint8Array([0, 1, 2, 3, 4, 5]).subarray(2, 5);
      await store.set(key("view"), view, 0);
      expect([...(await store.get(key("view")))!.value]).to.deep.equal([2, 3, 4]);
      await store.set(key("empty"), new Uint8Array(0), 0);
      expect((await store.get(key("empty")))!.value.byteLength).to.equal(0);
    });

    it("keeps stored bytes out of callers' reach", async () => {
      const value = bytes("abc");
      await store.set(key("a"), value, 0);
      value[0] = 0x7a; // the caller reuses its buffer
      const read = await store.get(key("a"));
      read!.value[1] = 0x7a; // the caller scribbles on what it read
      expect(Buffer.from((await store.get(key("a")))!.value).toString()).to.equal("abc");
    });

    it("appends to an existing value with a new version, and refuses to append to an absent key", async () => {
      expect(await store.append(key("log"), bytes("b"))).to.equal(false);
      expect(await store.get(key("log"))).to.equal(undefined);
      await store.set(key("log"), bytes("a"), 0);
      const before = (await store.get(key("log")))!;
      expect(await store.append(key("log"), bytes("bc"))).to.equal(true);
      const after = (await store.get(key("log")))!;
      expect(Buffer.from(after.value).toString()).to.equal("abc");
      expect(after.version).to.not.equal(before.version);
      expect(await store.cas(key("log"), bytes("x"), before.version, 0)).to.equal(false);
    });

    it("counts: an absent counter reads undefined until created, steps up and down, and stops at 0", async () => {
      expect(await store.counter(key("c"), 0, false)).to.equal(undefined);
      expect(await store.counter(key("c"), 1, false)).to.equal(undefined);
      expect(await store.get(key("c"))).to.equal(undefined);
      expect(await store.counter(key("c"), 1, true)).to.equal(1);
      expect(await store.counter(key("c"), 2, true)).to.equal(3);
      expect(await store.counter(key("c"), 0, false)).to.equal(3);
      expect(await store.counter(key("c"), -2, false)).to.equal(1);
      expect(await store.counter(key("c"), -5, false)).to.equal(0);
      expect(await store.counter(key("c"), -1, true)).to.equal(0);
      expect(await store.counter(key("d"), -3, true)).to.equal(0);
      // Concurrent steps are atomic: none is lost.
      await Promise.all(Array.from({ length: 20 }, () => store.counter(key("e"), 1, true)));
      expect(await store.counter(key("e"), 0, false)).to.equal(20);
      expect(await rejection(store.counter(key("e"), 1.5, false))).to.be.instanceOf(RangeError);
    });

    it("rejects a value over the 1 MB item limit and stays usable", async () => {
      const err = await rejection(store.set(key("huge"), Buffer.alloc(2 * 1024 * 1024, 1), 0));
      expect(err).to.not.be.instanceOf(StoreUnavailableError);
      expect(await store.get(key("huge"))).to.equal(undefined);
      await store.set(key("small"), bytes("fine"), 0);
      expect(Buffer.from((await store.get(key("small")))!.value).toString()).to.equal("fine");
    });

    it("refuses keys that memcached's protocol cannot carry", async () => {
      for (const bad of ["", "has space", "line\r\nbreak", "x".repeat(251), "caf\u00e9"]) {
        expect(await rejection(store.get(bad)), JSON.stringify(bad)).to.be.instanceOf(TypeError);
        expect(await rejection(store.set(bad, bytes("x"), 0)), JSON.stringify(bad)).to.be.instanceOf(TypeError);
      }
      await store.set("x".repeat(250), bytes("longest"), 0);
      expect(Buffer.from((await store.get("x".repeat(250)))!.value).toString()).to.equal("longest");
    });

    it("answers ping, and refuses every call once closed", async () => {
      await store.ping();
      await store.close();
      expect(await rejection(store.ping())).to.be.instanceOf(StoreUnavailableError);
      expect(await rejection(store.get(key("a")))).to.be.instanceOf(StoreUnavailableError);
      expect(await rejection(store.set(key("a"), bytes("x"), 0))).to.be.instanceOf(StoreUnavailableError);
    });
  });
}
