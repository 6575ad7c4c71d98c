import { setTimeout as sleep } from "node:timers/promises";
import { LoadFleet } from "./load-fleet.js";
import type { BenchOptions } from "./options.js";
import { treeRssBytes } from "./proc-stats.js";
import { median } from "./report.js";
import type { RunningProcess } from "./servers.js";
import { startServer } from "./servers.js";
import type { LoadConfig, ServerKind } from "./workload.js";

/** MemoryResult is the server memory cost of idle open Transaction streams. */
export interface MemoryResult {
  server: ServerKind;
  streams: number;
  opened: number;
  failed: number;
  firstError?: string;
  connections: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  /** bytesPerStream is (RSS after - RSS before) / open streams (those whose begin failed stay open too). */
  bytesPerStream: number;
  skipped?: string;
}

/** MEMORY_LOAD_PROCESSES and MEMORY_CONNECTIONS spread the idle streams: 2 processes x 4 connections. */
const MEMORY_LOAD_PROCESSES = 2;
const MEMORY_CONNECTIONS = 4;
const SETTLE_MS = 2000;

function idleConfigs(port: number, streams: number, salt: string): LoadConfig[] {
  return Array.from({ length: MEMORY_LOAD_PROCESSES }, (_, i) => ({
    processIndex: i,
    processCount: MEMORY_LOAD_PROCESSES,
    port,
    driver: "idle-streams",
    client: "raw",
    concurrency: Math.ceil(streams / MEMORY_LOAD_PROCESSES),
    connections: MEMORY_CONNECTIONS,
    salt,
    seedShared: false,
    checkSeed: false,
  }));
}

async function openAndClose(
  port: number,
  streams: number,
  salt: string,
): Promise<{ fleet: LoadFleet; opened: number; failed: number; firstError?: string }> {
  const fleet = new LoadFleet(idleConfigs(port, streams, salt));
  const info = await fleet.ready();
  return { fleet, ...info };
}

/**
 * runMemoryRow starts `server`, warms it with 500 idle streams (opened, then closed), takes its RSS,
 * opens `options.streams` idle Transaction streams (each began a transaction on its own session) over
 * 2 load processes x 4 connections, waits for RSS to settle, and reports the difference per stream.
 */
export async function runMemoryRow(
  server: ServerKind,
  memcached: RunningProcess,
  options: BenchOptions,
  run: number,
): Promise<MemoryResult> {
  const empty = {
    server,
    streams: options.streams,
    opened: 0,
    failed: 0,
    connections: MEMORY_LOAD_PROCESSES * MEMORY_CONNECTIONS,
  };
  let target: RunningProcess;
  try {
    target = await startServer(server, memcached.address, { workers: 1 });
  } catch (error) {
    return { ...empty, rssBeforeMb: NaN, rssAfterMb: NaN, bytesPerStream: NaN, skipped: (error as Error).message };
  }
  try {
    const warm = await openAndClose(target.port, 500, `mem-warm-${run}-${Date.now().toString(36)}`);
    await warm.fleet.close();
    await sleep(SETTLE_MS);
    const before = treeRssBytes(target.pid);
    const idle = await openAndClose(target.port, options.streams, `mem-${run}-${Date.now().toString(36)}`);
    await sleep(SETTLE_MS);
    const after = treeRssBytes(target.pid);
    await idle.fleet.close();
    return {
      ...empty,
      opened: idle.opened,
      failed: idle.failed,
      firstError: idle.firstError,
      rssBeforeMb: before / 2 ** 20,
      rssAfterMb: after / 2 ** 20,
      bytesPerStream: idle.opened + idle.failed > 0 ? (after - before) / (idle.opened + idle.failed) : NaN,
    };
  } finally {
    await target.stop();
  }
}

/** medianMemory folds the memory results of several runs: the median of each number per server. */
export function medianMemory(runs: readonly MemoryResult[][]): MemoryResult[] {
  return (runs[0] ?? []).map((first) => {
    const same = runs.map((run) => run.find((m) => m.server === first.server)).filter((m): m is MemoryResult => !!m);
    const pick = (key: "opened" | "failed" | "rssBeforeMb" | "rssAfterMb" | "bytesPerStream") => median(same.map((m) => m[key]));
    return {
      ...first,
      opened: pick("opened"),
      failed: pick("failed"),
      rssBeforeMb: pick("rssBeforeMb"),
      rssAfterMb: pick("rssAfterMb"),
      bytesPerStream: pick("bytesPerStream"),
    };
  });
}

/** formatMemory renders the memory results as text lines. */
export function formatMemory(results: readonly MemoryResult[]): string {
  return results
    .map((m) =>
      m.skipped
        ? `memory ${m.server}: skipped: ${m.skipped}`
        : `memory ${m.server}: ${m.opened}/${m.streams} idle Transaction streams over ${m.connections} connections: ` +
          `RSS ${m.rssBeforeMb.toFixed(0)} -> ${m.rssAfterMb.toFixed(0)} MB = ${(m.bytesPerStream / 1024).toFixed(1)} KB per stream` +
          `${m.bytesPerStream < 10 * 1024 ? " (goal < 10 KB: ok)" : " (goal < 10 KB: MISS)"}` +
          (m.failed ? `; ${m.failed} failed: ${m.firstError}` : ""),
    )
    .join("\n");
}
