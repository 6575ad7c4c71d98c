// The simulation's checker on real processes (issue 18, part 3): three sessiond processes over three memcached,
// as a pool and through twemproxy, run the list-append workload while a nemesis crashes sessiond (SIGKILL),
// freezes memcached (SIGSTOP), restarts it empty and races InvalidateAll and revocations through several
// instances. Nothing acknowledged may be lost, nothing removed may come back: 0 violations. A short run of
// `npm run torture` (sim/torture/): about 30 s per variant, a minute in all.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { expect } from "chai";
import { defaultNemesisOptions } from "../sim/torture/nemesis.js";
import { runTorture, type TortureResult } from "../sim/torture/run-torture.js";
import type { Variant } from "../sim/torture/torture-cluster.js";
import { formatViolations, summarize } from "../sim/torture/torture-report.js";
import { REPO } from "./helpers/ops-process.js";

/** SEED fixes the workload's steps and the nemesis's schedule (the processes' timing still varies). */
const SEED = 18;
/** DURATION_MS is how long faults go on per variant; a whole round of every fault completes regardless. */
const DURATION_MS = 12_000;

describe("the list-append workload on real processes under a nemesis", function () {
  this.timeout(150_000);

  before(function () {
    this.timeout(60_000);
    // The harness runs sessiond as production does, from the build: make it fresh for the code under test.
    execFileSync(join(REPO, "node_modules/.bin/tsc"), ["-p", "tsconfig.build.json"], { cwd: REPO, stdio: "inherit" });
  });

  for (const variant of ["pool", "twemproxy"] as const satisfies readonly Variant[]) {
    describe(variant === "pool" ? "three sessiond over a pool of three memcached" : "three sessiond through twemproxy", () => {
      let result: TortureResult;

      before(async () => {
        result = await runTorture({
          variant,
          seed: SEED,
          durationMs: DURATION_MS,
          nemesis: { ...defaultNemesisOptions, rounds: 1 },
        });
      });

      it("ran real work: hundreds of operations, most appends acknowledged", () => {
        const summary = summarize(result);
        expect(summary.ops, "operations recorded").to.be.greaterThan(500);
        expect(summary.byKind.append?.ok, "appends acknowledged").to.be.greaterThan(100);
        expect(summary.byKind.read?.ok, "reads answered").to.be.greaterThan(100);
      });

      it("suffered every fault: a crashed sessiond, a frozen node, a node restarted empty, InvalidateAll and revocation races", () => {
        const summary = summarize(result);
        for (const kind of ["instance-crash", "node-freeze", "node-restart-empty"]) {
          expect(summary.faults[kind] ?? 0, `${kind} faults`).to.be.greaterThan(0);
        }
        expect(summary.races.invalidate, "InvalidateAll races").to.be.greaterThan(0);
        expect(summary.races.revoke, "revocation races").to.be.greaterThan(0);
        const restarts = result.history.faults.filter((f) => f.kind === "node-restart-empty");
        expect(
          restarts.every((f) => f.sessions !== undefined),
          "the pool layout names the sessions a restarted node held",
        ).to.equal(true);
      });

      it("went on acknowledging appends after every fault", () => {
        for (const { fault, appends } of summarize(result).ackedAfterFault) {
          expect(appends, `appends acknowledged after ${fault.kind} of ${fault.target}`).to.be.greaterThan(0);
        }
      });

      it("lost nothing acknowledged and served nothing removed: the checker finds no violation", () => {
        expect(result.violations, formatViolations(result.history, result.violations)).to.have.length(0);
      });
    });
  }
});
