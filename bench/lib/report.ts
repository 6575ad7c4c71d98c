import type { PointResult } from "./row-runner.js";
import { ROWS } from "./rows.js";

/** RatioResult compares a row with its ceiling and its peer at one concurrency, median over runs of in-run ratios. */
export interface RatioResult {
  row: string;
  concurrency: number;
  ceiling?: string;
  /** opsVsCeiling is ops/s divided by the ceiling row's ops/s measured in the same run. */
  opsVsCeiling?: number;
  /** p99VsCeiling is p99 divided by the ceiling row's p99 in the same run. */
  p99VsCeiling?: number;
  /**
   * cpuPerOpVsCeiling is the ceiling's server CPU per op divided by this row's (1 = as cheap as the
   * ceiling; below 1 = costlier): the efficiency ratio, robust to other work on the machine.
   */
  cpuPerOpVsCeiling?: number;
  /** opsVsPeer is ops/s divided by the express-session row's req/s in the same run. */
  opsVsPeer?: number;
  /** perCpuVsCeiling is operations per core-second of server + memcached divided by the ceiling's. */
  perCpuVsCeiling?: number;
  /** perCpuVsPeer is operations per core-second of server + memcached divided by express-session's. */
  perCpuVsPeer?: number;
  /** goals lists each goal at c64 with the measured ratio and whether it is met. */
  goals: { goal: string; ratio: number; target: number; met: boolean }[];
}

/** median of the finite numbers, NaN when there are none. */
export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const NUMERIC = [
  "opsPerSec",
  "p50Ms",
  "p99Ms",
  "conflicts",
  "errors",
  "serverCpuPct",
  "serverCpuUsPerOp",
  "loadCpuUsPerOp",
  "loadCpuPct",
  "memcachedCpuPct",
  "machineCpuPct",
  "stealPct",
  "otherCpuPct",
  "serverPeakRssMb",
] as const;

/** opsPerCoreSecond is operations per second of CPU spent by the given percentages of a core. */
export function opsPerCoreSecond(opsPerSec: number | undefined, ...cpuPct: Array<number | undefined>): number {
  const cores = cpuPct.reduce<number>((sum, pct) => sum + (pct ?? Number.NaN), 0) / 100;
  return (opsPerSec ?? Number.NaN) / cores;
}

const perCpu = (p: PointResult | undefined) => opsPerCoreSecond(p?.opsPerSec, p?.serverCpuPct, p?.memcachedCpuPct);

/** medianPoints folds the runs into one point per row and concurrency: the median of each number. */
export function medianPoints(runs: readonly PointResult[][]): PointResult[] {
  const first = runs[0] ?? [];
  return first.map((point) => {
    const same = runs
      .map((run) => run.find((p) => p.row === point.row && p.concurrency === point.concurrency))
      .filter((p): p is PointResult => !!p);
    const out: PointResult = { ...point };
    for (const key of NUMERIC) out[key] = median(same.map((p) => p[key]));
    out.skipped = same.every((p) => p.skipped) ? point.skipped : undefined;
    out.firstError = same.find((p) => p.firstError)?.firstError;
    return out;
  });
}

