import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type MemcachedProcess, startMemcachedPool } from "../../test/helpers/memcached.js";
import { REPO, type SessiondProcess, spawnProcess } from "../../test/helpers/ops-process.js";
import { startTwemproxy, type TwemproxyProcess } from "../../test/helpers/twemproxy.js";
import { freePort } from "../../test/helpers/wait.js";

/** Variant is how the sessiond processes reach memcached: a ketama pool of their own, or one twemproxy. */
export type Variant = "pool" | "twemproxy";

/** SessiondInstance is one sessiond process of the cluster, on a fixed loopback port that survives restarts. */
export interface SessiondInstance {
  /** name is the instance's name in the history: "i0", "i1"... */
  readonly name: string;
  /** address is "127.0.0.1:port", the same after every restart. */
  readonly address: string;
  /** pid is the running process's id; undefined while it is down. */
  readonly pid: number | undefined;
  /** crash kills the process with SIGKILL (no grace: open transactions and in-flight calls are cut). */
  crash(): Promise<void>;
  /** start runs the process again on the same port and resolves once it serves. */
  start(): Promise<void>;
}

/** TortureCluster is the real processes of a torture run: memcached nodes, maybe a proxy, sessiond instances. */
export interface TortureCluster {
  readonly variant: Variant;
  /** nodes are the memcached processes (behind the proxy in the twemproxy variant). */
  readonly nodes: readonly MemcachedProcess[];
  /** servers is what every sessiond is given as `--memcached`: the pool, or the proxy alone. */
  readonly servers: readonly string[];
  /** replicas is sessiond's `--replicas` (copies of a replicated value through a proxy). */
  readonly replicas: number;
  readonly instances: readonly SessiondInstance[];
  /** stop ends every process the cluster started, by its pid (frozen ones too). Idempotent, never throws. */
  stop(): Promise<void>;
}

/** TortureClusterOptions configure `startTortureCluster`. */
export interface TortureClusterOptions {
  variant: Variant;
  /** instances is how many sessiond processes to run. Default: 3. */
  instances?: number;
  /** nodes is how many memcached processes to run. Default: 3. */
  nodes?: number;
  /** sessiond is the built entry point to run. Default: this repository's `dist/server/main.js`. */
  sessiond?: string;
}

/** REPLICAS is `--replicas` through the proxy: one copy per node of the proxy's pool, as the issue asks. */
const REPLICAS = 3;
/** START_TIMEOUT_MS bounds a sessiond's start: generous, since a loaded machine (CI's two CPUs) starts node slowly. */
const START_TIMEOUT_MS = 30_000;
/** SESSION_TIMEOUT_S keeps every session of a run alive: no loss may be explained by expiry. */
const SESSION_TIMEOUT_S = 3600;

/**
 * startTortureCluster starts 3 memcached processes (as a pool, or behind twemproxy) and 3 sessiond processes
 * over them, each from the build (`dist/server/main.js serve`, as production runs it) on its own free port.
 * If anything fails to start, what did start is stopped before the error is thrown.
 */
export async function startTortureCluster(options: TortureClusterOptions): Promise<TortureCluster> {
  const main = options.sessiond ?? join(REPO, "dist/server/main.js");
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  let proxy: TwemproxyProcess | undefined;
  let nodes: MemcachedProcess[] = [];
  const instances: Array<SessiondInstance & { stop(): Promise<void> }> = [];
  const stop = async () => {
    for (const instance of instances) await instance.stop();
    if (proxy !== undefined) await proxy.stop();
    for (const node of nodes) await node.stop().catch(() => undefined);
  };
  try {
    if (options.variant === "twemproxy") {
      proxy = await startTwemproxy(options.nodes ?? 3);
      nodes = [...proxy.pool];
    } else {
      nodes = await startMemcachedPool(options.nodes ?? 3);
    }
    const servers = proxy === undefined ? nodes.map((n) => n.address) : [proxy.address];
    const flags = ["--memcached", servers.join(","), "--replicas", String(REPLICAS), "--timeout", String(SESSION_TIMEOUT_S)];
    for (let i = 0; i < (options.instances ?? 3); i++) {
      instances.push(createInstance(`i${i}`, `127.0.0.1:${await freePort()}`, main, flags));
    }
    await Promise.all(instances.map((instance) => instance.start()));
    return { variant: options.variant, nodes, servers, replicas: REPLICAS, instances, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// createInstance makes a sessiond instance (not yet started) serving on `address` with `flags`.
function createInstance(name: string, address: string, main: string, flags: readonly string[]) {
  let current: SessiondProcess | undefined;
  let watchdog: ChildProcess | undefined;

  async function kill(): Promise<void> {
    const running = current;
    current = undefined;
    watchdog?.kill("SIGKILL");
    if (running === undefined || running.child.exitCode !== null || running.child.signalCode !== null) return;
    running.child.kill("SIGKILL");
    await running.exited;
  }

  return {
    name,
    address,
    get pid() {
      return current?.child.pid;
    },
    crash: kill,
    stop: kill,
    async start() {
      if (current !== undefined) throw new Error(`sessiond ${name} is already running`);
      const proc = spawnProcess(process.execPath, [main, "serve", "--listen", address, ...flags]);
      current = proc;
      watchdog = startWatchdog(proc.child.pid);
      try {
        await proc.waitForLog((line) => line.msg === "sessiond started", START_TIMEOUT_MS);
      } catch (err) {
        await kill();
        throw new Error(`sessiond ${name} did not start on ${address}: ${(err as Error).message.slice(0, 2000)}`);
      }
    },
  };
}

// startWatchdog runs `sh` to SIGKILL sessiond once this process is gone, killed too hard for its exit hooks
// to run (as test/helpers/memcached.ts does for memcached); it ends by itself when sessiond does.
function startWatchdog(pid: number | undefined): ChildProcess | undefined {
  if (pid === undefined) return undefined;
  const script = 'while kill -0 "$2" 2>/dev/null; do if ! kill -0 "$1" 2>/dev/null; then kill -9 "$2"; exit 0; fi; sleep 1; done';
  const child = spawn("sh", ["-c", script, "sessiond-watchdog", String(process.pid), String(pid)], { stdio: "ignore" });
  child.unref();
  return child;
}
