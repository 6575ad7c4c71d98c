// ListSessions over real memcached: each live session once per full listing while others are created and
// deleted, and, in a pool, a lost node costs only the listings its index items held, healed by a later write.
import { expect } from "chai";
import { Keys } from "../server/core/keys.js";
import { createKeyRing } from "../server/store/key-ring.js";
import { createMemcachedStore } from "../server/store/memcached-store.js";
import { useSessiond } from "./helpers/fixture.js";
import { type MemcachedProcess, startMemcachedPool } from "./helpers/memcached.js";
import { type RunningSessiond, startSessiond } from "./helpers/sessiond.js";

/** listAll pages through a namespace and returns the ids in the order listed (duplicates kept). */
async function listAll(sessiond: RunningSessiond, namespace: string, pageSize: number): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = "";
  do {
    const page = await sessiond.call("listSessions", { namespace, pageSize, pageToken });
    ids.push(...page.sessions.map((s) => s.sessionId));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return ids;
}

describe("listing sessions while they come and go", function () {
  this.timeout(60_000);
  const env = useSessiond();
  const namespace = "Churn";

  it("lists every session live throughout exactly once, while others are created and deleted", async () => {
    const create = async () => (await env.sessiond.call("createSession", { namespace })).sessionId;
    const stable = await Promise.all(Array.from({ length: 300 }, create));
    const doomed = await Promise.all(Array.from({ length: 100 }, create));
    let churning = true;
    const born: string[] = [];
    const churn = (async () => {
      for (let i = 0; churning || i < doomed.length; i++) {
        if (i < doomed.length) await env.sessiond.call("delete", { namespace, sessionId: doomed[i]!, package: "" });
        born.push(await create());
      }
    })();
    const during = await listAll(env.sessiond, namespace, 37);
    churning = false;
    await churn;
    expect(during.length, "no session listed twice").to.equal(new Set(during).size);
    expect(during).to.include.members(stable);
    const after = await listAll(env.sessiond, namespace, 50);
    expect(new Set(after)).to.deep.equal(new Set([...stable, ...born]));
    expect(after.length).to.equal(stable.length + born.length);
  });
});

describe("listing sessions in a pool that loses a node", function () {
  this.timeout(60_000);
  const namespace = "LostIndex";
  const periodMs = 112_500; // max(1 s, resolution 60 s, 3600 s / 32): the default index period
  let nowMs = Math.floor(Date.now() / periodMs) * periodMs + 1000; // an injected clock, early in a period
  let pool: MemcachedProcess[];
  let servers: string[];
  let sessiond: RunningSessiond;

  before(async () => {
    pool = await startMemcachedPool(3);
    servers = pool.map((m) => m.address);
    sessiond = await startSessiond({ memcached: servers, core: { now: () => nowMs } });
  });
  after(async () => {
    await sessiond?.stop();
    for (const m of pool ?? []) await m.stop();
  });

  it("loses only the listings of the index items on the lost node, and lists a session again after its next write", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 90; i++) {
      const { sessionId } = await sessiond.call("createSession", { namespace });
      await sessiond.call("set", { namespace, sessionId, package: "p", data: { i } });
      ids.push(sessionId);
    }
    const store = createMemcachedStore({ servers });
    const generation = Buffer.from([...(await store.getMany(store.replicaKeys(`sd1:${namespace}:gen`))).values()][0]!.value);
    await store.close();
    const ring = createKeyRing(servers);
    const keys = new Keys("sd1");
    const period = Math.floor(nowMs / periodMs);
    const shardOf = (id: string) => {
      let hash = 0x811c9dc5; // FNV-1a, as SessionIndex.shardOf
      for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
      return (hash >>> 0) % 64;
    };
    const gen = generation.toString("latin1");
    const sessionNode = (id: string) => ring.serverFor(keys.session(namespace, gen, id));
    const indexNode = (id: string) => ring.serverFor(keys.indexItem(namespace, gen, period, shardOf(id)));
    const lost = servers[0]!;
    const unlisted = ids.filter((id) => sessionNode(id) !== lost && indexNode(id) === lost);
    expect(unlisted.length, "some live sessions are indexed on the lost node").to.be.greaterThan(0);

    await pool[0]!.restart();
    const listed = await listAll(sessiond, namespace, 100);
    expect(new Set(listed)).to.deep.equal(new Set(ids.filter((id) => sessionNode(id) !== lost && indexNode(id) !== lost)));

    nowMs += periodMs; // the next write of each session falls in a new period: it appends its id again
    for (const sessionId of unlisted) await sessiond.call("set", { namespace, sessionId, package: "p", data: { again: 1 } });
    expect(await listAll(sessiond, namespace, 100)).to.include.members(unlisted);
  });
});
