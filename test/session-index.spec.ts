// The session index: O(1) store work per create whatever the namespace's size, every live session listed
// once, dead ones pruned, segments past the item size, and a lost index item healed by the next write.
// On the memory store with an injected clock (memcached's own behaviour is the conformance spec's).
import { expect } from "chai";
import { Keys } from "../server/core/keys.js";
import { createSessionCore, type SessionCore } from "../server/core/session-core.js";
import { createMemoryStore, type MemoryStore } from "../server/store/memory-store.js";
import type { Store } from "../server/store/store.js";

const ns = "Index";
const timeoutSeconds = 600; // index period: max(1 s, resolution 60 s, 600 / 32 s) = 60 s

/** countingStore counts the commands sent to index keys (`:i:`), by command name. */
function countingStore(store: Store): { store: Store; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const counted = Object.create(store) as Store;
  for (const name of ["get", "cas", "add", "set", "append", "touch", "delete"] as const) {
    const method = store[name] as (key: string, ...rest: unknown[]) => Promise<unknown>;
    (counted as unknown as Record<string, unknown>)[name] = (key: string, ...rest: unknown[]) => {
      if (key.includes(":i:")) counts.set(name, (counts.get(name) ?? 0) + 1);
      return method.call(store, key, ...rest);
    };
  }
  counted.getMany = (keys) => store.getMany(keys);
  return { store: counted, counts };
}

async function listAll(core: SessionCore, pageSize = 50): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = "";
  do {
    const page = await core.listSessions(ns, pageSize, pageToken);
    ids.push(...page.sessions.map((s) => s.sessionId));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return ids;
}

