import type { Fault } from "../history.js";
import type { Random } from "../random.js";
import type { TortureCluster } from "./torture-cluster.js";

/**
 * NemesisAction is one thing the nemesis does to a running cluster: a fault of the processes (recorded in the
 * history's `faults`) or a race of namespace-wide operations (recorded as operations by the workload).
 */
export type NemesisAction = "instance-crash" | "node-freeze" | "node-restart-empty" | "invalidate-race" | "revoke-race";

/** NEMESIS_ACTIONS are every action, in the order a round starts from before it is shuffled. */
export const NEMESIS_ACTIONS: readonly NemesisAction[] = [
  "instance-crash",
  "node-freeze",
  "node-restart-empty",
  "invalidate-race",
  "revoke-race",
];

/**
 * FREEZE_AFTERMATH_MS is how long a node stays a fault after SIGCONT: a command that timed out during the
 * freeze opened sessiond's circuit breaker for that node (server/store/circuit-breaker.ts), whose commands
 * then fail fast until a probe, sent every `breakMs` (500 ms), is answered. Meanwhile a failed index append
 * (logged, not thrown) leaves a created session out of listings, which the checker excuses during a fault
 * only. 1.5 s: the breaker's period, a probe's answer, and room for a loaded machine.
 */
export const FREEZE_AFTERMATH_MS = 1500;

/** NemesisHooks are what the nemesis needs from the run around it. */
export interface NemesisHooks {
  cluster: TortureCluster;
  random: Random;
  /** now is the history's clock (ms). */
  now(): number;
  /** record adds a fault to the history. */
  record(fault: Fault): void;
  /**
   * lostSessions names the sessions ("ns/s7") whose record lived on `node`, for a node restarted empty:
   * `before` runs just before the kill (it may read the generation's copies there), `after` once the node is
   * back; the list it answers goes into the fault as it is and may be filled in later, when the run is over
   * (a session whose create was answered after the restart counts too).
   */
  lostSessions(node: string): { before(): Promise<void>; after(): Promise<string[]> };
  /** log is told of each action as it starts and ends (the CLI's --verbose). Default: nothing. */
  log?(message: string): void;
  /** race sends InvalidateAll (or a revocation of one principal) through several instances at once, recorded as operations. */
  race(kind: "invalidate" | "revoke"): Promise<void>;
}

/** NemesisOptions pace the nemesis (ms). */
export interface NemesisOptions {
  /** calmMs is the range of the quiet time between two actions, when the workload runs undisturbed. */
  calmMs: readonly [number, number];
  /** freezeMs is the range of a memcached freeze: longer than sessiond's memcached timeout (1 s), so calls fail. */
  freezeMs: readonly [number, number];
  /** downMs is the range of the time a crashed sessiond or a killed memcached stays down. */
  downMs: readonly [number, number];
  /** actions are the actions a round takes. Default: every one (`NEMESIS_ACTIONS`). */
  actions?: readonly NemesisAction[];
  /** rounds is how many whole rounds run before an abort is heeded, so a slow machine still sees every action. Default: 0. */
  rounds?: number;
}

/** defaultNemesisOptions pace a run so that every action happens within about 15 s and acknowledged writes follow each. */
export const defaultNemesisOptions: NemesisOptions = { calmMs: [800, 2000], freezeMs: [1200, 2500], downMs: [100, 1200] };

/**
 * runNemesis acts on the cluster until `signal` aborts, on a schedule drawn from the seed: rounds of every
 * action in a shuffled order (so a short run still sees each kind), a calm stretch between two; with
 * `options.rounds`, that many rounds complete whatever the signal says. It never
 * leaves a fault behind: a frozen node is resumed, a killed process restarted, before it returns. Answers
 * how many of each action it completed.
 */
export async function runNemesis(
  hooks: NemesisHooks,
  signal: AbortSignal,
  options: NemesisOptions = defaultNemesisOptions,
): Promise<Map<NemesisAction, number>> {
  const { cluster, random } = hooks;
  const done = new Map<NemesisAction, number>(NEMESIS_ACTIONS.map((a) => [a, 0]));
  const between = ([low, high]: readonly [number, number]) => Math.round(random.between(low, high));

  const actions: Record<NemesisAction, () => Promise<void>> = {
    async "instance-crash"() {
      const instance = random.pick(cluster.instances);
      const startMs = hooks.now();
      await instance.crash();
      await sleep(between(options.downMs));
      await instance.start();
      hooks.record({ kind: "instance-crash", target: instance.name, startMs, endMs: hooks.now() });
    },
    async "node-freeze"() {
      const node = random.pick(cluster.nodes);
      const startMs = hooks.now();
      await node.pause();
      try {
        await sleep(between(options.freezeMs));
      } finally {
        node.resume();
      }
      // The freeze lasts, for sessiond, until its circuit breaker's next probe is answered (see FREEZE_AFTERMATH_MS).
      hooks.record({ kind: "node-freeze", target: node.address, startMs, endMs: hooks.now() + FREEZE_AFTERMATH_MS });
    },
    async "node-restart-empty"() {
      const node = random.pick(cluster.nodes);
      const lost = hooks.lostSessions(node.address);
      await lost.before();
      const startMs = hooks.now();
      await node.stop();
      await sleep(between(options.downMs));
      await node.restart();
      const endMs = hooks.now();
      hooks.record({ kind: "node-restart-empty", target: node.address, startMs, endMs, sessions: await lost.after() });
    },
    "invalidate-race": () => hooks.race("invalidate"),
    "revoke-race": () => hooks.race("revoke"),
  };

  let rounds = 0;
  const stopping = () => signal.aborted && rounds >= (options.rounds ?? 0);
  while (!stopping()) {
    const round = [...(options.actions ?? NEMESIS_ACTIONS)];
    if (round.length === 0) await sleep(Number.POSITIVE_INFINITY, signal);
    for (let i = round.length - 1; i > 0; i--) {
      const j = random.int(i + 1);
      [round[i], round[j]] = [round[j]!, round[i]!];
    }
    for (const action of round) {
      await sleep(between(options.calmMs), rounds >= (options.rounds ?? 0) ? signal : undefined);
      if (stopping()) break;
      const startMs = hooks.now();
      hooks.log?.(`nemesis: ${action} at ${startMs.toFixed(0)} ms`);
      await actions[action]();
      hooks.log?.(`nemesis: ${action} done in ${(hooks.now() - startMs).toFixed(0)} ms`);
      done.set(action, done.get(action)! + 1);
    }
    rounds++;
  }
  return done;
}

// sleep waits `ms`, or less when `signal` aborts first.
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
