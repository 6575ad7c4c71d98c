// The replicated register beneath namespace generations and principal stamps, against real memcached
// (a pool of three, one copy per node): first writer wins between rivals of one rank, before anyone uses a
// value; a read prefers the first copy's value; a copy read beside another key lives on that key's node.
import { expect } from "chai";
import { type RegisterCodec, ReplicatedRegister } from "../server/core/replicated-register.js";
import { createKeyRing } from "../server/store/key-ring.js";
import { createMemcachedStore } from "../server/store/memcached-store.js";
import type { Store } from "../server/store/store.js";
import { type MemcachedProcess, startMemcachedPool } from "./helpers/memcached.js";
import { uniqueKeys } from "./helpers/store-conformance.js";

/** Tagged is a value of the test register: a rank, and a tag that tells rivals of one rank apart. */
interface Tagged {
  rank: number;
  tag: string;
}

const codec: RegisterCodec<Tagged> = {
  encode: (v) => Buffer.from(`${v.rank}.${v.tag}`),
  decode(bytes) {
    const match = /^(\d+)\.(\w+)$/.exec(Buffer.from(bytes).toString());
    return match ? { rank: Number(match[1]), tag: match[2]! } : undefined;
  },
  compare: (a, b) => a.rank - b.rank,
  equal: (a, b) => a.rank === b.rank && a.tag === b.tag,
};

describe("the replicated register over a pool of three memcached", function () {
  this.timeout(20_000);
  let pool: MemcachedProcess[];
  let store: Store;
  let register: ReplicatedRegister<Tagged>;
  const key = uniqueKeys("register");

  before(async () => {
    pool = await startMemcachedPool(3);
    store = createMemcachedStore({ servers: pool.map((m) => m.address) });
    register = new ReplicatedRegister(store, codec);
  });
  after(async () => {
    await store?.close();
    for (const m of pool ?? []) await m.stop();
  });

  const copies = async (name: string) =>
    Promise.all(store.replicaKeys(key(name)).map(async (k) => codec.decode((await store.get(k))!.value)));

  it("settles rival proposals of one rank on the one written first, on every copy, before any answers", async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => register.settle(key("race"), { rank: 0, tag: `t${i}` }, 0)),
    );
    const decided = answers[0]!;
    expect(
      answers.every((a) => codec.equal(a, decided)),
      "every racer answers one value",
    ).to.equal(true);
    for (const copy of await copies("race")) expect(copy).to.deep.equal(decided);
    // A later proposal of the same rank adopts it; a higher rank moves every copy.
    expect(await register.settle(key("race"), { rank: 0, tag: "late" }, 0)).to.deep.equal(decided);
    const next = await register.settle(key("race"), { rank: 1, tag: "next" }, 0);
    expect(next).to.deep.equal({ rank: 1, tag: "next" });
    for (const copy of await copies("race")) expect(copy).to.deep.equal(next);
  });

  it("replaces a rival left on another copy by the first copy's value, and a read prefers the first copy", async () => {
    const [first, second, third] = store.replicaKeys(key("split"));
    await store.set(first!, codec.encode({ rank: 3, tag: "first" }), 0);
    await store.set(second!, codec.encode({ rank: 3, tag: "rival" }), 0);
    await store.set(third!, codec.encode({ rank: 2, tag: "old" }), 0);
    expect(await register.readAll(key("split"), 0)).to.deep.equal({ rank: 3, tag: "first" });
    expect(await register.settle(key("split"), { rank: 3, tag: "mine" }, 0)).to.deep.equal({ rank: 3, tag: "first" });
    for (const copy of await copies("split")) expect(copy).to.deep.equal({ rank: 3, tag: "first" });
  });

  it("names as a key's near copy the one on that key's own node", () => {
    const ring = createKeyRing(pool.map((m) => m.address));
    const nodes = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const near = key(`session-${i}`);
      const copy = register.nearKey(key("near"), near);
      expect(store.replicaKeys(key("near"))).to.include(copy);
      expect(ring.serverFor(copy)).to.equal(ring.serverFor(near));
      nodes.add(ring.serverFor(near));
    }
    expect(nodes.size, "the keys spread over every node").to.equal(3);
  });
});
