import { readdirSync, readFileSync } from "node:fs";

/** CLOCK_TICKS_PER_SECOND is Linux's USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on Linux). */
export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * processTree lists `pid` and all its descendants (children read from /proc/<pid>/task/<tid>/children),
 * e.g. a cluster primary and its workers. Processes that vanish while reading are skipped.
 */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    out.push(next);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${next}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const text = readFileSync(`/proc/${next}/task/${tid}/children`, "utf8").trim();
        if (text) queue.push(...text.split(" ").map(Number));
      } catch {
        // the thread ended while we listed it
      }
    }
  }
  return out;
}

/** cpuSeconds is the user + system CPU time one process has used so far (all its threads), in seconds. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** treeCpuSeconds sums `cpuSeconds` over a process and its descendants. */
export function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + cpuSeconds(p), 0);
}

/** rssBytes is a process's resident set size now (VmRSS), in bytes; 0 when it is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** treeRssBytes sums `rssBytes` over a process and its descendants (shared pages count once per process). */
export function treeRssBytes(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + rssBytes(p), 0);
}

/**
 * CpuMeter measures CPU use of a fixed set of process trees between `start()` and `stop()`, as a
 * percentage of one core (100 = one core busy for the whole window).
 */
export class CpuMeter {
  private startCpu = new Map<number, number>();
  private startedAt = 0;

  constructor(private readonly pids: readonly number[]) {}

  /** start records each tree's CPU time and the wall clock. */
  start(): void {
    this.startedAt = performance.now();
    for (const pid of this.pids) this.startCpu.set(pid, treeCpuSeconds(pid));
  }

  /** stop returns the summed CPU percentage of all trees since `start()`. */
  stop(): number {
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    let used = 0;
    for (const pid of this.pids) used += treeCpuSeconds(pid) - (this.startCpu.get(pid) ?? 0);
    return wallSeconds > 0 ? (100 * used) / wallSeconds : 0;
  }
}

/** Internal: the machine's busy and steal ticks and all ticks so far, from the `cpu` line of /proc/stat. */
function machineTicks(): { busy: number; steal: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const busy = user + nice + system + irq + softirq;
  return { busy, steal, total: busy + idle + iowait + steal };
}

/**
 * MachineCpuMeter measures the whole machine between `start()` and `stop()`: busy CPU (every process,
 * the orchestrator and the kernel included) and hypervisor steal, in % of one core (200 = 2 cores busy).
 */
export class MachineCpuMeter {
  private begin = machineTicks();
  private startedAt = performance.now();

  /** start records the machine's counters now. */
  start(): void {
    this.begin = machineTicks();
    this.startedAt = performance.now();
  }

  /** stop returns busy and steal CPU since `start()`, each in % of one core. */
  stop(): { busyPct: number; stealPct: number } {
    const end = machineTicks();
    const seconds = (performance.now() - this.startedAt) / 1000;
    const pct = (ticks: number) => (seconds > 0 ? (100 * ticks) / CLOCK_TICKS_PER_SECOND / seconds : 0);
    return { busyPct: pct(end.busy - this.begin.busy), stealPct: pct(end.steal - this.begin.steal) };
  }
}

/**
 * RssSampler polls the resident memory of one or more process trees (summed) every `intervalMs` (default
 * 50) and keeps the peak; `stop()` ends polling and returns the peak in bytes.
 */
export class RssSampler {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pids: number | readonly number[],
    intervalMs = 50,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  /** stop ends polling and returns the peak resident memory seen, in bytes. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }

  private sample(): void {
    const pids = typeof this.pids === "number" ? [this.pids] : this.pids;
    this.peak = Math.max(
      this.peak,
      pids.reduce((sum, pid) => sum + treeRssBytes(pid), 0),
    );
  }
}
