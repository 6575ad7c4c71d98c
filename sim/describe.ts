import type { Op } from "./history.js";

/** describe names an operation in a report: `#12 append(7) n0/s3 on i1 [40.5..52.0 ms] ok`. */
export function describe(op: Op): string {
  const what =
    op.kind === "append"
      ? `append(${op.element})`
      : op.kind === "revoke" || op.kind === "list-principal" || op.kind === "bind"
        ? `${op.kind}(${op.principal})`
        : op.kind;
  const target = "session" in op ? ` ${op.namespace}/${op.session}` : ` ${op.namespace}`;
  return `#${op.index} ${what}${target} on ${op.instance} [${op.invokedMs.toFixed(1)}..${op.completedMs.toFixed(1)} ms] ${op.outcome}`;
}
