import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MemcachedProcess, startMemcachedPool } from "./memcached.js";

/** TwemproxyProcess is a twemproxy (nutcracker) on loopback in front of its own memcached pool. */
export interface TwemproxyProcess {
  /** address is the proxy's "127.0.0.1:port": the one server sessiond is given. */
  readonly address: string;
  /** pool are the memcached nodes behind it, in the order its config lists them. */
  readonly pool: readonly MemcachedProcess[];
  /** stop kills the proxy and its memcached nodes, and removes its config. Idempotent. */
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";
const START_TIMEOUT_MS = 5000;

// Every proxy started and not yet seen exit: killed when the test run ends.
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * startTwemproxy starts `nodes` memcached processes and a nutcracker (Debian's `nutcracker` package,
 * $NUTCRACKER_BIN or `nutcracker` on PATH) in front of them on free loopback ports, configured as a
 * production pool would be: `hash: md5`, `distribution: ketama`, servers as `127.0.0.1:PORT:1`, no
 * ejection. Resolves once the proxy answers a `get`. Its stats port is a free port too.
 */
export async function startTwemproxy(nodes = 3): Promise<TwemproxyProcess> {
  const pool = await startMemcachedPool(nodes);
  const [port, statsPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), "sessiond-twemproxy-"));
  const config = join(dir, "nutcracker.yml");
  writeFileSync(
    config,
    [
      "sessiond:",
      `  listen: ${HOST}:${port}`,
      "  hash: md5",
      "  distribution: ketama",
      "  auto_eject_hosts: false",
      "  timeout: 1000",
      "  server_retry_timeout: 500",
      "  servers:",
      ...pool.map((m) => `    - ${m.address}:1`),
      "",
    ].join("\n"),
  );
  const binary = process.env.NUTCRACKER_BIN ?? "nutcracker";
  const child = spawn(binary, ["-c", config, "-s", String(statsPort), "-a", HOST, "-o", join(dir, "nutcracker.log")], {
    stdio: "ignore",
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
  void exited.then(() => running.delete(child));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    child.kill("SIGKILL");
    await exited;
    for (const m of pool) await m.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await answers(port, exited);
  } catch (err) {
    await stop();
    throw err;
  }
  child.unref();
  return { address: `${HOST}:${port}`, pool, stop };
}

// answers polls the proxy with a `get` until it replies END, or rejects (the proxy exited, or timed out).
async function answers(port: number, exited: Promise<void>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && !gone) {
    const reply = await ask(port).catch(() => "");
    if (reply.startsWith("END")) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nutcracker on ${HOST}:${port} did not answer (is the nutcracker package installed?)`);
}

function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    let reply = "";
    socket.setTimeout(500, () => socket.destroy(new Error("no reply")));
    socket.once("connect", () => socket.write("get sessiond-twemproxy-probe\r\n"));
    socket.setEncoding("utf8").on("data", (chunk: string) => {
      reply += chunk;
      if (reply.includes("\r\n")) {
        socket.end();
        resolve(reply);
      }
    });
    socket.once("error", reject);
    socket.once("close", () => resolve(reply));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
