import { parseArgs } from "node:util";
import type { GrpcClientKind } from "./workload.js";

/** BenchOptions are the bench's flags, parsed by `parseOptions`. */
export interface BenchOptions {
  /** durationSeconds is the measured window of each point (`--duration`, default 10). */
  durationSeconds: number;
  /** warmupSeconds runs the load before measuring (`--warmup`, default 3). */
  warmupSeconds: number;
  /** runs repeats the whole table; the report is the median of each value (`--runs`, default 1). */
  runs: number;
  /** only names the rows to run (`--only get,tx,memory`); empty: all default rows and the memory row. */
  only: string[];
  /** concurrencies are the in-flight requests per point (`--concurrency 1,64`). */
  concurrencies: number[];
  /** loadProcesses split a concurrency above 1 (`--load-procs`, default 2). */
  loadProcesses: number;
  /** connections per load process (`--connections`, default 2); HTTP/1.1 uses one per virtual client. */
  connections: number;
  /** client is the gRPC load client (`--client raw|node-h2|grpc-js`, default raw). */
  client: GrpcClientKind;
  /** streams is how many idle Transaction streams the memory row opens (`--streams`, default 10000). */
  streams: number;
  /** out is where the JSON report goes (`--out`, default bench/results/latest.json). */
  out: string;
  /** cpuProfDir runs every server and load process under `--cpu-prof`, profiles into it (`--cpu-prof <dir>`). */
  cpuProfDir?: string;
}

/** USAGE is the help text of `npm run bench -- --help`. */
export const USAGE = `usage: npx tsx bench/run.ts [flags]
  --duration <s>       measured seconds per point (10)
  --warmup <s>         warm-up seconds before each measurement (3)
  --runs <n>           repeat the table n times; report medians (1)
  --only <ids>         rows to run, comma-separated: echo, mc-get, stream-cas, express, get, set, tx,
                       mc-set, stream-cas-lockstep, tx-lockstep, tx-savepoint, get-w2, get-metrics, get-tracing,
                       tx-metrics, tx-tracing, get-tracing-proto, tx-tracing-proto, get-sealed, set-sealed,
                       tx-sealed, get-cold, get-cold-sealed, echo-grpc-js (optional),
                       get-cached/get-fresh, set-cached/set-fresh, tx-cached/tx-fresh,
                       tx-lockstep-cached/tx-lockstep-fresh (optional: today's code against 46994b2),
                       memory (default: all but optional)
  --concurrency <list> concurrencies (1,64)
  --load-procs <n>     load-generator processes sharing a concurrency above 1 (2)
  --connections <n>    HTTP/2 connections per load process (2)
  --client <kind>      gRPC load client: raw (HTTP/2 by hand, default), node-h2 (node:http2), both with
                       pre-encoded frames, or grpc-js (unary rows only)
  --streams <n>        idle Transaction streams of the memory row (10000)
  --out <file>         JSON report (bench/results/latest.json)
  --cpu-prof <dir>     run servers and load processes under --cpu-prof, profiles into <dir>`;

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got ${text}`);
  return value;
}

/** parseOptions reads the bench flags from `argv` (default: this process's); throws on a bad flag. */
export function parseOptions(argv: string[] = process.argv.slice(2)): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: "string" },
      warmup: { type: "string" },
      runs: { type: "string" },
      only: { type: "string" },
      concurrency: { type: "string" },
      "load-procs": { type: "string" },
      connections: { type: "string" },
      client: { type: "string" },
      streams: { type: "string" },
      out: { type: "string" },
      "cpu-prof": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const client = values.client ?? "raw";
  if (client !== "raw" && client !== "node-h2" && client !== "grpc-js")
    throw new Error(`--client must be raw, node-h2 or grpc-js, got ${client}`);
  const list = (text: string | undefined) =>
    text
      ? text
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
  const concurrencies = list(values.concurrency ?? "1,64").map((c) => Math.round(positive("concurrency", c, 1)));
  return {
    durationSeconds: positive("duration", values.duration, 10),
    warmupSeconds: values.warmup === "0" ? 0 : positive("warmup", values.warmup, 3),
    runs: Math.round(positive("runs", values.runs, 1)),
    only: list(values.only),
    concurrencies,
    loadProcesses: Math.round(positive("load-procs", values["load-procs"], 2)),
    connections: Math.round(positive("connections", values.connections, 2)),
    client,
    streams: Math.round(positive("streams", values.streams, 10_000)),
    out: values.out ?? "bench/results/latest.json",
    cpuProfDir: values["cpu-prof"],
  };
}
