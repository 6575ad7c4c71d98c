import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { runTorture } from "./run-torture.js";
import type { Variant } from "./torture-cluster.js";
import { formatSummary, formatViolations, summarize } from "./torture-report.js";

/**
 * torture-cli is `npm run torture -- [--minutes N] [--seed S] [--variant pool|twemproxy|both] [--verbose] [--history FILE] [--sessiond MAIN_JS]`: the list-append
 * workload on real processes under the nemesis, checked by the simulation's checker. Each variant runs N
 * minutes (default 1; fractions allowed); both run by default, the pool first. Prints operations, faults
 * and violations with the operations that show them; exits 1 on a violation, 2 on bad arguments. `--history F`
 * writes each variant's history as JSON to `F.<variant>.json`, for the checker to be run on again;
 * `--sessiond` runs another build of sessiond (an older commit's `dist/server/main.js`) under the same harness.
 */
async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: "string", default: "1" },
      seed: { type: "string" },
      variant: { type: "string", default: "both" },
      verbose: { type: "boolean", default: false },
      history: { type: "string" },
      sessiond: { type: "string" },
    },
  });
  const minutes = Number(values.minutes);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  const variants: Variant[] = values.variant === "both" ? ["pool", "twemproxy"] : [values.variant as Variant];
  if (!(minutes > 0) || !Number.isSafeInteger(seed) || !variants.every((v) => v === "pool" || v === "twemproxy")) {
    process.stderr.write(
      "usage: npm run torture -- [--minutes N] [--seed S] [--variant pool|twemproxy|both] [--verbose] [--history FILE]\n",
    );
    return 2;
  }
  let failed = false;
  for (const variant of variants) {
    process.stdout.write(`torture ${variant}: seed ${seed}, ${minutes} min (3 sessiond, 3 memcached)\n`);
    const log = values.verbose ? (message: string) => process.stdout.write(`${message}\n`) : undefined;
    const sessiond = values.sessiond === undefined ? {} : { sessiond: resolve(values.sessiond) };
    const result = await runTorture({ variant, seed, durationMs: minutes * 60_000, log, ...sessiond });
    process.stdout.write(`${formatSummary(`torture ${variant}`, summarize(result), result)}\n`);
    if (values.history !== undefined) writeFileSync(`${values.history}.${variant}.json`, JSON.stringify(result.history));
    if (result.violations.length > 0) {
      failed = true;
      process.stdout.write(`${formatViolations(result.history, result.violations)}\n`);
    }
  }
  return failed ? 1 : 0;
}

// An interrupted run still stops its processes: the helpers' exit hooks kill them by pid.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`torture: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
