/**
 * run is the bench's entry point (`npm run bench`, i.e. `npx tsx bench/run.ts [flags]`; `--help` lists
 * them). It starts one memcached on a free loopback port, then for each row its server and, per
 * concurrency, fresh load-generator processes; it prints one table (medians over `--runs`, with each
 * sessiond row's ratio to its ceiling and to express-session measured in the same run) and writes it as
 * JSON. Every process it started is ended on exit, Ctrl-C or error.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, resolve } from "node:path";
import { BENCH_ROOT, killAll, profileChildren } from "./lib/child-processes.js";
import type { MemoryResult } from "./lib/memory-row.js";
import { formatMemory, medianMemory, runMemoryRow } from "./lib/memory-row.js";
import type { BenchOptions } from "./lib/options.js";
import { parseOptions, USAGE } from "./lib/options.js";
import { formatTable, medianPoints, ratios } from "./lib/report.js";
import type { PointResult } from "./lib/row-runner.js";
import { runRow } from "./lib/row-runner.js";
import { runOrder, selectRows } from "./lib/rows.js";
import { formatSeal, medianSeal, runSealRow, type SealResult } from "./lib/seal-row.js";
import { startMemcached } from "./lib/servers.js";

/** machine describes where the numbers were measured. */
function machine() {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model ?? "unknown",
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: process.platform,
  };
}

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

function describe(point: PointResult): string {
  if (point.skipped) return `skipped (${point.skipped})`;
  const errors = point.errors ? `, ${point.errors} errors (${point.firstError})` : "";
  return `${point.opsPerSec.toFixed(0)} ops/s, p99 ${point.p99Ms.toFixed(2)} ms, server ${point.serverCpuPct.toFixed(0)}% / load ${point.loadCpuPct.toFixed(0)}% CPU${errors}`;
}

async function benchmark(options: BenchOptions): Promise<void> {
  const rows = selectRows(options.only);
  if (options.cpuProfDir) profileChildren(resolve(options.cpuProfDir));
  const withMemory = options.only.length === 0 || options.only.includes("memory");
  const withSeal = options.only.length === 0 || options.only.includes("seal");
  const memcached = await startMemcached();
  progress(`memcached on ${memcached.address}; ${rows.length} rows x ${options.runs} run(s)`);
  const runs: PointResult[][] = [];
  const memoryRuns: MemoryResult[][] = [];
  const sealRuns: SealResult[][] = [];
  try {
    for (let run = 0; run < options.runs; run++) {
      if (withSeal) {
        sealRuns.push(runSealRow());
        progress(`run ${run + 1} ${formatSeal(sealRuns.at(-1)!)}`);
      }
      const points: PointResult[] = [];
      for (const row of runOrder(rows, run)) {
        for (const point of await runRow(row, memcached, options, run)) {
          progress(`run ${run + 1} ${row.label} c${point.concurrency}: ${describe(point)}`);
          points.push(point);
        }
      }
      runs.push(points);
      if (withMemory) {
        const memory: MemoryResult[] = [];
        for (const server of ["grpc-stream-cas", "sessiond"] as const)
          memory.push(await runMemoryRow(server, memcached, options, run));
        progress(formatMemory(memory));
        memoryRuns.push(memory);
      }
    }
  } finally {
    await memcached.stop();
  }
  const medians = medianPoints(runs);
  const ratioResults = ratios(runs);
  const memory = medianMemory(memoryRuns);
  const seal = medianSeal(sealRuns);
  const title =
    `sessiond bench: ${options.runs > 1 ? `medians of ${options.runs} runs` : "1 run"}, ${options.warmupSeconds} s warm-up + ${options.durationSeconds} s per point, ` +
    `${options.loadProcesses} load processes x ${options.connections} connections (${options.client} client)`;
  const m = machine();
  console.log(
    `${title}\nmachine: ${m.cpus} x ${m.cpuModel}, ${m.memoryGb} GB, Node ${m.node} (load generator shares these cores)\n`,
  );
  console.log(formatTable(medians, ratioResults));
  if (memory.length > 0) console.log(`\n${formatMemory(memory)}`);
  if (seal.length > 0) console.log(`\n${formatSeal(seal)}`);
  const out = resolve(BENCH_ROOT, options.out);
  mkdirSync(dirname(out), { recursive: true });
  const report = {
    date: new Date().toISOString(),
    machine: m,
    options,
    medians,
    ratios: ratioResults,
    memory,
    seal,
    runs,
    memoryRuns,
    sealRuns,
  };
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nJSON: ${options.out}`);
}

async function main(): Promise<void> {
  const options = parseOptions();
  if (options === "help") {
    console.log(USAGE);
    return;
  }
  await benchmark(options);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  killAll();
  process.exitCode = 1;
});
