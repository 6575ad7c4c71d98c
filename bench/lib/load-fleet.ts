import type { ChildProcess } from "node:child_process";
import type { FromWorker, LoadResult, ToWorker } from "../load/load-worker.js";
import { spawnScript, stopChild } from "./child-processes.js";
import { LatencyHistogram } from "./histogram.js";
import type { LoadConfig } from "./workload.js";

/** FleetResult is the merged measurement of all load processes of one point. */
export interface FleetResult {
  ops: number;
  conflicts: number;
  errors: number;
  firstError?: string;
  histogram: LatencyHistogram;
}

/** ReadyInfo is what the workers reported when ready (idle streams report how many opened). */
export interface ReadyInfo {
  opened: number;
  failed: number;
  firstError?: string;
}

/**
 * LoadFleet is a set of load-generator processes (bench/load/load-worker.ts), each with its own config,
 * driven through the phases together: ready -> start -> measure -> stop -> exit.
 */
export class LoadFleet {
  private readonly workers: ChildProcess[];

  /** spawn starts one load process per config; call `ready()` next. */
  constructor(private readonly configs: readonly LoadConfig[]) {
    this.workers = configs.map(() => spawnScript("bench/load/load-worker.ts", [], { ipc: true }));
  }

  /** pids are the load processes' ids, for CPU measurement. */
  get pids(): number[] {
    return this.workers.map((worker) => worker.pid ?? 0);
  }

  /** ready sends each worker its config and resolves when all have connected and seeded. */
  async ready(timeoutMs = 120_000): Promise<ReadyInfo> {
    const answers = await Promise.all(
      this.workers.map((worker, i) => {
        const answer = this.next(worker, "ready", timeoutMs);
        this.send(worker, { type: "config", config: this.configs[i] as LoadConfig });
        return answer;
      }),
    );
    const info: ReadyInfo = { opened: 0, failed: 0 };
    for (const answer of answers) {
      if (answer.type !== "ready") continue;
      info.opened += answer.opened ?? 0;
      info.failed += answer.failed ?? 0;
      info.firstError ??= answer.firstError;
    }
    return info;
  }

  /** start makes every virtual client begin its loop (the warm-up starts). */
  start(): void {
    this.broadcast({ type: "start" });
  }

  /** measure resets every worker's counters: the measured window starts now. */
  measure(): void {
    this.broadcast({ type: "measure" });
  }

  /** stop ends the window and merges the workers' results. */
  async stop(): Promise<FleetResult> {
    const answers = this.workers.map((worker) => this.next(worker, "result", 30_000));
    this.broadcast({ type: "stop" });
    const merged: FleetResult = { ops: 0, conflicts: 0, errors: 0, histogram: new LatencyHistogram() };
    for (const answer of await Promise.all(answers)) {
      const result = answer as LoadResult;
      merged.ops += result.ops;
      merged.conflicts += result.conflicts;
      merged.errors += result.errors;
      merged.firstError ??= result.firstError;
      merged.histogram.merge(result.histogram);
    }
    return merged;
  }

  /** close tells every worker to exit and waits (SIGTERM/SIGKILL if one lingers). */
  async close(): Promise<void> {
    this.broadcast({ type: "exit" });
    await Promise.all(this.workers.map((worker) => stopChild(worker, 3000)));
  }

  private broadcast(message: ToWorker): void {
    for (const worker of this.workers) this.send(worker, message);
  }

  private send(worker: ChildProcess, message: ToWorker): void {
    if (worker.connected) worker.send(message);
  }

  /** Internal: the worker's next message of `type`; rejects on `failed`, exit or timeout. */
  private next(worker: ChildProcess, type: FromWorker["type"], timeoutMs: number): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`load process ${worker.pid}: no ${type} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onMessage = (message: FromWorker) => {
        if (message.type === type) finish(undefined, message);
        else if (message.type === "failed") finish(new Error(`load process ${worker.pid} failed: ${message.error}`));
      };
      const onExit = (code: number | null) => finish(new Error(`load process ${worker.pid} exited (${code}) before ${type}`));
      const finish = (error?: Error, message?: FromWorker) => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("exit", onExit);
        if (error) reject(error);
        else resolve(message as FromWorker);
      };
      worker.on("message", onMessage);
      worker.on("exit", onExit);
    });
  }
}
