import { createSessionClient, type SessionClient } from "../../client/index.js";
import { sessionNodes } from "../../test/helpers/pool-layout.js";
import { RssSampler, rssBytes } from "./proc-stats.js";
import type { RunningProcess } from "./servers.js";

/** PoolBenchOptions are the sizes and durations of `npm run bench:pool` (see bench/pool.ts for flags). */
export interface PoolBenchOptions {
  sizes: number[];
  sample: number;
  concurrency: number;
  poolSessions: number;
  durationSeconds: number;
  warmupSeconds: number;
}

/** client makes an SDK client with retries off: the bench counts what the server answers. */
export function client(address: string): SessionClient {
  return createSessionClient(address, { retry: { attempts: 1 }, timeoutMs: 30_000 });
}

/** inParallel runs `count` tasks with `concurrency` at a time; task(i) for i in 0..count-1. */
export async function inParallel(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/**
 * createRates fills one namespace up to each size in turn and measures the creates/s of the last `sample`
 * creates before each size is reached (concurrency `concurrency`), after `sample` warm-up creates elsewhere.
 */
export async function createRates(sd: SessionClient, namespace: string, o: PoolBenchOptions): Promise<Map<number, number>> {
  const rates = new Map<number, number>();
  // Warm-up in another namespace: the first size's figure must not pay for JIT compilation and connections.
  await inParallel(o.sample, o.concurrency, async () => void (await sd.createSession(`${namespace}-warmup`)));
  let filled = 0;
  for (const size of [...o.sizes].sort((a, b) => a - b)) {
    const untimed = Math.max(0, size - o.sample - filled);
    await inParallel(untimed, o.concurrency, async () => void (await sd.createSession(namespace)));
    filled += untimed;
    const timed = size - filled;
    const started = performance.now();
    await inParallel(timed, o.concurrency, async () => void (await sd.createSession(namespace)));
    rates.set(size, timed / ((performance.now() - started) / 1000));
    filled = size;
  }
  return rates;
}

/** listAll pages through a namespace (1000 a page) and reports its time, count and the server's peak RSS. */
export async function listAll(sd: SessionClient, server: RunningProcess, namespace: string) {
  const rssBeforeBytes = rssBytes(server.pid);
  const sampler = new RssSampler(server.pid);
  const started = performance.now();
  let listed = 0;
  for await (const _ of sd.listSessions(namespace, { pageSize: 1000 })) listed++;
  return { listed, seconds: (performance.now() - started) / 1000, peakRssBytes: sampler.stop(), rssBeforeBytes };
}

/** nodesOf names, for each session id, the memcached node of a pool that holds it (as the ring does). */
export const nodesOf = sessionNodes;

/** fill creates `count` sessions with a little data and returns their ids. */
export async function fill(sd: SessionClient, namespace: string, count: number, concurrency: number): Promise<string[]> {
  const ids: string[] = [];
  await inParallel(count, concurrency, async () => {
    const session = await sd.createSession(namespace);
    await session.set("p", { n: ids.length });
    ids.push(session.id);
  });
  return ids;
}

/** keptShare reads every session and answers the share that still holds its data. */
export async function keptShare(sd: SessionClient, namespace: string, ids: readonly string[], concurrency: number) {
  let kept = 0;
  await inParallel(ids.length, concurrency, async (i) => {
    const data = await sd.session(namespace, ids[i]!).get("p");
    if (Object.keys(data).length > 0) kept++;
  });
  return kept / ids.length;
}

/**
 * p99OfGets reads random sessions of `ids` at `concurrency` for `seconds` (after `warmupSeconds`) and
 * answers the 99th percentile latency, in ms, of the reads whose session `measured` accepts, with the
 * count of reads that failed.
 */
export async function p99OfGets(
  sd: SessionClient,
  namespace: string,
  ids: readonly string[],
  measured: (id: string) => boolean,
  o: PoolBenchOptions,
) {
  const latencies: number[] = [];
  let failed = 0;
  let recording = false;
  const end = performance.now() + (o.warmupSeconds + o.durationSeconds) * 1000;
  const warm = setTimeout(() => (recording = true), o.warmupSeconds * 1000);
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < end) {
        const id = ids[Math.floor(Math.random() * ids.length)]!;
        const started = performance.now();
        const ok = await sd
          .session(namespace, id)
          .get("p")
          .then(
            () => true,
            () => false,
          );
        if (!ok) failed++;
        if (recording && ok && measured(id)) latencies.push(performance.now() - started);
      }
    }),
  );
  clearTimeout(warm);
  latencies.sort((a, b) => a - b);
  return { p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN, calls: latencies.length, failed };
}
