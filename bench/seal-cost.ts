/**
 * seal-cost measures, in this process alone, what sealing adds per memcached record: the CPU time of
 * sealing and of opening one record of the bench's size (`npx tsx bench/seal-cost.ts [bytes] [count]`,
 * default 1,200 bytes, 100,000 records). Unlike `npm run bench` it needs no servers and is little moved
 * by other work on the machine; compare it with a row's server microseconds per op.
 */
import { randomBytes } from "node:crypto";
import { parseDataKeys } from "../server/store/data-keys.js";
import { openValue, sealChunk } from "../server/store/seal.js";

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
