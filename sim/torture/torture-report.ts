import type { Violation } from "../checker.js";
import type { Fault, History, Op, Outcome } from "../history.js";
import type { TortureResult } from "./run-torture.js";

/** TortureSummary is the figures of a torture run, what the CLI prints and the spec asserts. */
export interface TortureSummary {
  /** ops counts every recorded operation, and `byKind` each kind by outcome. */
  ops: number;
  byKind: Record<string, Record<Outcome, number>>;
  /** faults counts the history's faults by kind; races the InvalidateAll and revocation races the nemesis sent. */
  faults: Record<string, number>;
  races: { invalidate: number; revoke: number };
  /**
   * ackedAfterFault is, for each fault in order, how many appends were invoked after it ended and acknowledged
   * (ok): proof that the run went on doing real work after every fault.
   */
  ackedAfterFault: Array<{ fault: Fault; appends: number }>;
  violations: number;
  /** violationsByRule counts the violations of each rule of the checker. */
  violationsByRule: Record<string, number>;
}

/** summarize computes a run's figures from its history and the nemesis's counts. */
export function summarize(result: TortureResult): TortureSummary {
  const { history } = result;
  const byKind: TortureSummary["byKind"] = {};
  for (const op of history.ops) {
    byKind[op.kind] ??= { ok: 0, fail: 0, unknown: 0 };
    byKind[op.kind]![op.outcome]++;
  }
  const faults: Record<string, number> = {};
  for (const fault of history.faults) faults[fault.kind] = (faults[fault.kind] ?? 0) + 1;
  const okAppends = history.ops.filter((op) => op.kind === "append" && op.outcome === "ok");
  return {
    ops: history.ops.length,
    byKind,
    faults,
    races: { invalidate: result.actions.get("invalidate-race") ?? 0, revoke: result.actions.get("revoke-race") ?? 0 },
    ackedAfterFault: history.faults.map((fault) => ({
      fault,
      appends: okAppends.filter((op) => op.invokedMs > fault.endMs).length,
    })),
    violations: result.violations.length,
    violationsByRule: Object.fromEntries(
      [...new Set(result.violations.map((v) => v.rule))].map((rule) => [
        rule,
        result.violations.filter((v) => v.rule === rule).length,
      ]),
    ),
  };
}

/** formatSummary writes the figures as the lines the CLI prints. */
export function formatSummary(label: string, summary: TortureSummary, result: Pick<TortureResult, "wallMs" | "checkMs">): string {
  const kinds = Object.entries(summary.byKind)
    .map(([kind, o]) => `  ${kind.padEnd(15)} ok ${o.ok}, fail ${o.fail}, unknown ${o.unknown}`)
    .join("\n");
  const faults = Object.entries(summary.faults)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(", ");
  const leastAcked = Math.min(...summary.ackedAfterFault.map((f) => f.appends));
  return [
    `${label}: ${summary.ops} operations in ${(result.wallMs / 1000).toFixed(1)} s (checked in ${(result.checkMs / 1000).toFixed(1)} s)`,
    kinds,
    `  faults: ${faults || "none"}; races: invalidate ${summary.races.invalidate}, revoke ${summary.races.revoke}`,
    `  acknowledged appends after the last fault: ${summary.ackedAfterFault.at(-1)?.appends ?? 0} (fewest after any fault: ${Number.isFinite(leastAcked) ? leastAcked : 0})`,
    `  violations: ${summary.violations}${
      summary.violations > 0
        ? ` (${Object.entries(summary.violationsByRule)
            .map(([rule, n]) => `${rule} ${n}`)
            .join(", ")})`
        : ""
    }`,
  ].join("\n");
}

/** formatViolations writes each violation with the operations that show it (the checker orders them shortest first). */
export function formatViolations(history: History, violations: readonly Violation[], limit = 10): string {
  const lines: string[] = [];
  for (const violation of violations.slice(0, limit)) {
    lines.push(`violation ${violation.rule}: ${violation.message}`);
    for (const op of violation.ops) lines.push(`  ${formatOp(op)}`);
  }
  if (violations.length > limit) lines.push(`... and ${violations.length - limit} more`);
  const faults = history.faults.map(
    (f) =>
      `  fault ${f.kind} ${f.target} [${f.startMs.toFixed(0)}, ${f.endMs.toFixed(0)}] ms${f.sessions ? ` (${f.sessions.length} sessions)` : ""}`,
  );
  return [...lines, "faults:", ...faults].join("\n");
}

/** formatOp writes one operation on one line: index, time span, instance, what it did and how it ended. */
export function formatOp(op: Op): string {
  const what = (() => {
    switch (op.kind) {
      case "append":
        return `append ${op.session} +${op.element}${op.read ? ` read [${op.read.join(",")}]` : ""}`;
      case "read":
        return `read ${op.session}${op.list ? ` [${op.list.join(",")}]` : ""}`;
      case "create":
      case "rotate":
        return `${op.kind} ${op.session}${op.principal ? ` principal ${op.principal}` : ""}`;
      case "bind":
        return `bind ${op.session} principal ${JSON.stringify(op.principal)}`;
      case "delete":
        return `delete ${op.session}`;
      case "invalidate":
        return "invalidate";
      case "revoke":
        return `revoke principal ${op.principal}`;
      case "list":
        return `list${op.sessions ? ` [${op.sessions.join(",")}]` : ""}`;
      case "list-principal":
        return `list-principal ${op.principal}${op.sessions ? ` [${op.sessions.join(",")}]` : ""}`;
    }
  })();
  const span = `[${op.invokedMs.toFixed(0)}, ${op.completedMs.toFixed(0)}]`;
  const error = op.outcome === "ok" ? "" : ` (${op.error ?? ""})`;
  return `#${op.index} ${span} ${op.instance} ${op.namespace} ${what}: ${op.outcome}${error}`;
}
