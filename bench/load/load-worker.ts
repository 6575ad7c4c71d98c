/**
 * load-worker is one load-generator process, started by the orchestrator with an IPC channel. It never
 * serves: the servers under test run in other processes. Protocol (orchestrator -> worker):
 * `config` -> (worker connects, seeds) `ready` -> `start` (load, warm-up) -> `measure` (counters reset)
 * -> `stop` (worker answers `result`) -> `exit`. The worker exits when the channel closes.
 */
import type { HistogramData } from "../lib/histogram.js";
import { LatencyHistogram } from "../lib/histogram.js";
import type { LoadConfig } from "../lib/workload.js";
import type { Operation, PreparedLoad } from "./grpc-drivers.js";
import { prepareTransactions, prepareUnary } from "./grpc-drivers.js";
import { prepareHttp } from "./http-driver.js";
import { openIdleStreams } from "./idle-streams.js";

/** ToWorker is a message from the orchestrator. */
export type ToWorker = { type: "config"; config: LoadConfig } | { type: "start" | "measure" | "stop" | "exit" };

/** LoadResult is what a worker measured between `measure` and `stop`. */
export interface LoadResult {
  ops: number;
  conflicts: number;
  errors: number;
  firstError?: string;
  histogram: HistogramData;
}

/** FromWorker is a message to the orchestrator. */
export type FromWorker =
  | { type: "ready"; opened?: number; failed?: number; firstError?: string }
  | { type: "failed"; error: string }
  | ({ type: "result" } & LoadResult);

const histogram = new LatencyHistogram();
const stats = { ops: 0, conflicts: 0, errors: 0, firstError: undefined as string | undefined };
let running = false;
let loops: Promise<void>[] = [];
let prepared: PreparedLoad | undefined;

function send(message: FromWorker): void {
  process.send?.(message);
}

async function prepare(config: LoadConfig): Promise<void> {
  if (config.driver === "idle-streams") {
    const idle = await openIdleStreams(config);
    prepared = { operations: [], close: idle.close };
    send({ type: "ready", opened: idle.opened, failed: idle.failed, firstError: idle.firstError });
    return;
  }
  if (config.driver === "http-rmw") prepared = await prepareHttp(config);
  else if (config.driver === "unary-get" || config.driver === "unary-set") prepared = await prepareUnary(config);
  else prepared = await prepareTransactions(config);
  send({ type: "ready" });
}

/** Internal: one virtual client's closed loop; a failure pauses it 10 ms so a broken server is not spun on. */
async function loop(operation: Operation): Promise<void> {
  while (running) {
    const startedAt = performance.now();
    try {
      const done = await operation();
      histogram.record(performance.now() - startedAt);
      if (done) stats.ops++;
      else stats.conflicts++;
    } catch (error) {
      stats.errors++;
      stats.firstError ??= error instanceof Error ? error.message : String(error);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

async function stop(): Promise<void> {
  const result: LoadResult = { ...stats, histogram: histogram.toData() };
  running = false;
  send({ type: "result", ...result });
  await Promise.race([Promise.all(loops), new Promise((resolve) => setTimeout(resolve, 5000))]);
  loops = [];
}

function exit(): void {
  prepared?.close();
  process.exit(0);
}

process.on("message", (message: ToWorker) => {
  switch (message.type) {
    case "config":
      prepare(message.config).catch((error: unknown) => {
        send({ type: "failed", error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      });
      break;
    case "start":
      running = true;
      loops = (prepared?.operations ?? []).map((operation) => loop(operation));
      break;
    case "measure":
      histogram.reset();
      Object.assign(stats, { ops: 0, conflicts: 0, errors: 0, firstError: undefined });
      break;
    case "stop":
      void stop();
      break;
    case "exit":
      exit();
  }
});
process.on("disconnect", exit);
process.on("SIGTERM", exit);
process.on("SIGINT", exit);
