/**
 * principal is the bench of "sessions of a principal" (`npm run bench:principal -- [flags]`, `--help` lists
 * them). It starts one memcached and one sessiond process (`sessiond serve`), fills memcached through an
 * in-process core on the same memcached (the same code as the server, without gRPC, to fill fast), and
 * measures over gRPC with the SDK:
 * - RevokeSessions (all) of a principal with each of `--sizes` sessions (goal: flat, O(1) writes);
 * - ListPrincipalSessions of a principal with 50 sessions in a namespace of `--namespace-sessions` others.
 * Each figure is the median of `--repeat` measurements, with min and max (each revoke round revokes a principal
 * filled afresh). Every process it started ends on exit.
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { createSessionClient, type SessionClient } from "../client/index.js";
import { createSessionCore, type SessionCore } from "../server/core/session-core.js";
import { createMemcachedStore } from "../server/store/memcached-store.js";
import { killAll } from "./lib/child-processes.js";
import { startMemcached, startServer } from "./lib/servers.js";

const USAGE = `usage: npx tsx bench/principal.ts [flags]
  --sizes <list>             sessions of one principal to revoke (10,10000,100000)
  --namespace-sessions <n>   other sessions in the namespace of the listing figure (100000; the closing note: 1000000)
  --listed <n>               sessions of the listed principal (50)
  --repeat <n>               measurements per figure, the median reported; each revoke round fills anew (3)
  --fill-concurrency <n>     writes in flight while filling (128)`;

interface Options {
  sizes: number[];
  namespaceSessions: number;
  listed: number;
  repeat: number;
  fillConcurrency: number;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: "string", default: "10,10000,100000" },
      "namespace-sessions": { type: "string", default: "100000" },
      listed: { type: "string", default: "50" },
      repeat: { type: "string", default: "3" },
      "fill-concurrency": { type: "string", default: "128" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return undefined;
  const count = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} ${JSON.stringify(text)} is not an integer >= ${min}`);
    return n;
  };
  return {
    sizes: values.sizes.split(",").map((s) => count("sizes", s.trim(), 1)),
    namespaceSessions: count("namespace-sessions", values["namespace-sessions"], 0),
    listed: count("listed", values.listed, 1),
    repeat: count("repeat", values.repeat, 1),
    fillConcurrency: count("fill-concurrency", values["fill-concurrency"], 1),
  };
}

/** fill runs `task(i)` for i in 0..count-1 with `width` in flight, printing progress to stderr. */
async function fill(what: string, count: number, width: number, task: (i: number) => Promise<unknown>): Promise<void> {
  const started = performance.now();
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) {
        await task(next++);
        if (++done % 50_000 === 0) progress(`  ${what}: ${done} of ${count}`);
      }
    }),
  );
  progress(`  ${what}: ${count} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** timed calls `run` `repeat` times, one after another, and summarizes the times in ms. */
async function timed(repeat: number, run: () => Promise<unknown>): Promise<{ median: number; min: number; max: number }> {
  const ms: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const started = performance.now();
    await run();
    ms.push(performance.now() - started);
  }
  return summary(ms);
}

/** summary is the median, min and max of times in ms. */
function summary(ms: number[]): { median: number; min: number; max: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)! };
}

/** settle waits a second, collecting this process's garbage first when node runs with --expose-gc. */
async function settle(): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((resolve) => setTimeout(resolve, 1000));
}

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

async function revokeRows(core: SessionCore, client: SessionClient, options: Options): Promise<string[]> {
  const rows: string[] = [];
  for (const size of options.sizes) {
    const ns = `BenchRevoke${size}`;
    const ms: number[] = [];
    // Each round revokes a principal filled afresh: a second revoke of the same one would find its list empty.
    for (let round = 0; round < options.repeat; round++) {
      const principal = `user-${size}-${round}`;
      const ids: string[] = [];
      await fill(`${size} sessions of ${principal}`, size, options.fillConcurrency, async () => {
        ids.push((await core.createSession(ns, { principal, attributes: { device: "bench" } })).sessionId);
      });
      // Let the fill's aftermath settle (this process's garbage, memcached's background threads): the row
      // times the call, not them.
      await settle();
      const started = performance.now();
      const revoked = await client.principal(ns, principal).revoke();
      ms.push(performance.now() - started);
      if (revoked !== size) throw new Error(`revoked ${revoked} sessions of ${principal}, expected ${size}`);
      // Sanity: the sessions are gone (a sample).
      const alive = await Promise.all(
        ids.slice(0, 100).map((id) =>
          client
            .session(ns, id)
            .describe()
            .then(
              () => id,
              () => undefined,
            ),
        ),
      );
      if (alive.some((id) => id !== undefined)) throw new Error(`sessions of ${principal} survived the revoke`);
    }
    rows.push(row(`RevokeSessions (all), ${size} sessions of one principal`, summary(ms)));
  }
  return rows;
}

async function listRow(core: SessionCore, client: SessionClient, options: Options): Promise<string> {
  const ns = "BenchList";
  await fill(`${options.namespaceSessions} other sessions of ${ns}`, options.namespaceSessions, options.fillConcurrency, (i) =>
    core.createSession(ns, i % 2 ? { principal: `other-${i % 10_000}` } : {}),
  );
  await fill(`${options.listed} sessions of the listed principal`, options.listed, options.fillConcurrency, () =>
    core.createSession(ns, { principal: "listed-user", attributes: { device: "bench" } }),
  );
  let seen = 0;
  const t = await timed(options.repeat, async () => {
    seen = 0;
    for await (const _ of client.principal(ns, "listed-user").sessions({ pageSize: 100 })) seen++;
  });
  if (seen !== options.listed) throw new Error(`listed ${seen} sessions, expected ${options.listed}`);
  return row(`ListPrincipalSessions, ${options.listed} sessions, namespace of ${options.namespaceSessions} others`, t);
}

function row(name: string, t: { median: number; min: number; max: number }): string {
  return `${name.padEnd(72)} ${t.median.toFixed(2).padStart(9)} ms  (min ${t.min.toFixed(2)}, max ${t.max.toFixed(2)})`;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options === undefined) {
    console.log(USAGE);
    return;
  }
  const memcached = await startMemcached();
  const sessiond = await startServer("sessiond", memcached.address, { workers: 1 });
  const store = createMemcachedStore({ servers: [memcached.address], cmdTimeoutMs: 5000 });
  const core = createSessionCore(store, {}, pino({ level: "warn" }));
  const client = createSessionClient(sessiond.address, { timeoutMs: 60_000 });
  try {
    const rows = [...(await revokeRows(core, client, options)), await listRow(core, client, options)];
    console.log(`\nsessions of a principal (median of ${options.repeat} over gRPC, one sessiond, one memcached)`);
    for (const line of rows) console.log(line);
  } finally {
    client.close();
    await store.close();
    await sessiond.stop();
    await memcached.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  killAll();
  process.exitCode = 1;
});
