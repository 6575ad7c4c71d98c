import { performance } from "node:perf_hooks";
import { checkHistory, type Violation } from "../checker.js";
import type { History } from "../history.js";
import type { WorkloadOptions } from "../workload.js";
import type { NemesisAction, NemesisOptions } from "./nemesis.js";
import { recordTorture } from "./record-torture.js";
import type { Variant } from "./torture-cluster.js";

/** TortureOptions choose a torture run; `runTorture` documents it. */
export interface TortureOptions {
  variant: Variant;
  /** seed draws the workload's steps and the nemesis's schedule (the processes' timing is not replayable). */
  seed: number;
  /** durationMs is how long the workload and the nemesis run, before the final reads. */
  durationMs: number;
  /** sessiond is the built sessiond to run (`.../server/main.js`), e.g. an older commit's. Default: this repository's dist/. */
  sessiond?: string;
  /** workers is how many workload callers run at once, spread over the instances. Default: 6. */
  workers?: number;
  /** log is told what the nemesis does, as it does it. Default: nothing. */
  log?: (message: string) => void;
  /** nemesis paces the faults. Default: `defaultNemesisOptions`. */
  nemesis?: NemesisOptions;
  /** weights override the workload's step weights (sim/workload.ts). Default: the workload's. */
  weights?: WorkloadOptions["weights"];
}

/** TortureResult is a checked run: its history, what the checker found, what the nemesis did. */
export interface TortureResult {
  history: History;
  violations: Violation[];
  /** actions counts what the nemesis completed, by kind (faults and races). */
  actions: Map<NemesisAction, number>;
  /** wallMs is the run's time from the processes' start to the checked history. */
  wallMs: number;
  /** checkMs is the part of wallMs the checker took. */
  checkMs: number;
}

/**
 * runTorture records a run on real processes (`recordTorture`: 3 memcached, 3 sessiond, the workload, the
 * nemesis) and checks its history with the simulation's checker, once every process is stopped (a long
 * check holds no process up, and an interrupted one leaves none behind).
 */
export async function runTorture(options: TortureOptions): Promise<TortureResult> {
  const started = performance.now();
  const { history, actions } = await recordTorture(options, () => performance.now() - started);
  const checking = performance.now();
  const violations = checkPerNamespace(history);
  const checkMs = performance.now() - checking;
  return { history, violations, actions, wallMs: performance.now() - started, checkMs };
}

/**
 * checkPerNamespace runs `checkHistory` on each namespace's operations (with every fault) and merges the
 * violations as it orders them, shortest first. Every rule is about one namespace (a session's list, the
 * InvalidateAll and revocations of its namespace, a namespace's listings), and the checker's cost grows
 * faster than the history: a minute of real processes is thousands of operations. An element read in
 * another namespace's session is still reported (as never appended there).
 */
export function checkPerNamespace(history: History): Violation[] {
  const namespaces = [...new Set(history.ops.map((op) => op.namespace))];
  return namespaces
    .flatMap((namespace) => checkHistory({ ops: history.ops.filter((op) => op.namespace === namespace), faults: history.faults }))
    .sort((a, b) => a.ops.length - b.ops.length || a.ops[0]!.index - b.ops[0]!.index);
}
