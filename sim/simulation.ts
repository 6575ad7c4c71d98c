import { createHash } from "node:crypto";
import { Keys } from "../server/core/keys.js";
import type { CoreOptions } from "../server/core/options.js";
import { checkHistory, type Violation } from "./checker.js";
import { coreClient, SimInstance } from "./core-client.js";
import { enterWorld } from "./determinism.js";
import type { Fault, History } from "./history.js";
import { createRandom } from "./random.js";
import { Scheduler } from "./scheduler.js";
import { SimPool } from "./sim-pool.js";
import { Recorder, runWorkload } from "./workload.js";

/** SeedResult is what one seed's run found: its history (and hash), the checker's verdict and counts. */
export interface SeedResult {
  seed: number;
  history: History;
  /** hash is sha256 of the history's JSON: the same seed gives the same hash. */
  hash: string;
  violations: Violation[];
  /** stuck says the run never finished (an operation hung with nothing left to happen). */
  stuck: boolean;
  events: number;
  virtualMs: number;
  config: SeedConfig;
}

/** SeedConfig is what the seed chose for the pool, the instances and the workload. */
export interface SeedConfig {
  nodes: number;
  instances: number;
  workers: number;
  ops: number;
  skewsMs: number[];
}

const START_MS = Date.UTC(2030, 0, 1);
const CMD_TIMEOUT_MS = 1000;
const BREAK_MS = 500;
const KEY_PREFIX = "sd1";

/**
 * runSeed runs one seed of the simulation: a pool of 2-4 simulated memcached, 2-3 instances of the real
 * core with clocks up to 300 ms apart, the list-append workload over them, and faults at moments the seed
 * picks (a node restarted empty, a node frozen then thawed, a reply lost after its write applied, an
 * instance crashed and restarted). The workload's history is then checked. `coreOptions` go to every
 * core (e.g. cache times, to explore); `maxSkewMs` bounds how far an instance's clock is off (documented
 * bound: STAMP_SKEW_SECONDS, 60 s; 300 ms by default here). Call `installDeterminism` once first.
 */
export async function runSeed(seed: number, coreOptions: Partial<CoreOptions> = {}, maxSkewMs = 300): Promise<SeedResult> {
  const r = createRandom(`config:${seed}`);
  const scheduler = new Scheduler(START_MS);
  enterWorld({ scheduler, random: createRandom(`core:${seed}`) });
  const netRandom = createRandom(`net:${seed}`);
  const slow = r.chance(0.3); // some seeds get long tails of message delays
  const pool = new SimPool(2 + r.int(3), () => scheduler.now(), {
    scheduler,
    random: netRandom,
    delayMs: () => (slow && netRandom.chance(0.05) ? netRandom.between(5, 40) : netRandom.between(0.05, 2)),
  });
  const recorder = new Recorder(() => scheduler.now() - START_MS);
  const config: SeedConfig = {
    nodes: pool.nodes.length,
    instances: 2 + r.int(2),
    workers: 3 + r.int(4),
    ops: 40 + r.int(60),
    skewsMs: [],
  };
  const instances = Array.from({ length: config.instances }, (_, i) => {
    const skew = r.chance(0.5) ? Math.round(r.between(-maxSkewMs, maxSkewMs)) : 0;
    config.skewsMs.push(skew);
    if (skew !== 0)
      recorder.fault({ kind: "clock-skew", target: `i${i}`, startMs: 0, endMs: 0, detail: `${skew > 0 ? "+" : ""}${skew} ms` });
    return new SimInstance(`i${i}`, pool, { now: () => Math.floor(scheduler.now()) + skew, indexShards: 4, ...coreOptions });
  });
  const restarts: Array<{ fault: Fault; held: Set<string> }> = [];
  scheduleFaults(r, scheduler, pool, instances, recorder, restarts);

  let history: History | undefined;
  const run = runWorkload(
    instances.map(coreClient),
    {
      seed: `workload:${seed}`,
      namespaces: ["n0", "n1", "n2", "n3", "n4"],
      principals: ["alice", "bob"],
      ops: config.ops,
      workers: config.workers,
      thinkMs: 20,
      settleMs: 2500,
      now: () => scheduler.now() - START_MS,
    },
    recorder,
  ).then((h) => {
    history = h;
  });
  const finished = await scheduler.runUntil(() => history !== undefined, { maxEvents: 3_000_000, maxMs: START_MS + 600_000 });
  enterWorld(undefined);
  void run;
  const final = history ?? recorder.finish();
  nameRestarts(restarts, recorder);
  const violations = checkHistory(final);
  if (!finished)
    violations.unshift({
      rule: "stuck",
      message: "the run never finished: an operation hung with nothing left to happen",
      ops: [],
    });
  const hash = createHash("sha256").update(JSON.stringify(final)).digest("hex");
  return {
    seed,
    history: final,
    hash,
    violations,
    stuck: !finished,
    events: scheduler.events,
    virtualMs: scheduler.now() - START_MS,
    config,
  };
}

