import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { describe, RULES } from "./checker.js";
import { installDeterminism } from "./determinism.js";
import { createRandom } from "./random.js";
import { runSeed, type SeedResult } from "./simulation.js";

/**
 * The simulation's command line (`npm run sim -- ...`):
 * - `--seeds N [--from S]`: seeds S..S+N-1 (S defaults to 1), a line per failing seed, totals at the end;
 * - `--seed S [--dump FILE]`: one seed, verbose: its configuration, history hash, faults, and each
 *   violation with the operations that show it (shortest first); --dump writes the history as JSON;
 * - `--minutes M`: random seeds until M minutes have passed;
 * - `--skew-ms N`: instances' clocks are up to N ms off (default 300; 0: one clock);
 * Exits 1 when any seed violated a rule (the failing seeds are listed), 2 on bad arguments.
 */
const { values } = parseArgs({
  options: {
    seeds: { type: "string" },
    from: { type: "string", default: "1" },
    seed: { type: "string" },
    minutes: { type: "string" },
    dump: { type: "string" },
    "skew-ms": { type: "string", default: "300" },
  },
});

function integer(name: string, text: string | undefined): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`sim: --${name} must be a non-negative integer, got ${text}\n`);
    process.exit(2);
  }
  return n;
}

installDeterminism();
const started = Date.now();
const results: Array<
  Pick<SeedResult, "seed" | "violations" | "events" | "virtualMs"> & { ops: number; faults: Record<string, number> }
> = [];
const failing: number[] = [];

async function one(seed: number, verbose: boolean): Promise<void> {
  const result = await runSeed(seed, {}, integer("skew-ms", values["skew-ms"]));
  const faults: Record<string, number> = {};
  for (const f of result.history.faults) faults[f.kind] = (faults[f.kind] ?? 0) + 1;
  results.push({
    seed,
    violations: result.violations,
    events: result.events,
    virtualMs: result.virtualMs,
    ops: result.history.ops.length,
    faults,
  });
  if (result.violations.length > 0) failing.push(seed);
  if (verbose) return report(result);
  if (result.violations.length > 0) {
    process.stdout.write(
      `seed ${seed} FAILED: ${result.violations.length} violations (${counts(result.violations.map((v) => v.rule))})\n`,
    );
  }
}

function report(result: SeedResult): void {
  const c = result.config;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(
    `seed ${result.seed}: ${c.nodes} memcached, ${c.instances} instances (clocks ${c.skewsMs.map((s) => `${s} ms`).join(", ")}), ${c.workers} workers, ${c.ops} steps`,
  );
  out(
    `history: ${result.history.ops.length} operations, ${result.events} events, ${result.virtualMs.toFixed(0)} virtual ms, hash ${result.hash}`,
  );
  for (const f of result.history.faults) {
    out(
      `fault: ${f.kind} ${f.target} [${f.startMs.toFixed(1)}..${f.endMs.toFixed(1)} ms]${f.detail ? ` ${f.detail}` : ""}${f.sessions ? ` held ${f.sessions.join(" ") || "none"}` : ""}`,
    );
  }
  if (values.dump) writeFileSync(values.dump, JSON.stringify(result.history, null, 1));
  result.violations.forEach((v, i) => {
    out(`violation ${i + 1}/${result.violations.length} [${v.rule}]: ${v.message}`);
    out(`  rule: ${(RULES as Record<string, string>)[v.rule] ?? v.rule}`);
    for (const op of v.ops) out(`  ${describe(op)}${op.error ? ` (${op.error})` : ""}`);
  });
  out(result.violations.length === 0 ? "no violations" : `${result.violations.length} violations`);
}

function counts(items: readonly string[]): string {
  const by = new Map<string, number>();
  for (const item of items) by.set(item, (by.get(item) ?? 0) + 1);
  return [...by].map(([k, n]) => `${k} ${n}`).join(", ");
}

if (values.seed !== undefined) {
  await one(integer("seed", values.seed), true);
} else if (values.minutes !== undefined) {
  const until = started + Number(values.minutes) * 60_000;
  const draw = createRandom(Date.now());
  while (Date.now() < until) await one(draw.int(2 ** 31), false);
} else {
  const from = integer("from", values.from);
  const n = integer("seeds", values.seeds ?? "100");
  for (let seed = from; seed < from + n; seed++) await one(seed, false);
}

const ops = results.reduce((sum, r) => sum + r.ops, 0);
const events = results.reduce((sum, r) => sum + r.events, 0);
const faults: Record<string, number> = {};
for (const r of results) for (const [k, n] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + n;
const injected = Object.entries(faults)
  .filter(([k]) => k !== "clock-skew")
  .reduce((sum, [, n]) => sum + n, 0);
const violations = results.flatMap((r) => r.violations.map((v) => v.rule));
process.stdout.write(
  `seeds: ${results.length}, operations: ${ops}, storage and timer events: ${events}, ` +
    `faults injected: ${injected} (${counts(Object.entries(faults).flatMap(([k, n]) => Array<string>(n).fill(k)))}), ` +
    `violations: ${violations.length}${violations.length ? ` (${counts(violations)})` : ""}, ` +
    `wall time: ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
);
if (failing.length > 0) {
  process.stdout.write(`failing seeds: ${failing.join(" ")}\n`);
  process.exit(1);
}
process.exit(0);
