import type { History } from "./history.js";
import { createRandom } from "./random.js";
import { Recorder } from "./recorder.js";
import type { WorkloadClient } from "./workload-client.js";
import { WorkloadState } from "./workload-state.js";

export { type OpFields, outcomeOf, Recorder } from "./recorder.js";

/** Step is one move of a workload worker: an operation, or a short scenario aimed at a known race. */
export type Step =
  | "append"
  | "read"
  | "create"
  | "rotate"
  | "bind"
  | "delete"
  | "invalidate"
  | "revoke"
  | "list"
  | "list-principal"
  /** two instances send InvalidateAll of one namespace at once */
  | "race-invalidate"
  /** InvalidateAll answers on one instance; at once another creates and writes a session */
  | "invalidate-then-write"
  /** RevokeSessions answers on one instance; at once another reads the principal's sessions */
  | "revoke-then-read"
  /** a namespace never used before, created in on every instance at once */
  | "fresh-namespace";

/** DEFAULT_WEIGHTS say how often each step is chosen (relative). */
export const DEFAULT_WEIGHTS: Readonly<Record<Step, number>> = {
  append: 30,
  read: 22,
  create: 8,
  rotate: 4,
  bind: 5,
  delete: 2,
  invalidate: 3,
  revoke: 3,
  list: 3,
  "list-principal": 3,
  "race-invalidate": 2,
  "invalidate-then-write": 3,
  "revoke-then-read": 3,
  "fresh-namespace": 2,
};

/** WorkloadOptions shape a run of the list-append workload; `runWorkload` documents the run. */
export interface WorkloadOptions {
  /** seed chooses every step, session, instance, element and pause. */
  seed: number | string;
  /** namespaces the workload may use: it starts in the first two and brings in the others one by one. */
  namespaces: readonly string[];
  /** principals sessions are bound to and revoked. */
  principals: readonly string[];
  /** ops bounds the steps taken by all workers together (a scenario is one step of several operations). */
  ops: number;
  /** workers is how many callers run steps concurrently. */
  workers: number;
  /** thinkMs is the longest pause of a worker between steps (often none: races want back-to-back calls). */
  thinkMs: number;
  /** settleMs is the pause before the final reads and listings (past every cache of the old code). */
  settleMs: number;
  /** now is the recorder's clock in ms (virtual in the simulation, performance.now() on real processes). */
  now: () => number;
  /** pause waits ms on the run's clock. Default: setTimeout (virtual in the simulation). */
  pause?: (ms: number) => Promise<void>;
  /** shouldStop ends the run early (a time budget). */
  shouldStop?: () => boolean;
  /** weights override DEFAULT_WEIGHTS. */
  weights?: Partial<Record<Step, number>>;
}

/**
 * runWorkload runs the list-append workload over `clients` (instances of one sessiond pool) and answers its
 * History. Workers start together, each creating and writing a session of the first namespace through its
 * own instance (a fresh namespace's first use from every instance at once); then each takes `ops` steps in
 * all, chosen by the seed: list-append transactions (each appends an element unique in the run), reads,
 * creations, rotations, bindings, deletions, InvalidateAll, revocations, listings and race scenarios.
 * Once done, it waits `settleMs` and reads every session and listing through every instance. Faults are
 * for the caller to inject meanwhile (`recorder.fault` records them).
 */
export async function runWorkload(
  clients: readonly WorkloadClient[],
  options: WorkloadOptions,
  recorder: Recorder = new Recorder(options.now),
): Promise<History> {
  const random = createRandom(options.seed);
  const weights = { ...DEFAULT_WEIGHTS, ...options.weights };
  const pause = options.pause ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const state = new WorkloadState(clients, options, recorder, random);
  let steps = 0;
  const worker = async (w: number) => {
    const client = clients[w % clients.length]!;
    const first = await state.create(client, options.namespaces[0]!, random.chance(0.5) ? random.pick(options.principals) : "");
    if (first) await state.use(first, false, () => state.append(client, first));
    while (steps < options.ops && !options.shouldStop?.()) {
      steps++;
      await state.step(random.weighted(weights));
      if (random.chance(0.6)) await pause(random.between(0, options.thinkMs));
    }
  };
  await Promise.all(Array.from({ length: options.workers }, (_, w) => worker(w)));
  await pause(options.settleMs);
  await state.finalReads();
  return recorder.finish();
}
