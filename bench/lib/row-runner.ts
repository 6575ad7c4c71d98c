import { setTimeout as sleep } from "node:timers/promises";
import { LoadFleet } from "./load-fleet.js";
import type { BenchOptions } from "./options.js";
import { CpuMeter, MachineCpuMeter, RssSampler } from "./proc-stats.js";
import type { RowSpec } from "./rows.js";
import { secureSetup } from "./secure-setup.js";
import type { RunningProcess } from "./servers.js";
import { startServer } from "./servers.js";
import type { LoadConfig } from "./workload.js";

/** PointResult is one measured point: a row at one concurrency in one run. */
export interface PointResult {
  row: string;
  label: string;
  concurrency: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** conflicts are transactions whose commit answered ABORTED (not counted in opsPerSec). */
  conflicts: number;
  errors: number;
  firstError?: string;
  /** serverCpuPct is the server's CPU (all its processes), in % of one core. */
  serverCpuPct: number;
  /**
   * serverCpuUsPerOp is the server's CPU time per completed operation, in microseconds: its cost per
   * op, much less sensitive than ops/s to other work on the machine.
   */
  serverCpuUsPerOp: number;
  /** loadCpuPct is the load generators' summed CPU, in % of one core. */
  loadCpuPct: number;
  /** loadCpuUsPerOp is the load generators' CPU time per completed operation, in microseconds. */
  loadCpuUsPerOp: number;
  memcachedCpuPct: number;
  /** machineCpuPct is the whole machine's busy CPU (all processes and the kernel), in % of one core. */
  machineCpuPct: number;
  /** stealPct is CPU the hypervisor took from this machine's cores, in % of one core. */
  stealPct: number;
  /**
   * otherCpuPct is machine CPU not used by the server, the load, memcached or the orchestrator: the
   * kernel's share of loopback networking, and any other work on the machine (noise; see the README).
   */
  otherCpuPct: number;
  /** serverPeakRssMb is the server's peak resident memory (all its processes) from warm-up to stop. */
  serverPeakRssMb: number;
  loadProcesses: number;
  /** skipped says why the point was not measured (e.g. the server is missing). */
  skipped?: string;
}

/** QUIET_CPU_PCT is the most machine CPU (% of one core) counted as idle before a point starts. */
const QUIET_CPU_PCT = 15;
/** QUIET_WAIT_MS is how long a point waits for the machine to be quiet before it starts anyway. */
const QUIET_WAIT_MS = 60_000;

/**
 * waitForQuietMachine waits (up to QUIET_WAIT_MS) until the machine is idle for half a second while
 * the bench's own processes are idle, so that other work on the machine does not skew a point.
 */
async function waitForQuietMachine(): Promise<void> {
  const deadline = Date.now() + QUIET_WAIT_MS;
  while (Date.now() < deadline) {
    const meter = new MachineCpuMeter();
    await sleep(500);
    if (meter.stop().busyPct < QUIET_CPU_PCT) return;
  }
}

/** loadConfigs splits `concurrency` over the load processes (one process at concurrency 1). */
export function loadConfigs(row: RowSpec, port: number, concurrency: number, options: BenchOptions, salt: string): LoadConfig[] {
  const processCount = Math.max(1, Math.min(concurrency, options.loadProcesses));
  return Array.from({ length: processCount }, (_, i) => {
    const share = Math.floor(concurrency / processCount) + (i < concurrency % processCount ? 1 : 0);
    return {
      processIndex: i,
      processCount,
      port,
      driver: row.driver,
      client: row.client ?? options.client,
      concurrency: share,
      connections: Math.min(share, options.connections),
      salt,
      seedShared: true,
      ...(row.sharedSessions === undefined ? {} : { sharedSessions: row.sharedSessions }),
      checkSeed: !row.stateless,
      ...(row.secure === true ? { secure: { ca: secureSetup().ca, token: secureSetup().token } } : {}),
      ...(row.secure === "token" ? { secure: { token: secureSetup().token } } : {}),
    };
  });
}

