/**
 * fresh-read-cost measures what issue 18 adds per call: the CPU of a Get, a Set and a transaction (begin,
 * get, set, commit) through the session core of today's code against the core as of 46994b2 (which trusted
 * a cached generation and stamp), each over its own build's memcached store on one real memcached
 * (`npx tsx bench/fresh-read-cost.ts [calls]`, default 20,000 calls a round). Both builds are compiled with
 * tsc as `npm start` runs them; 64 sessions of the bench's ~1 KB package, 64 calls at a time, 7 rounds, the
 * two cores interleaved and the median of each taken. CPU is this process's (the core and memcache-client)
 * plus memcached's: what one more key read beside each session costs both. Little moved by other work on
 * the machine, unlike `npm run bench`'s throughput rows (`--only get-cached,get-fresh,...`).
 */
import { compiledTree, killAll } from "./lib/child-processes.js";
import { cpuSeconds } from "./lib/proc-stats.js";
import { startMemcached } from "./lib/servers.js";
import { sessionPayload } from "./lib/workload.js";

const BEFORE = "46994b2";
const CALLS = Number(process.argv[2] ?? 20_000);
const ROUNDS = 7;

// Core is the part of SessionCore both versions share.
interface Core {
  createSession(ns: string): Promise<{ sessionId: string }>;
  get(ns: string, id: string, pkg: string, keys: string[]): Promise<unknown>;
  set(ns: string, id: string, pkg: string, data: object): Promise<void>;
  begin(
    ns: string,
    id: string,
  ): Promise<{ get(p: string, k: string[]): unknown; set(p: string, d: object): unknown; commit(): Promise<void> }>;
}

async function load(tree: string, memcached: string): Promise<Core> {
  const { createSessionCore } = await import(`${tree}/server/core/session-core.js`);
  const { createMemcachedStore } = await import(`${tree}/server/store/memcached-store.js`);
  return createSessionCore(createMemcachedStore({ servers: [memcached] }), {});
}

const memcached = await startMemcached();
try {
  const cores = {
    before: await load(compiledTree(BEFORE), memcached.address),
    today: await load(compiledTree(), memcached.address),
  };
  const ids = new Map<Core, string[]>();
  for (const core of Object.values(cores)) {
    const list: string[] = [];
    for (let i = 0; i < 64; i++) {
      const { sessionId } = await core.createSession("bench");
      await core.set("bench", sessionId, "p", sessionPayload());
      list.push(sessionId);
    }
    ids.set(core, list);
  }
  const calls = {
    Get: (core: Core, id: string) => core.get("bench", id, "p", []).then(() => undefined),
    Set: (core: Core, id: string, i: number) => core.set("bench", id, "p", { visits: i }),
    Tx: async (core: Core, id: string, i: number) => {
      const tx = await core.begin("bench", id);
      tx.get("p", []);
      tx.set("p", { visits: i });
      await tx.commit();
    },
  };
  // micros runs CALLS calls of one kind through one core; answers CPU microseconds per call (this process + memcached).
  async function micros(core: Core, call: (core: Core, id: string, i: number) => Promise<void>): Promise<number> {
    const list = ids.get(core)!;
    const started = process.cpuUsage();
    const mcStarted = cpuSeconds(memcached.pid);
    for (let i = 0; i < CALLS; i += list.length) await Promise.all(list.map((id) => call(core, id, i)));
    const used = process.cpuUsage(started);
    return (used.user + used.system + (cpuSeconds(memcached.pid) - mcStarted) * 1e6) / CALLS;
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
  process.stdout.write(`CPU per call (this process + memcached), medians of ${ROUNDS} rounds of ${CALLS} calls:\n`);
  for (const [name, call] of Object.entries(calls)) {
    await micros(cores.before, call); // warm-up of both, not counted
    await micros(cores.today, call);
    const before: number[] = [];
    const today: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Every other round in the other order: a drift over the run falls on both sides.
      if (round % 2 === 0) {
        before.push(await micros(cores.before, call));
        today.push(await micros(cores.today, call));
      } else {
        today.push(await micros(cores.today, call));
        before.push(await micros(cores.before, call));
      }
    }
    const [b, t] = [median(before), median(today)];
    process.stdout.write(
      `${name.padEnd(3)} ${BEFORE} ${b.toFixed(1)} us, today ${t.toFixed(1)} us: calls per CPU ${(b / t).toFixed(2)}x\n`,
    );
  }
} finally {
  await memcached.stop();
  killAll();
}