/** ratios computes, per run, each row's ratios to its ceiling and peer, then takes the median over runs. */
export function ratios(runs: readonly PointResult[][]): RatioResult[] {
  const out: RatioResult[] = [];
  for (const row of ROWS) {
    if (!row.ceiling && !row.peer) continue;
    const concurrencies = new Set(
      runs
        .flat()
        .filter((p) => p.row === row.id)
        .map((p) => p.concurrency),
    );
    for (const concurrency of concurrencies) {
      const at = (run: PointResult[], id: string | undefined) => run.find((p) => p.row === id && p.concurrency === concurrency);
      const ratio = (f: (run: PointResult[]) => number) => median(runs.map(f));
      const result: RatioResult = {
        row: row.id,
        concurrency,
        ceiling: row.ceiling,
        opsVsCeiling: ratio((run) => (at(run, row.id)?.opsPerSec ?? NaN) / (at(run, row.ceiling)?.opsPerSec ?? NaN)),
        p99VsCeiling: ratio((run) => (at(run, row.id)?.p99Ms ?? NaN) / (at(run, row.ceiling)?.p99Ms ?? NaN)),
        cpuPerOpVsCeiling: ratio(
          (run) => (at(run, row.ceiling)?.serverCpuUsPerOp ?? NaN) / (at(run, row.id)?.serverCpuUsPerOp ?? NaN),
        ),
        opsVsPeer: ratio((run) => (at(run, row.id)?.opsPerSec ?? NaN) / (at(run, row.peer)?.opsPerSec ?? NaN)),
        perCpuVsCeiling: ratio((run) => perCpu(at(run, row.id)) / perCpu(at(run, row.ceiling))),
        perCpuVsPeer: ratio((run) => perCpu(at(run, row.id)) / perCpu(at(run, row.peer))),
        goals: [],
      };
      const goals = concurrency === 64 ? row.goals : undefined;
      const check = (goal: string, value: number | undefined, target: number | undefined, atMost = false) => {
        if (target === undefined || value === undefined || !Number.isFinite(value)) return;
        result.goals.push({ goal, ratio: value, target, met: atMost ? value <= target : value >= target });
      };
      check(`ops >= ${goals?.ceilingOps}x ${row.ceiling}`, result.opsVsCeiling, goals?.ceilingOps);
      check(`p99 <= ${goals?.ceilingP99}x ${row.ceiling}`, result.p99VsCeiling, goals?.ceilingP99, true);
      check(`ops >= ${goals?.peerOps}x ${row.peer}`, result.opsVsPeer, goals?.peerOps);
      check(`per CPU >= ${goals?.ceilingPerCpu}x ${row.ceiling}`, result.perCpuVsCeiling, goals?.ceilingPerCpu);
      check(`per CPU >= ${goals?.peerPerCpu}x ${row.peer}`, result.perCpuVsPeer, goals?.peerPerCpu);
      out.push(result);
    }
  }
  return out;
}

const fixed = (value: number | undefined, digits: number) =>
  value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(digits);

/** formatTable renders the median points and ratios as a fixed-width text table. */
export function formatTable(points: readonly PointResult[], ratioResults: readonly RatioResult[]): string {
  const header = [
    "row",
    "c",
    "ops/s",
    "p50 ms",
    "p99 ms",
    "srv CPU%",
    "srv us/op",
    "srv ops/core-s",
    "mc CPU%",
    "mc ops/core-s",
    "load CPU%",
    "other CPU%",
    "srv RSS MB",
    "vs ceiling ops/p99/cpu/per-CPU",
    "vs express ops/per-CPU",
    "goals (c64)",
    "confl/err",
  ];
  const lines = points.map((p) => {
    const r = ratioResults.find((x) => x.row === p.row && x.concurrency === p.concurrency);
    const vsCeiling = r?.ceiling
      ? `${fixed(r.opsVsCeiling, 2)} / ${fixed(r.p99VsCeiling, 2)} / ${fixed(r.cpuPerOpVsCeiling, 2)} / ${fixed(r.perCpuVsCeiling, 2)}`
      : "";
    const goals = (r?.goals ?? []).map((g) => `${g.met ? "ok" : "MISS"} ${g.goal}`).join("; ");
    if (p.skipped) return [p.label, String(p.concurrency), `skipped: ${p.skipped.split("\n")[0]?.slice(0, 100)}`];
    return [
      p.label,
      String(p.concurrency),
      fixed(p.opsPerSec, 0),
      fixed(p.p50Ms, 2),
      fixed(p.p99Ms, 2),
      fixed(p.serverCpuPct, 0),
      fixed(p.serverCpuUsPerOp, 0),
      fixed(opsPerCoreSecond(p.opsPerSec, p.serverCpuPct), 0),
      fixed(p.memcachedCpuPct, 0),
      fixed(opsPerCoreSecond(p.opsPerSec, p.memcachedCpuPct), 0),
      fixed(p.loadCpuPct, 0),
      fixed(p.otherCpuPct, 0),
      fixed(p.serverPeakRssMb, 0),
      vsCeiling,
      r && Number.isFinite(r.opsVsPeer) ? `${fixed(r.opsVsPeer, 2)}x / ${fixed(r.perCpuVsPeer, 2)}x` : "",
      goals,
      `${fixed(p.conflicts, 0)}/${fixed(p.errors, 0)}`,
    ];
  });
  const widths = header.map((h, i) =>
    Math.max(h.length, ...lines.map((l) => (l.length === header.length ? (l[i] ?? "").length : 0))),
  );
  const render = (cells: string[]) =>
    cells.length === header.length
      ? cells
          .map((c, i) => (i < 2 || i >= 13 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
          .join("  ")
          .trimEnd()
      : cells.join("  ");
  return [render(header), ...lines.map(render)].join("\n");
}
