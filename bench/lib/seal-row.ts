import { randomBytes } from "node:crypto";
import { parseDataKeys } from "../../server/store/data-keys.js";
import { openValue, sealChunk } from "../../server/store/seal.js";
import { sealGcmChunk } from "../../server/store/seal-gcm.js";
import { median } from "./report.js";

/**
 * SealResult is the CPU cost of sealing and opening one memcached record of `bytes` bytes, with the
 * cipher sessiond seals with (XChaCha20-Poly1305, libsodium) and the one it sealed with before
 * (AES-256-GCM through node:crypto, a fresh cipher per record, as sessiond used it), in microseconds.
 */
export interface SealResult {
  bytes: number;
  xchachaSealUs: number;
  xchachaOpenUs: number;
  gcmSealUs: number;
  gcmOpenUs: number;
}

/** SEAL_SIZES are the record sizes measured: a small session (300 B) and a 2 KB one. */
export const SEAL_SIZES = [300, 2048];
// Internal: records per round, and rounds, the four measures of a size interleaved round by round so
// that a burst of other work on the machine falls on all four alike; each figure is a median of rounds.
const RECORDS = 20_000;
const ROUNDS = 5;

/**
 * runSealRow measures, in this process (the bench's, idle between rows), the seal and open cost per
 * record for each of SEAL_SIZES: CPU time (user + system) of RECORDS records, median of ROUNDS rounds.
 * The records go under a memcached key of sessiond's shape, with a key id of sessiond's length.
 */
export function runSealRow(): SealResult[] {
  const keys = parseDataKeys(`k202612:${randomBytes(32).toString("base64")}`, "bench keys");
  const storeKey = `sd1:bench:0123456789abcdef:s:${randomBytes(32).toString("base64url")}`;
  const results = SEAL_SIZES.map((bytes) => {
    const plaintext = randomBytes(bytes);
    const xchacha = sealChunk(keys.sealing, storeKey, plaintext, 0);
    const gcm = sealGcmChunk(keys.sealing, storeKey, plaintext, 0);
    const opens = (sealed: Buffer) => () => {
      if (!openValue(keys, storeKey, sealed).ok) throw new Error("a sealed record did not open");
    };
    const measures = {
      xchachaSealUs: () => sealChunk(keys.sealing, storeKey, plaintext, 0),
      xchachaOpenUs: opens(xchacha),
      gcmSealUs: () => sealGcmChunk(keys.sealing, storeKey, plaintext, 0),
      gcmOpenUs: opens(gcm),
    };
    const rounds: Record<keyof typeof measures, number[]> = {
      xchachaSealUs: [],
      xchachaOpenUs: [],
      gcmSealUs: [],
      gcmOpenUs: [],
    };
    for (const fn of Object.values(measures)) cpuMicros(fn, RECORDS / 4); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, fn] of Object.entries(measures)) rounds[name as keyof typeof measures].push(cpuMicros(fn, RECORDS));
    }
    return {
      bytes,
      xchachaSealUs: median(rounds.xchachaSealUs),
      xchachaOpenUs: median(rounds.xchachaOpenUs),
      gcmSealUs: median(rounds.gcmSealUs),
      gcmOpenUs: median(rounds.gcmOpenUs),
    };
  });
  keys.wipe();
  return results;
}

// cpuMicros runs fn `count` times and returns the CPU microseconds per call.
function cpuMicros(fn: () => unknown, count: number): number {
  const started = process.cpuUsage();
  for (let i = 0; i < count; i++) fn();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / count;
}

/** medianSeal folds the seal results of several runs: the median of each figure per size. */
export function medianSeal(runs: readonly SealResult[][]): SealResult[] {
  return (runs[0] ?? []).map((first) => {
    const same = runs.map((run) => run.find((r) => r.bytes === first.bytes)!);
    const pick = (key: Exclude<keyof SealResult, "bytes">) => median(same.map((r) => r[key]));
    return {
      bytes: first.bytes,
      xchachaSealUs: pick("xchachaSealUs"),
      xchachaOpenUs: pick("xchachaOpenUs"),
      gcmSealUs: pick("gcmSealUs"),
      gcmOpenUs: pick("gcmOpenUs"),
    };
  });
}

/** formatSeal renders the seal results as text lines, XChaCha20-Poly1305 against AES-256-GCM. */
export function formatSeal(results: readonly SealResult[]): string {
  return results
    .map(
      (r) =>
        `seal ${String(r.bytes).padStart(4)} B record: XChaCha20-Poly1305 seal ${r.xchachaSealUs.toFixed(2)} us, open ${r.xchachaOpenUs.toFixed(2)} us; ` +
        `AES-256-GCM seal ${r.gcmSealUs.toFixed(2)} us, open ${r.gcmOpenUs.toFixed(2)} us ` +
        `(XChaCha/GCM: seal ${(r.xchachaSealUs / r.gcmSealUs).toFixed(2)}x, open ${(r.xchachaOpenUs / r.gcmOpenUs).toFixed(2)}x, CPU per record)`,
    )
    .join("\n");
}