describe("the session index", () => {
  let nowMs: number;
  let memory: MemoryStore;
  let errors: string[];
  const clock = () => nowMs;
  const logger = { warn() {}, error: (_: object, msg: string) => void errors.push(msg) };
  const make = (store: Store = memory, indexShards = 8) =>
    createSessionCore(store, { timeoutSeconds, now: clock, indexShards }, logger);

  beforeEach(() => {
    nowMs = Date.UTC(2026, 0, 1);
    errors = [];
    memory = createMemoryStore({ now: clock, sweepIntervalMs: 0 });
  });
  afterEach(() => memory.close());

  it("costs the same store commands per create at 100 and at 5,000 sessions in a namespace", async () => {
    const { store, counts } = countingStore(memory);
    const core = make(store);
    for (let i = 0; i < 100; i++) await core.createSession(ns);
    const atHundred = new Map(counts);
    for (let i = 100; i < 5000; i++) await core.createSession(ns);
    counts.clear();
    for (let i = 0; i < 100; i++) await core.createSession(ns);
    // One append per create; an `add` only for the few items created (none here: all exist by now).
    expect(counts.get("append")).to.equal(100);
    expect(counts.get("cas") ?? 0).to.equal(0);
    expect(counts.get("get") ?? 0).to.equal(0);
    expect(atHundred.get("append")).to.equal(100);
    expect(atHundred.get("add")).to.be.within(1, 8); // one per shard item created
    expect((await listAll(core, 1000)).length).to.equal(5100);
  });

  it("lists each live session exactly once across pages, and prunes deleted ones from the index", async () => {
    const core = make();
    const ids = new Set<string>();
    for (let i = 0; i < 300; i++) ids.add((await core.createSession(ns)).sessionId);
    const deleted = [...ids].slice(0, 100);
    for (const id of deleted) await core.delete(ns, id, "", []);
    const listed = await listAll(core, 7);
    expect(listed.length).to.equal(new Set(listed).size);
    expect(new Set(listed)).to.deep.equal(new Set([...ids].filter((id) => !deleted.includes(id))));
    const entries = await indexEntries(memory);
    expect(entries).to.have.length(200); // the listing compacted the deleted ids away
  });

  it("lists a session once although it was written in several periods, and forgets expired ones", async () => {
    const core = make();
    await core.set(ns, "old", "p", { a: 1 });
    await core.set(ns, "busy", "p", { a: 1 });
    for (let minute = 1; minute <= 11; minute++) {
      nowMs += 60_000;
      await core.set(ns, "busy", "p", { a: minute }); // a write in each new period appends once more
    }
    expect((await indexEntries(memory)).filter((id) => id === "busy")).to.have.length(12);
    expect(await listAll(core)).to.deep.equal(["busy"]); // "old" idled 11 minutes: past its 10-minute timeout
  });

  it("lists again, after its next write in a later period, a session whose index item was lost", async () => {
    const core = make();
    await core.set(ns, "survivor", "p", { a: 1 });
    for (const key of await indexKeys(memory)) await memory.delete(key); // the node holding it restarted
    expect(await listAll(core)).to.deep.equal([]);
    nowMs += 60_000;
    await core.set(ns, "survivor", "p", { a: 2 });
    expect(await listAll(core)).to.deep.equal(["survivor"]);
  });

  it("goes on in a next segment when an index item is full, and says loudly when every segment is", async () => {
    const small = createMemoryStore({ now: clock, sweepIntervalMs: 0, maxValueBytes: 4096 });
    try {
      const core = make(small, 1);
      const ids = new Set<string>();
      for (let i = 0; i < 600; i++) ids.add((await core.createSession(ns)).sessionId); // 33 bytes each: 5 segments of 4 KB
      expect(new Set(await listAll(core, 1000))).to.deep.equal(ids);
      expect(errors).to.deep.equal([]);
      for (let i = 0; i < 2000; i++) await core.createSession(ns); // past 16 segments
      expect(errors.length).to.be.greaterThan(0);
      expect(errors[0]).to.match(/session index full/);
    } finally {
      await small.close();
    }
  });

  it("keeps an id appended while a listing compacts the same item", async () => {
    const core = make(memory, 1);
    const { sessionId: doomed } = await core.createSession(ns);
    await core.delete(ns, doomed, "", []);
    // The listing reads the item, finds `doomed` dead; a create appends before the compaction's cas.
    const racing = Object.create(memory) as Store;
    let created: string | undefined;
    racing.cas = async (key, value, version, lifetime) => {
      if (key.includes(":i:") && created === undefined) created = (await core.createSession(ns)).sessionId;
      return memory.cas(key, value, version, lifetime);
    };
    const lister = createSessionCore(racing, { timeoutSeconds, now: clock, indexShards: 1 }, logger);
    expect(await listAll(lister)).to.deep.equal([]);
    expect(created).to.be.a("string");
    expect(await listAll(core)).to.deep.equal([created]);
  });

  it("lists nothing after InvalidateAll", async () => {
    const core = make();
    for (let i = 0; i < 20; i++) await core.createSession(ns);
    await core.invalidateAll(ns);
    expect(await listAll(core)).to.deep.equal([]);
  });
});

// indexKeys finds the index items of the namespace's current generation through the keys sessiond uses.
async function indexKeys(store: MemoryStore): Promise<string[]> {
  const generation = Buffer.from((await store.get(new Keys("sd1").generation(ns)))!.value).toString("latin1");
  const keys: string[] = [];
  const base = new Keys("sd1");
  const nowPeriod = Math.floor(Date.UTC(2026, 0, 1) / 60_000);
  for (let p = nowPeriod; p <= nowPeriod + 20; p++) {
    for (let shard = 0; shard < 8; shard++) {
      const key = base.indexItem(ns, generation, p, shard);
      if ((await store.get(key)) !== undefined) keys.push(key);
    }
  }
  return keys;
}

async function indexEntries(store: MemoryStore): Promise<string[]> {
  const entries: string[] = [];
  for (const key of await indexKeys(store)) {
    entries.push(
      ...Buffer.from((await store.get(key))!.value)
        .toString("latin1")
        .split("\n")
        .filter(Boolean),
    );
  }
  return entries;
}
