import type { ChildProcess, StdioOptions } from "node:child_process";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** BENCH_ROOT is the repository root: child scripts and `tsx` resolve from here. */
export const BENCH_ROOT = new URL("../../", import.meta.url).pathname;

const live = new Set<ChildProcess>();
let hooksInstalled = false;
let cpuProfileDir: string | undefined;

/**
 * profileChildren makes every Node process started by `spawnScript` from now on (servers and load
 * generators) run under `--cpu-prof`, writing `.cpuprofile` files into `dir` when it exits.
 */
export function profileChildren(dir: string): void {
  cpuProfileDir = dir;
}

/**
 * spawnTracked starts a child process and remembers it, so that `killAll` (run on exit, Ctrl-C, SIGTERM
 * and uncaught errors) ends it. The child runs from the repository root. Default stdio: stdin ignored,
 * stdout and stderr inherited, plus an IPC channel when `ipc` is set.
 */
export function spawnTracked(
  command: string,
  args: readonly string[],
  options: { ipc?: boolean; stdio?: StdioOptions; env?: NodeJS.ProcessEnv } = {},
): ChildProcess {
  installExitHooks();
  const stdio = options.stdio ?? (options.ipc ? ["ignore", "inherit", "inherit", "ipc"] : ["ignore", "inherit", "inherit"]);
  const child = spawn(command, args, { cwd: BENCH_ROOT, stdio, env: options.env ?? process.env });
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

/**
 * spawnScript starts one of the repository's TypeScript files (a server, a load worker) as its own Node
 * process, with the given extra Node flags (e.g. `--cpu-prof`); the process id is the script's own. It runs
 * the file as `npm start` runs sessiond: compiled by tsc (into `.bench-build/`, once per bench process),
 * not through tsx's loader, whose esbuild transform keeps function names by a call on every closure made,
 * a cost production never pays. `BENCH_SOURCE=1` runs the sources through tsx instead.
 */
export function spawnScript(
  file: string,
  args: readonly string[],
  options: {
    ipc?: boolean;
    nodeFlags?: readonly string[];
    stdio?: StdioOptions;
    env?: NodeJS.ProcessEnv;
    /** ref runs the file as of this git commit instead of the work tree (see `compiledAt`). */
    ref?: string;
  } = {},
): ChildProcess {
  const profile = cpuProfileDir ? ["--cpu-prof", "--cpu-prof-dir", cpuProfileDir] : [];
  const run =
    options.ref !== undefined
      ? [compiledAt(options.ref, file)]
      : process.env.BENCH_SOURCE
        ? ["--import", "tsx", file]
        : [compiled(file)];
  return spawnTracked(process.execPath, [...profile, ...(options.nodeFlags ?? []), ...run, ...args], options);
}

// Internal: where the bench compiles the repository, and whether this process has done it yet.
const BUILD_DIR = ".bench-build";
let built = false;

// compiled answers the compiled path of a repository file, compiling the repository the first time.
function compiled(file: string): string {
  if (!built) {
    execFileSync(
      join(BENCH_ROOT, "node_modules/.bin/tsc"),
      ["-p", "tsconfig.json", "--outDir", BUILD_DIR, "--declaration", "false", "--sourceMap", "false"],
      { cwd: BENCH_ROOT, stdio: "inherit" },
    );
    built = true;
  }
  return join(BUILD_DIR, file.replace(/\.ts$/, ".js"));
}

/**
 * compiledAt answers the compiled path of a repository file as of git commit `ref`: the commit's tree is
 * exported (`git archive`) into `.bench-build/at-<sha>/` once per bench process, beside this work tree's
 * node_modules, and compiled as `compiled` does. A row measured against older code (a baseline) runs the
 * same bench, load and memcached as the row it is divided by: only the server differs.
 */
function compiledAt(ref: string, file: string): string {
  const sha = execFileSync("git", ["rev-parse", "--short=12", `${ref}^{commit}`], { cwd: BENCH_ROOT, encoding: "utf8" }).trim();
  const tree = join(BENCH_ROOT, BUILD_DIR, `at-${sha}`);
  if (!builtAt.has(sha)) {
    rmSync(tree, { recursive: true, force: true });
    mkdirSync(tree, { recursive: true });
    execFileSync("sh", ["-c", `git archive ${sha} | tar -x -C "${tree}"`], { cwd: BENCH_ROOT, stdio: "inherit" });
    symlinkSync(join(BENCH_ROOT, "node_modules"), join(tree, "node_modules"));
    execFileSync(
      join(BENCH_ROOT, "node_modules/.bin/tsc"),
      ["-p", "tsconfig.json", "--outDir", "out", "--declaration", "false", "--sourceMap", "false"],
      {
        cwd: tree,
        stdio: "inherit",
      },
    );
    builtAt.add(sha);
  }
  return join(tree, "out", file.replace(/\.ts$/, ".js"));
}
const builtAt = new Set<string>();

/**
 * stopChild asks a child to stop with SIGTERM and waits for it; after `graceMs` (default 5000) it sends
 * SIGKILL. Resolves once the child has exited.
 */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** killAll sends SIGKILL to every child still running; used on the way out. */
export function killAll(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  live.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** freePort asks the kernel for a free loopback TCP port (bind to port 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * waitForPort polls a TCP connect to 127.0.0.1:port every 50 ms until it succeeds; it rejects after
 * `timeoutMs` (default 30000) or as soon as `child` (if given) exits.
 */
export async function waitForPort(port: number, child?: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`process ${child.pid} exited (${child.exitCode ?? child.signalCode}) before port ${port} opened`);
    }
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
