import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { accessSync, constants, readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { delimiter, join } from "node:path";
import { freePort, sleep } from "./wait.js";

/** MemcachedOptions configures `startMemcached`; every field has a default. */
export interface MemcachedOptions {
  /** args are extra memcached arguments, e.g. `["-I", "2m"]`. Default: none. */
  args: string[];
  /** memoryMb is memcached's `-m`, in megabytes. Default: 64. */
  memoryMb: number;
  /** startTimeoutMs bounds the wait for memcached to answer `version`, in milliseconds. Default: 5000. */
  startTimeoutMs: number;
  /** binary is the memcached executable. Default: $MEMCACHED_BIN, else `memcached` on PATH, else /usr/bin/memcached. */
  binary: string | undefined;
}

/** MemcachedProcess is a memcached started by `startMemcached`, listening on 127.0.0.1. */
export interface MemcachedProcess {
  readonly host: string;
  readonly port: number;
  /** address is "127.0.0.1:port", as a store's `servers` entry. */
  readonly address: string;
  /** pid is the running memcached's process id; undefined while stopped. It changes on restart. */
  readonly pid: number | undefined;
  /** stop kills memcached (SIGKILL, like a crash) and resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
  /** restart starts memcached again on the same port (stopping it first if needed), empty. */
  restart(): Promise<void>;
  /**
   * pause freezes memcached (SIGSTOP): connections are still accepted by the kernel but never answered.
   * The signal is sent at once; the promise resolves when every memcached thread has stopped (signal
   * delivery is asynchronous, so a command sent right after `kill` could otherwise still be answered).
   */
  pause(): Promise<void>;
  /** resume undoes `pause` (SIGCONT). */
  resume(): void;
}

const defaults: MemcachedOptions = { args: [], memoryMb: 64, startTimeoutMs: 5000, binary: undefined };
const HOST = "127.0.0.1";
const POLL_INTERVAL_MS = 20;

// Every process this module started and has not yet seen exit, for the exit hook below.
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * startMemcached spawns memcached on a free loopback port and resolves once it answers `version`.
 * memcached runs with `-l 127.0.0.1 -U 0 -m 64`, plus `-u nobody` when the tests run as root (memcached
 * refuses root otherwise). It dies with the test run: killed on process exit, and, should the test
 * process be killed with SIGKILL, by a small `sh` watchdog that polls the test process every second.
 */
export async function startMemcached(options: Partial<MemcachedOptions> = {}): Promise<MemcachedProcess> {
  const settings = { ...defaults, ...options };
  const binary = settings.binary ?? findMemcached();
  let port = 0;
  let current: { memcached: ChildProcess; watchdog: ChildProcess; exited: Promise<void> } | undefined;

  async function launch(): Promise<void> {
    const args = ["-l", HOST, "-p", String(port), "-U", "0", "-m", String(settings.memoryMb)];
    if (process.getuid?.() === 0) args.push("-u", "nobody");
    const memcached = spawn(binary, [...args, ...settings.args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    memcached.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    // "error" without "exit" happens when the binary cannot be run at all.
    const exited = new Promise<void>((resolve) => {
      memcached.once("exit", () => resolve());
      memcached.once("error", () => resolve());
    });
    const failed = new Promise<never>((_, reject) => {
      memcached.once("error", (err) => reject(new Error(`cannot run ${binary}: ${err.message}`)));
      memcached.once("exit", (code, signal) =>
        reject(new Error(`memcached on ${HOST}:${port} exited (${signal ?? code}) while starting: ${stderr.trim()}`)),
      );
    });
    failed.catch(() => undefined);
    running.add(memcached);
    void exited.then(() => running.delete(memcached));
    const watchdog = startWatchdog(memcached.pid);
    current = { memcached, watchdog, exited };
    try {
      await Promise.race([answersVersion(port, settings.startTimeoutMs, memcached.pid), failed]);
    } catch (err) {
      await stop();
      throw err;
    }
    // Let a test run end with memcached still up (the exit hook kills it).
    memcached.unref();
    (memcached.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  }

  async function stop(): Promise<void> {
    const stopping = current;
    if (stopping === undefined) return;
    current = undefined;
    stopping.watchdog.kill("SIGKILL");
    stopping.memcached.ref(); // keep the event loop alive until the exit is seen
    stopping.memcached.kill("SIGKILL");
    await stopping.exited;
  }

  // A port found free may be taken before memcached binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort(HOST);
    try {
      await launch();
      break;
    } catch (err) {
      if (attempt >= 3 || !/in use|bind/i.test(String(err))) throw err;
    }
  }

  return {
    host: HOST,
    get port() {
      return port;
    },
    get address() {
      return `${HOST}:${port}`;
    },
    get pid() {
      return current?.memcached.pid;
    },
    stop,
    async restart() {
      await stop();
      await launch();
    },
    async pause() {
      const pid = current?.memcached.pid;
      if (pid === undefined) return;
      process.kill(pid, "SIGSTOP");
      await stopped(pid);
    },
    resume() {
      current?.memcached.kill("SIGCONT");
    },
  };
}

/** startMemcachedPool starts `count` memcached processes (see `startMemcached`), each on its own port. */
export function startMemcachedPool(count: number, options: Partial<MemcachedOptions> = {}): Promise<MemcachedProcess[]> {
  return Promise.all(Array.from({ length: count }, () => startMemcached(options)));
}

// startWatchdog runs `sh` to SIGKILL memcached once this process is gone; it ends by itself when memcached does.
function startWatchdog(memcachedPid: number | undefined): ChildProcess {
  const script = 'while kill -0 "$2" 2>/dev/null; do if ! kill -0 "$1" 2>/dev/null; then kill -9 "$2"; exit 0; fi; sleep 1; done';
  const watchdog = spawn("sh", ["-c", script, "memcached-watchdog", String(process.pid), String(memcachedPid)], {
    stdio: "ignore",
  });
  watchdog.unref();
  running.add(watchdog);
  watchdog.once("exit", () => running.delete(watchdog));
  return watchdog;
}

// stopped resolves once every thread of `pid` is in the stopped state, per Linux's /proc; elsewhere (no
// /proc) it resolves at once. Bounded: it gives up after a second rather than hang a test.
async function stopped(pid: number): Promise<void> {
  const deadline = Date.now() + 1000;
  while (Date.now() < deadline) {
    let states: string[];
    try {
      states = readdirSync(`/proc/${pid}/task`).map((tid) => {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      });
    } catch {
      return;
    }
    if (states.every((state) => state === "T" || state === "t")) return;
    await sleep(5);
  }
}

function findMemcached(): string {
  const candidates = [
    process.env.MEMCACHED_BIN,
    ...(process.env.PATH ?? "")
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, "memcached")),
    "/usr/bin/memcached",
    "/usr/local/bin/memcached",
  ];
  for (const candidate of candidates) {
    if (candidate === undefined || candidate === "") continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  throw new Error("memcached not found (tried $MEMCACHED_BIN, PATH, /usr/bin): install it, e.g. apt-get install memcached");
}

// answersVersion polls with a raw `stats` until memcached answers, or rejects after timeoutMs. It checks
// the answer's pid: a port found free may be taken by another program's memcached in between.
async function answersVersion(port: number, timeoutMs: number, pid: number | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no attempt";
  while (Date.now() < deadline) {
    try {
      const reply = await ask(port, "stats\r\n", Math.max(50, deadline - Date.now()));
      const answered = /^STAT pid (\d+)\r?$/m.exec(reply)?.[1];
      if (answered !== undefined && Number(answered) === pid) return;
      if (answered !== undefined) throw new Error(`port ${port} is served by another memcached (pid ${answered}): in use`);
      last = `unexpected reply ${JSON.stringify(reply.slice(0, 80))}`;
    } catch (err) {
      if (/another memcached/.test((err as Error).message)) throw err;
      last = (err as Error).message;
    }
    await sleep(POLL_INTERVAL_MS);
  }
  throw new Error(`memcached on ${HOST}:${port} did not answer within ${timeoutMs} ms (last: ${last})`);
}

function ask(port: number, command: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    let reply = "";
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply within ${timeoutMs} ms`)));
    socket.once("connect", () => socket.write(command));
    socket.setEncoding("utf8").on("data", (chunk: string) => {
      reply += chunk;
      if (reply.endsWith("END\r\n") || reply.startsWith("ERROR")) {
        socket.end();
        resolve(reply.trim());
      }
    });
    socket.once("error", reject);
    socket.once("close", () => reject(new Error("connection closed without a reply")));
  });
}

/** dumpKeys lists every key a memcached on 127.0.0.1:`port` holds (`lru_crawler metadump all`), URL-decoded. */
export function dumpKeys(port: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    socket.once("connect", () => socket.write("lru_crawler metadump all\r\n"));
    socket.setEncoding("utf8").on("data", (chunk: string) => {
      reply += chunk;
      if (reply.endsWith("END\r\n")) {
        socket.end();
        resolve([...reply.matchAll(/^key=(\S+)/gm)].map((m) => decodeURIComponent(m[1]!)));
      }
    });
    socket.once("error", reject);
  });
}