async function measurePoint(
  row: RowSpec,
  server: RunningProcess,
  memcachedPid: number,
  concurrency: number,
  options: BenchOptions,
  salt: string,
): Promise<PointResult> {
  const configs = loadConfigs(row, server.port, concurrency, options, salt);
  const fleet = new LoadFleet(configs);
  try {
    await fleet.ready();
    await waitForQuietMachine();
    const rss = new RssSampler(server.pid);
    fleet.start();
    await sleep(options.warmupSeconds * 1000);
    const serverCpu = new CpuMeter([server.pid]);
    const loadCpu = new CpuMeter(fleet.pids);
    const memcachedCpu = new CpuMeter([memcachedPid]);
    const machineCpu = new MachineCpuMeter();
    const ownCpu = process.cpuUsage();
    [serverCpu, loadCpu, memcachedCpu, machineCpu].forEach((meter) => {
      meter.start();
    });
    const startedAt = performance.now();
    fleet.measure();
    await sleep(options.durationSeconds * 1000);
    const result = await fleet.stop();
    const seconds = (performance.now() - startedAt) / 1000;
    const machine = machineCpu.stop();
    const own = process.cpuUsage(ownCpu);
    const ownPct = (own.user + own.system) / 1e4 / seconds;
    const serverCpuPct = serverCpu.stop();
    const loadCpuPct = loadCpu.stop();
    const memcachedCpuPct = memcachedCpu.stop();
    return {
      row: row.id,
      label: row.label,
      concurrency,
      opsPerSec: result.ops / seconds,
      p50Ms: result.histogram.percentileMs(0.5),
      p99Ms: result.histogram.percentileMs(0.99),
      conflicts: result.conflicts,
      errors: result.errors,
      firstError: result.firstError,
      serverCpuPct,
      serverCpuUsPerOp: (serverCpuPct * 1e4) / (result.ops / seconds),
      loadCpuPct,
      loadCpuUsPerOp: (loadCpuPct * 1e4) / (result.ops / seconds),
      memcachedCpuPct,
      machineCpuPct: machine.busyPct,
      otherCpuPct: Math.max(0, machine.busyPct - serverCpuPct - loadCpuPct - memcachedCpuPct - ownPct),
      stealPct: machine.stealPct,
      serverPeakRssMb: rss.stop() / 2 ** 20,
      loadProcesses: configs.length,
    };
  } finally {
    await fleet.close();
  }
}

/**
 * runRow starts the row's server once, measures each concurrency (warm-up, then the fixed window) with
 * fresh load processes and fresh sessions, and stops the server. A server that cannot start gives
 * skipped points instead of failing the whole bench.
 */
export async function runRow(
  row: RowSpec,
  memcached: RunningProcess,
  options: BenchOptions,
  run: number,
): Promise<PointResult[]> {
  const concurrencies = row.concurrencies ?? options.concurrencies;
  const skipped = (why: string): PointResult[] =>
    concurrencies.map((concurrency) => ({
      row: row.id,
      label: row.label,
      concurrency,
      opsPerSec: NaN,
      p50Ms: NaN,
      p99Ms: NaN,
      conflicts: 0,
      errors: 0,
      serverCpuPct: NaN,
      serverCpuUsPerOp: NaN,
      loadCpuPct: NaN,
      loadCpuUsPerOp: NaN,
      memcachedCpuPct: NaN,
      machineCpuPct: NaN,
      stealPct: NaN,
      otherCpuPct: NaN,
      serverPeakRssMb: NaN,
      loadProcesses: 0,
      skipped: why,
    }));
  let server: RunningProcess;
  try {
    server = await startServer(row.server, memcached.address, {
      workers: row.workers ?? 1,
      telemetry: row.telemetry ?? "off",
      sealed: row.sealed ?? false,
      baseline: row.baseline,
      ...(row.secure === true ? { extraArgs: secureSetup().serverArgs } : {}),
      ...(row.secure === "token" ? { extraArgs: secureSetup().tokenArgs } : {}),
    });
  } catch (error) {
    return skipped((error as Error).message);
  }
  const points: PointResult[] = [];
  try {
    for (const concurrency of concurrencies) {
      const salt = `r${run}-${row.id}-c${concurrency}-${Date.now().toString(36)}`;
      try {
        points.push(await measurePoint(row, server, memcached.pid, concurrency, options, salt));
      } catch (error) {
        points.push({ ...(skipped((error as Error).message)[0] as PointResult), concurrency });
      }
    }
  } finally {
    await server.stop();
  }
  return points;
}