// scheduleFaults picks 0-3 faults and their moments in the first 500 ms (while the workload is busy).
function scheduleFaults(
  r: ReturnType<typeof createRandom>,
  scheduler: Scheduler,
  pool: SimPool,
  instances: SimInstance[],
  recorder: Recorder,
  restarts: Array<{ fault: Fault; held: Set<string> }>,
) {
  const at = () => scheduler.now() - START_MS;
  const count = r.int(4);
  for (let f = 0; f < count; f++) {
    const kind = r.weighted({ restart: 2, freeze: 2, "reply-lost": 3, crash: 2 });
    const when = r.between(0, 500);
    const node = r.int(pool.nodes.length);
    if (kind === "restart") {
      const downMs = r.between(20, 300);
      scheduler.after(when, () => {
        const fault: Fault = {
          kind: "node-restart-empty",
          target: `m${node}`,
          startMs: at(),
          endMs: at() + downMs,
          sessions: [],
        };
        // Which sessions it held is told once the run is over: a creation or rotation answered after the
        // restart may have written its new id there before it.
        restarts.push({ fault, held: sessionKeysOn(pool, node) });
        recorder.fault(fault);
        pool.restartEmpty(node, downMs);
      });
    } else if (kind === "freeze") {
      const frozenMs = r.between(100, 2000);
      scheduler.after(when, () => {
        // Until the breakers of every instance closed again: commands of that window may have failed.
        const endMs = at() + frozenMs + BREAK_MS + CMD_TIMEOUT_MS * 1.25;
        recorder.fault({ kind: "node-freeze", target: `m${node}`, startMs: at(), endMs, detail: `${Math.round(frozenMs)} ms` });
        pool.freeze(node);
        scheduler.after(frozenMs, () => pool.thaw(node));
      });
    } else if (kind === "reply-lost") {
      scheduler.after(when, () => {
        recorder.fault({ kind: "reply-lost", target: `m${node}`, startMs: at(), endMs: at() + CMD_TIMEOUT_MS });
        pool.loseNextReply(node);
      });
    } else {
      const instance = r.pick(instances);
      const downMs = r.between(0, 300);
      scheduler.after(when, () => {
        recorder.fault({ kind: "instance-crash", target: instance.name, startMs: at(), endMs: at() + downMs });
        instance.crash();
        scheduler.after(downMs, () => instance.restart());
      });
    }
  }
}

// sessionKeysOn answers "namespace/hash of id" of every session record on a node (what a restart loses).
function sessionKeysOn(pool: SimPool, node: number): Set<string> {
  return new Set(
    pool.nodes[node]!.keys().flatMap((key) => {
      const match = /^[^:]+:([^:]+):[^:]+:s:([^:]+)$/.exec(key);
      return match ? [`${match[1]}/${match[2]}`] : [];
    }),
  );
}

// nameRestarts tells each restart which of the workload's sessions it held, now that every id is known.
function nameRestarts(restarts: ReadonlyArray<{ fault: Fault; held: Set<string> }>, recorder: Recorder): void {
  const keys = new Keys(KEY_PREFIX);
  const ids = recorder
    .namedIds()
    .map((n) => ({ hash: `${n.namespace}/${keys.sessionHash(n.sessionId)}`, name: `${n.namespace}/${n.session}` }));
  for (const { fault, held } of restarts) {
    fault.sessions = [...new Set(ids.filter((n) => held.has(n.hash)).map((n) => n.name))].sort();
  }
}
