/**
 * seal-cost measures, in this process alone, what sealing adds per memcached record: the CPU time of
 * sealing and of opening one record of the bench's size (`npx tsx bench/seal-cost.ts [bytes] [count]`,
 * default 1,200 bytes, 100,000 records), then what it adds to a Set, a Get and a transaction (begin, get,
 * set, commit) through the session core, on the memory store with and without the sealed store in front
 * (64 sessions of the bench's ~1 KB package, 64 calls at a time, medians of 5 rounds, the two interleaved).
 * Unlike `npm run bench` it needs no servers and is little moved by other work on the machine; compare it
 * with a row's server microseconds per op.
 */
import { randomBytes } from "node:crypto";
import { createSessionCore, type SessionCore } from "../server/core/session-core.js";
import { parseDataKeys } from "../server/store/data-keys.js";
import { createMemoryStore } from "../server/store/memory-store.js";
import { openValue, sealChunk } from "../server/store/seal.js";
import { createSealedStore } from "../server/store/sealed-store.js";
import { sessionPayload } from "./lib/workload.js";

const bytes = Number(process.argv[2] ?? 1200);
const count = Number(process.argv[3] ?? 100_000);
const keys = parseDataKeys(`bench:${randomBytes(32).toString("base64")}`, "bench keys");
const storeKey = `sd1:bench:0123456789abcdef:s:${randomBytes(32).toString("base64url")}`;
const plaintext = randomBytes(bytes);

// cpuMicros runs fn count times (after a warm-up) and returns the CPU microseconds per call.
function cpuMicros(fn: () => unknown): number {
  for (let i = 0; i < 10_000; i++) fn();
  const started = process.cpuUsage();
  for (let i = 0; i < count; i++) fn();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / count;
}

const sealed = sealChunk(keys.sealing, storeKey, plaintext, 0);
const sealUs = cpuMicros(() => sealChunk(keys.sealing, storeKey, plaintext, 0));
const openUs = cpuMicros(() => {
  if (!openValue(keys, storeKey, sealed).ok) throw new Error("a sealed record did not open");
});
process.stdout.write(
  `${bytes}-byte record: seal ${sealUs.toFixed(2)} us, open ${openUs.toFixed(2)} us of CPU ` +
    `(+${sealed.length - bytes} bytes stored), ${count} each\n`,
);

// Through the core: the same calls on two cores, one over the memory store, one over it sealed.
const plainCore = createSessionCore(createMemoryStore());
const sealedCore = createSessionCore(createSealedStore(createMemoryStore(), { current: keys }, { warn: () => undefined }));
const CALLS = 20_000;
async function sessions(core: SessionCore): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < 64; i++) {
    const { sessionId } = await core.createSession("bench");
    await core.set("bench", sessionId, "p", sessionPayload());
    ids.push(sessionId);
  }
  return ids;
}
const calls = {
  Set: (core: SessionCore, id: string, i: number) => core.set("bench", id, "p", { visits: i }),
  Get: (core: SessionCore, id: string) => core.get("bench", id, "p", []).then(() => undefined),
  Tx: async (core: SessionCore, id: string, i: number) => {
    const tx = await core.begin("bench", id);
    tx.get("p", []);
    tx.set("p", { visits: i });
    await tx.commit();
  },
};
async function coreMicros(core: SessionCore, ids: string[], call: (core: SessionCore, id: string, i: number) => Promise<void>) {
  const started = process.cpuUsage();
  for (let i = 0; i < CALLS; i += ids.length) await Promise.all(ids.map((id) => call(core, id, i)));
  const used = process.cpuUsage(started);
  return (used.user + used.system) / CALLS;
}
const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1]!;
const plainIds = await sessions(plainCore);
const sealedIds = await sessions(sealedCore);
for (const [name, call] of Object.entries(calls)) {
  const plain: number[] = [];
  const sealedRuns: number[] = [];
  for (let round = 0; round < 5; round++) {
    plain.push(await coreMicros(plainCore, plainIds, call));
    sealedRuns.push(await coreMicros(sealedCore, sealedIds, call));
  }
  const [p, q] = [median(plain), median(sealedRuns)];
  process.stdout.write(
    `${name.padEnd(3)} through the core: ${p.toFixed(1)} us plain, ${q.toFixed(1)} us sealed (+${(q - p).toFixed(1)} us)\n`,
  );
}
