import cluster, { type Worker } from "node:cluster";
import type { Logger } from "pino";
import type { Config } from "./config/config.js";

// Internal: how long after the grace period the primary waits for workers before killing them.
const KILL_AFTER_GRACE_MS = 5000;
// Internal: a worker that dies is replaced, but not more often than this.
const RESPAWN_DELAY_MS = 1000;

/**
 * runPrimary runs the cluster primary of `sessiond serve --workers N` (N > 1): it forks N workers, each a
 * whole sessiond (`serve`) on the same port; node's cluster hands each new connection to the next worker
 * (round-robin), so calls on one connection, and so a transaction's stream, stay on one worker.
 * - A worker that dies after it listened is replaced (logged as an error); one that dies before it ever
 *   listened (e.g. the port is taken) stops the whole cluster with exit code 1.
 * - SIGTERM or SIGINT is forwarded to every worker as SIGTERM; each drains; the primary exits 0 once all
 *   have exited 0 (1 otherwise), and kills those still running at grace + 5 s.
 * - SIGHUP is forwarded to every worker, which re-reads what it reloads (the data key file, the TLS files,
 *   the config file's tokens and access).
 * - With --metrics, the primary serves `/metrics`: the sum of every worker's metrics at each scrape.
 */
export function runPrimary(config: Config, logger: Logger): void {
  let stopping = false;
  let exitCode = 0;
  const alive = new Set<Worker>();
  const listening = new Set<Worker>();
  logger.info({ workers: config.workers, address: config.listen }, "sessiond cluster starting");

  const fork = (): void => {
    const worker = cluster.fork();
    alive.add(worker);
    worker.once("listening", () => {
      listening.add(worker);
      if (listening.size === config.workers) {
        logger.info({ workers: [...listening].map((w) => w.process.pid) }, "sessiond cluster started");
      }
    });
  };

  cluster.on("exit", (worker, code, signal) => {
    alive.delete(worker);
    const everListened = listening.delete(worker);
    if (stopping) {
      if (code !== 0) exitCode = 1;
      if (alive.size === 0) {
        logger.info({ exitCode }, "sessiond cluster stopped");
        process.exit(exitCode);
      }
      return;
    }
    logger.error(
      { workerPid: worker.process.pid, code, signal },
      everListened ? "a worker died: starting another" : "a worker died before it listened: stopping the cluster",
    );
    if (!everListened) {
      exitCode = 1;
      stop("a worker failed to start");
      return;
    }
    setTimeout(() => {
      if (!stopping) fork();
    }, RESPAWN_DELAY_MS).unref();
  });

  function stop(reason: string): void {
    if (stopping) return;
    stopping = true;
    logger.info({ reason, workers: alive.size }, "sessiond cluster stopping");
    if (alive.size === 0) process.exit(exitCode);
    for (const worker of alive) worker.process.kill("SIGTERM");
    setTimeout(
      () => {
        logger.error("workers still running after the grace period: killing them");
        for (const worker of alive) worker.process.kill("SIGKILL");
        process.exit(1);
      },
      config.graceSeconds * 1000 + KILL_AFTER_GRACE_MS,
    ).unref();
  }

  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // SIGHUP (data keys, certificates, tokens, access) goes to every worker: each reloads its own parts.
  process.on("SIGHUP", () => {
    logger.info({ workers: alive.size }, "SIGHUP: forwarded to the workers");
    for (const worker of alive) worker.process.kill("SIGHUP");
  });
  for (let i = 0; i < config.workers; i++) fork();
  if (config.metrics !== undefined) {
    const address = config.metrics;
    import("./telemetry/metrics-setup.js")
      .then(({ serveClusterMetrics }) => serveClusterMetrics(address, logger))
      .then(
        (server) => logger.info({ metrics: server.address }, "sessiond cluster metrics served: the sum over all workers"),
        (err: unknown) => {
          logger.error({ err, metrics: config.metrics }, "cannot serve metrics: stopping the cluster");
          exitCode = 1;
          stop("metrics address unavailable");
        },
      );
  }
}
