import type { History } from "../history.js";
import { createRandom } from "../random.js";
import { createSdkWorkloadClient } from "../sdk-workload-client.js";
import { Recorder, runWorkload } from "../workload.js";
import type { WorkloadClient } from "../workload-client.js";
import { defaultNemesisOptions, type NemesisAction, runNemesis } from "./nemesis.js";
import type { TortureOptions } from "./run-torture.js";
import { createSessionPlacement, watchNode } from "./session-placement.js";
import { startTortureCluster } from "./torture-cluster.js";

/** Recorded is a torture run's history and what the nemesis did, once every process is stopped. */
export interface Recorded {
  history: History;
  /** actions counts what the nemesis completed, by kind (faults and races). */
  actions: Map<NemesisAction, number>;
}

/**
 * NAMESPACES_PER_MINUTE: the workload brings namespaces in one by one; 6 more per minute of run keep each
 * namespace's history about the same size, and the checker's time about linear in the run's (it checks
 * namespace by namespace, see `checkPerNamespace`).
 */
const NAMESPACES_PER_MINUTE = 6;
const PRINCIPALS = ["alice", "bob", "carol"];
/** TAIL_MS is how long the workload goes on after the nemesis's last fault: acknowledged writes after every fault. */
const TAIL_MS = 2000;
/** SETTLE_MS outlasts every cache of the code before issue 18 (1 s): the final reads see what storage holds. */
const SETTLE_MS = 1500;

/**
 * recordTorture starts a cluster (3 memcached, 3 sessiond processes: a pool, or one twemproxy), runs the
 * list-append workload (sim/workload.ts) over one SDK client per instance while the nemesis crashes
 * sessiond processes, freezes memcached nodes, restarts them empty and races InvalidateAll and revocations
 * through several instances; then stops the nemesis, lets the workload do its final reads and stops every
 * process (also on failure). `now` is the history's clock.
 */
export async function recordTorture(options: TortureOptions, now: () => number): Promise<Recorded> {
  const random = createRandom(`nemesis:${options.seed}`);
  const minutes = Math.max(1, Math.ceil(options.durationMs / 60_000));
  const namespaces = Array.from({ length: NAMESPACES_PER_MINUTE * minutes }, (_, i) => `Torture${i + 1}`);
  const cluster = await startTortureCluster({
    variant: options.variant,
    ...(options.sessiond ? { sessiond: options.sessiond } : {}),
  });
  options.log?.(`torture: cluster started in ${now().toFixed(0)} ms`);
  const placement = createSessionPlacement(cluster);
  const recorder = new Recorder(now);
  // Every session id a client was given, per namespace, so that a node's loss can name the sessions it held.
  const ids = new Map<string, Set<string>>();
  const seen = (namespace: string, sessionId: string) => {
    ids.set(namespace, (ids.get(namespace) ?? new Set()).add(sessionId));
  };
  const sdkClients = cluster.instances.map((instance) =>
    createSdkWorkloadClient({ instance: instance.name, address: instance.address }),
  );
  const clients: WorkloadClient[] = sdkClients.map((client) => ({
    ...client,
    async createSession(namespace, principal) {
      const made = await client.createSession(namespace, principal);
      seen(namespace, made.sessionId);
      return made;
    },
    async rotate(namespace, sessionId, principal) {
      const moved = await client.rotate(namespace, sessionId, principal);
      seen(namespace, moved.sessionId);
      return moved;
    },
  }));
  // Fills in, once the run is over, the sessions each restarted node held.
  const naming: Array<() => void> = [];
  try {
    const stopNemesis = new AbortController();
    let stopWorkload = false;
    const nemesis = runNemesis(
      {
        cluster,
        random,
        now,
        record: (fault) => recorder.fault(fault),
        log: options.log,
        lostSessions(node) {
          const watch = watchNode(placement, node, ids);
          return {
            before: () => watch.read(),
            async after() {
              await watch.read();
              // Named once the run is over: a session whose create answered only after the restart counts too.
              const lost: string[] = [];
              naming.push(() => {
                for (const [namespace, here] of watch.idsOn()) {
                  for (const name of recorder.sessionsOf(namespace, here, "id")) lost.push(`${namespace}/${name}`);
                }
                lost.splice(0, lost.length, ...[...new Set(lost)].sort());
              });
              return lost;
            },
          };
        },
        async race(kind) {
          const namespace = random.pick([...ids.keys(), namespaces[0]!]);
          const principal = random.pick(PRINCIPALS);
          await Promise.all(
            clients.map((client) =>
              kind === "invalidate"
                ? recorder.call({ kind: "invalidate", instance: client.instance, namespace }, () =>
                    client.invalidateAll(namespace),
                  )
                : recorder.call({ kind: "revoke", instance: client.instance, namespace, principal }, () =>
                    client.revoke(namespace, principal),
                  ),
            ),
          );
        },
      },
      stopNemesis.signal,
      options.nemesis ?? defaultNemesisOptions,
    );
    // The nemesis stops first and leaves no fault behind; then the workload stops, settles and reads everything.
    const timer = setTimeout(() => stopNemesis.abort(), options.durationMs);
    const workload = runWorkload(
      clients,
      {
        seed: options.seed,
        namespaces,
        principals: PRINCIPALS,
        ops: Number.POSITIVE_INFINITY,
        workers: options.workers ?? 6,
        thinkMs: 30,
        settleMs: SETTLE_MS,
        now,
        shouldStop: () => stopWorkload,
        ...(options.weights ? { weights: options.weights } : {}),
      },
      recorder,
    );
    let actions: Map<NemesisAction, number>;
    try {
      actions = await nemesis;
      options.log?.(`torture: nemesis done at ${now().toFixed(0)} ms`);
      await new Promise((resolve) => setTimeout(resolve, TAIL_MS));
    } finally {
      clearTimeout(timer);
      stopNemesis.abort();
      stopWorkload = true;
    }
    const history = await workload;
    for (const name of naming) name();
    options.log?.(`torture: workload and final reads done at ${now().toFixed(0)} ms`);
    return { history, actions };
  } finally {
    for (const client of sdkClients) client.close();
    await placement.close();
    await cluster.stop();
  }
}
