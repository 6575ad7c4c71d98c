/**
 * pool is `npm run bench:pool` (`npx tsx bench/pool.ts [flags]`): the figures of a memcached pool and of
 * the session index, printed as one small table.
 *
 * - creates/s in one namespace at each `--sizes` (the last `--sample` creates before the size is reached);
 * - ListSessions of the largest size: time for the whole listing (1000 a page) and sessiond's peak RSS;
 * - 3 memcached, one restarted: share of `--pool-sessions` sessions kept, against the share not on it;
 * - 3 memcached, one frozen (SIGSTOP): p99 of Gets of sessions on the other nodes, against the same p99
 *   with every node up (`--duration` seconds each, after `--warmup`).
 *
 * Every process it starts (memcached, sessiond) is ended on exit. Example: `npm run bench:pool --
 * --sizes 10000,1000000` (the figures; the fill takes minutes); `--sizes 10000,50000
 * --duration 2 --warmup 1` checks it quickly.
 */
import { parseArgs } from "node:util";
import { killAll, spawnTracked, stopChild, waitForPort } from "./lib/child-processes.js";
import {
  client,
  createRates,
  fill,
  keptShare,
  listAll,
  nodesOf,
  type PoolBenchOptions,
  p99OfGets,
} from "./lib/pool-scenarios.js";
import { MEMCACHED_BIN, startMemcached, startServer } from "./lib/servers.js";

function options(): PoolBenchOptions {
  const { values } = parseArgs({
    options: {
      sizes: { type: "string", default: "10000,1000000" },
      sample: { type: "string", default: "10000" },
      concurrency: { type: "string", default: "32" },
      "pool-sessions": { type: "string", default: "3000" },
      duration: { type: "string", default: "10" },
      warmup: { type: "string", default: "2" },
    },
  });
  const n = (text: string | undefined) => {
    const value = Number(text);
    if (!(value >= 0)) throw new Error(`not a number: ${text}`);
    return value;
  };
  return {
    sizes: String(values.sizes).split(",").map(n),
    sample: n(values.sample),
    concurrency: n(values.concurrency),
    poolSessions: n(values["pool-sessions"]),
    durationSeconds: n(values.duration),
    warmupSeconds: n(values.warmup),
  };
}

const rows: Array<[string, string, string]> = [];
const row = (figure: string, value: string, goal = "") => {
  rows.push([figure, value, goal]);
  console.error(`${figure}: ${value}`);
};
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

async function indexFigures(o: PoolBenchOptions): Promise<void> {
  const memcached = await startMemcached(2);
  const server = await startServer("sessiond", memcached.address, { workers: 1 });
  const sd = client(server.address);
  try {
    const rates = await createRates(sd, "BenchIndex", o);
    for (const [size, rate] of rates) row(`creates/s at ${size} sessions in one namespace`, rate.toFixed(0));
    const sizes = [...rates.keys()];
    if (sizes.length >= 2) {
      const ratio = rates.get(sizes.at(-1)!)! / rates.get(sizes[0]!)!;
      row(`ratio creates/s ${sizes.at(-1)} / ${sizes[0]}`, ratio.toFixed(2), ">= 0.8");
      // The small size again, in a fresh namespace, now: the same memcached (as full as the big namespace
      // left it) and the same machine minutes later, so that this ratio shows the namespace's size alone.
      const after = (await createRates(sd, "BenchIndexAfter", { ...o, sizes: [sizes[0]!] })).get(sizes[0]!)!;
      row(`creates/s at ${sizes[0]} sessions in a fresh namespace, measured after`, after.toFixed(0));
      row(
        `ratio creates/s ${sizes.at(-1)} / ${sizes[0]} measured after`,
        (rates.get(sizes.at(-1)!)! / after).toFixed(2),
        ">= 0.8",
      );
    }
    const listing = await listAll(sd, server, "BenchIndex");
    row(
      `ListSessions of ${sizes.at(-1)} sessions (${listing.listed} listed)`,
      `${listing.seconds.toFixed(1)} s, peak RSS ${mb(listing.peakRssBytes)} (before ${mb(listing.rssBeforeBytes)})`,
    );
  } finally {
    sd.close();
    await server.stop();
    await memcached.stop();
  }
}

async function poolFigures(o: PoolBenchOptions): Promise<void> {
  const pool = await Promise.all([0, 1, 2].map(() => startMemcached(1)));
  const servers = pool.map((m) => m.address);
  const server = await startServer("sessiond", servers.join(","), { workers: 1 });
  const sd = client(server.address);
  try {
    const restartIds = await fill(sd, "BenchRestart", o.poolSessions, o.concurrency);
    const restartNodes = await nodesOf(servers, "BenchRestart", restartIds);
    const onRestarted = restartIds.filter((id) => restartNodes.get(id) === servers[0]).length / restartIds.length;
    // A restart as a crash: SIGKILL, and a new empty memcached on the same port.
    process.kill(pool[0]!.pid, "SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 200));
    pool[0] = await restartOnPort(pool[0]!.port);
    const kept = await keptShare(sd, "BenchRestart", restartIds, o.concurrency);
    row(
      "3 nodes, one restarted: share of sessions kept",
      `${(kept * 100).toFixed(1)}%`,
      `${((1 - onRestarted) * 100).toFixed(1)}% (not on it)`,
    );

    const ids = await fill(sd, "BenchFrozen", o.poolSessions, o.concurrency);
    const nodes = await nodesOf(servers, "BenchFrozen", ids);
    const healthy = (id: string) => nodes.get(id) !== servers[1];
    const up = await p99OfGets(sd, "BenchFrozen", ids, healthy, o);
    process.kill(pool[1]!.pid, "SIGSTOP");
    let frozen: Awaited<ReturnType<typeof p99OfGets>>;
    try {
      frozen = await p99OfGets(sd, "BenchFrozen", ids, healthy, o);
    } finally {
      process.kill(pool[1]!.pid, "SIGCONT");
    }
    row("p99 of Gets on the other nodes, all nodes up", `${up.p99Ms.toFixed(2)} ms (${up.calls} calls)`);
    row(
      "p99 of Gets on the other nodes, one node frozen",
      `${frozen.p99Ms.toFixed(2)} ms (${frozen.calls} calls, ${frozen.failed} failed on the frozen node)`,
    );
    row("ratio frozen / all up", (frozen.p99Ms / up.p99Ms).toFixed(2), "<= 1.5");
  } finally {
    sd.close();
    await server.stop();
    for (const m of pool) await m.stop();
  }
}

// restartOnPort starts an empty memcached on the port a killed one used.
async function restartOnPort(port: number) {
  const args = ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "512", "-t", "1", "-c", "4096"];
  if (process.getuid?.() === 0) args.push("-u", "nobody");
  const child = spawnTracked(MEMCACHED_BIN, args, { stdio: ["ignore", "ignore", "inherit"] });
  await waitForPort(port, child);
  return { address: `127.0.0.1:${port}`, port, pid: child.pid ?? 0, stop: () => stopChild(child) };
}

try {
  const o = options();
  await indexFigures(o);
  await poolFigures(o);
  const width = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), 6));
  const line = (r: readonly string[]) => `| ${r.map((c, i) => c.padEnd(width[i]!)).join(" | ")} |`;
  process.stdout.write(
    [line(["figure", "value", "goal"]), line(width.map((w) => "-".repeat(w))), ...rows.map(line), ""].join("\n"),
  );
} finally {
  killAll();
}
