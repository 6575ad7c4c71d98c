import { execFile } from "node:child_process";
import { expect } from "chai";

// The simulation patches timers, Math.random and node:crypto process-wide: it runs in a child process of
// its own (the CLI, as `npm run sim` does), never inside mocha.
function sim(...args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "sim/main.ts", ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout });
    });
  });
}

// summary reads the CLI's last line: "seeds: N, operations: N, ... faults injected: N (...), violations: N".
function summary(stdout: string) {
  const number = (label: string) => Number(new RegExp(`${label}: (\\d+)`).exec(stdout)?.[1] ?? Number.NaN);
  return {
    seeds: number("seeds"),
    operations: number("operations"),
    faults: number("faults injected"),
    violations: number("violations"),
  };
}

describe("the deterministic simulation (npm run sim)", () => {
  it("runs seeds 1..500 of the real core over a simulated pool, with faults, and finds no violation", async function () {
    this.timeout(90_000);
    const { code, stdout } = await sim("--seeds", "500", "--from", "1");
    const totals = summary(stdout);
    expect(stdout, "failing seeds").to.not.include("FAILED");
    expect(totals.seeds).to.equal(500);
    expect(totals.operations).to.be.greaterThan(500 * 50);
    expect(totals.faults).to.be.greaterThan(200);
    expect(totals.violations).to.equal(0);
    expect(code).to.equal(0);
  });

  it("gives the same history hash for the same seed, and another for another seed", async function () {
    this.timeout(30_000);
    const hashOf = async (seed: string) => /hash ([0-9a-f]{64})/.exec((await sim("--seed", seed)).stdout)?.[1];
    const [first, again, other] = await Promise.all([hashOf("42"), hashOf("42"), hashOf("43")]);
    expect(first).to.match(/^[0-9a-f]{64}$/);
    expect(again).to.equal(first);
    expect(other).to.not.equal(first);
  });
});
