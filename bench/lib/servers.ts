import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BENCH_ROOT, freePort, spawnScript, spawnTracked, stopChild, waitForPort } from "./child-processes.js";
import { startOtlpSink } from "./otlp-sink.js";
import type { ServerKind } from "./workload.js";

/** MEMCACHED_BIN is the memcached binary the bench starts; override with the MEMCACHED_BIN variable. */
export const MEMCACHED_BIN = process.env.MEMCACHED_BIN ?? "/usr/bin/memcached";

/** SESSIOND_MAIN is sessiond's entry point, relative to the repository root. */
export const SESSIOND_MAIN = "server/main.ts";

/**
 * CEILING_MEMCACHED_CONNECTIONS is memcache-client's maxConnections in the ceiling servers
 * (BENCH_CEILING_MEMCACHED_CONNECTIONS, default 1, memcache-client's own default).
 */
export const CEILING_MEMCACHED_CONNECTIONS = Number(process.env.BENCH_CEILING_MEMCACHED_CONNECTIONS ?? 1);

/** RunningProcess is a server process the bench started on a free loopback port. */
export interface RunningProcess {
  /** address is `127.0.0.1:port`. */
  address: string;
  port: number;
  pid: number;
  /** logFile holds the process's stdout and stderr (servers only). */
  logFile?: string;
  /** stop ends the process (SIGTERM, then SIGKILL after 5 s) and waits for it. */
  stop(): Promise<void>;
}

function running(child: ChildProcess, port: number, logFile?: string): RunningProcess {
  return { address: `127.0.0.1:${port}`, port, pid: child.pid ?? 0, logFile, stop: () => stopChild(child) };
}

/**
 * startMemcached starts memcached on a free loopback port (TCP only, 512 MB, `threads` worker threads,
 * default 2, 4096 connections) and resolves once a TCP connect succeeds. As root it runs as `nobody`
 * (memcached refuses root without `-u`).
 */
export async function startMemcached(threads = 2): Promise<RunningProcess> {
  const port = await freePort();
  const args = ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "512", "-t", String(threads), "-c", "4096"];
  if (process.getuid?.() === 0) args.push("-u", "nobody");
  const child = spawnTracked(MEMCACHED_BIN, args, { stdio: ["ignore", "ignore", "inherit"] });
  await waitForPort(port, child);
  return running(child, port);
}

/**
 * Telemetry is what a sessiond row turns on: `metrics` (`--metrics` on a free port; nothing scrapes it
 * during the measurement, as Prometheus's 15 s interval costs next to nothing), or `tracing` (every call
 * sampled, `OTEL_TRACES_SAMPLER=always_on`, spans exported over OTLP/HTTP to a sink in the bench process,
 * as JSON, sessiond's default), or `tracing-protobuf` (the same, with `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`).
 */
export type Telemetry = "off" | "metrics" | "tracing" | "tracing-protobuf";

/** ServerOptions tune how a server under test is started. */
export interface ServerOptions {
  /** workers is sessiond's `--workers N` (node cluster); omitted when 1. */
  workers: number;
  /** extraArgs go to `sessiond serve` as they are (e.g. TLS and config flags). */
  extraArgs?: string[];
  /** telemetry is sessiond's metrics or tracing; default off. */
  telemetry?: Telemetry;
  /** sealed gives sessiond `--data-keys` with a fresh random key file. Default false. */
  sealed?: boolean;
  /** baseline runs sessiond as of this git commit (older code to compare with), not the work tree's. */
  baseline?: string;
}

/**
 * startServer starts one server under test as its own process on a free loopback port, pointed at
 * `memcached`, and resolves once a TCP connect to its port succeeds. Output goes to a log file in the
 * temp directory (sessiond logs JSON lines with pino); a sealed row's key file goes beside it. sessiond runs as `node .bench-build/server/main.js
 * serve --listen ... --memcached ...` (not through npx, so that its pid is the server's own).
 */
export async function startServer(kind: ServerKind, memcached: string, options: ServerOptions): Promise<RunningProcess> {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const logDir = join(tmpdir(), "sessiond-bench");
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${kind}-${port}.log`);
  const log = openSync(logFile, "w");
  const stdio = ["ignore", log, log] as const;
  let child: ChildProcess;
  let stopAlso: (() => Promise<void>) | undefined;
  if (kind === "sessiond") {
    if (!existsSync(join(BENCH_ROOT, SESSIOND_MAIN))) throw new Error(`${SESSIOND_MAIN} does not exist yet`);
    const args = ["serve", "--listen", listen, "--memcached", memcached];
    if (options.workers > 1) args.push("--workers", String(options.workers));
    args.push(...(options.extraArgs ?? []));
    if (options.telemetry === "metrics") args.push("--metrics", `127.0.0.1:${await freePort()}`);
    let env: NodeJS.ProcessEnv = { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: "", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "" };
    if (options.telemetry === "tracing" || options.telemetry === "tracing-protobuf") {
      const sink = await startOtlpSink();
      env = {
        ...env,
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
        OTEL_TRACES_SAMPLER: "always_on",
        OTEL_EXPORTER_OTLP_PROTOCOL: options.telemetry === "tracing" ? "http/json" : "http/protobuf",
      };
      stopAlso = sink.close;
    }
    if (options.sealed) {
      const keyFile = join(logDir, `data-${port}.keys`);
      writeFileSync(keyFile, `bench:${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
      args.push("--data-keys", keyFile);
    }
    child = spawnScript(SESSIOND_MAIN, args, { stdio: [...stdio], env, ref: options.baseline });
  } else if (kind === "express-session") {
    // The bench's own servers get an IPC channel: they exit when it closes, even if the bench was killed.
    child = spawnScript("bench/servers/express-session-server.ts", ["--listen", listen, "--memcached", memcached], {
      stdio: [...stdio, "ipc"],
    });
  } else {
    const args = [
      "--kind",
      kind,
      "--listen",
      listen,
      "--memcached",
      memcached,
      "--memcached-connections",
      String(CEILING_MEMCACHED_CONNECTIONS),
    ];
    child = spawnScript("bench/servers/ceiling-server.ts", args, { stdio: [...stdio, "ipc"] });
  }
  try {
    await waitForPort(port, child, 60_000);
  } catch (error) {
    await stopChild(child);
    await stopAlso?.();
    throw new Error(`${kind} did not start (log: ${logFile}): ${(error as Error).message}`);
  }
  const server = running(child, port, logFile);
  if (stopAlso === undefined) return server;
  const after = stopAlso;
  return { ...server, stop: () => server.stop().then(after) };
}
