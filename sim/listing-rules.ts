import type { Violation } from "./checker.js";
import { describe } from "./describe.js";
import type { History, ListOp, ListPrincipalOp, Op } from "./history.js";
import { type explainedLosses, overlaps, principalOf } from "./losses.js";

/**
 * checkListing applies the listing rules to one ListSessions: `unlisted` (a session created before it was
 * sent, with nothing since that could remove it or drop its index entry, is listed) and `listed-removed`
 * (nothing invalidated before it was sent and not written since is listed).
 */
export function checkListing(
  list: ListOp,
  history: History,
  bySession: Map<string, Op[]>,
  losses: ReturnType<typeof explainedLosses>,
  out: Violation[],
) {
  const listed = new Set(list.sessions ?? []);
  for (const [session, ops] of bySession) {
    const [namespace, name] = session.split("/") as [string, string];
    if (namespace !== list.namespace) continue;
    const create = ops.find((op) => op.kind === "create");
    if (create?.outcome !== "ok") continue;
    if (!listed.has(name) && create.completedMs < list.invokedMs) {
      const span = { invokedMs: create.invokedMs, completedMs: list.completedMs };
      const disturbed =
        losses.of(session, ops).some((w) => overlaps(w, span)) ||
        losses.storageFaultDuring(span) ||
        ops.some((op) => movedAway(op, list));
      if (!disturbed) {
        out.push({
          rule: "unlisted",
          message: `${describe(list)} did not list ${session}, created by ${describe(create)}`,
          ops: [create, list],
        });
      }
    }
    if (listed.has(name)) {
      for (const inv of history.ops) {
        if (inv.kind !== "invalidate" || inv.outcome !== "ok" || inv.namespace !== namespace) continue;
        if (!(inv.completedMs < list.invokedMs && create.completedMs < inv.invokedMs)) continue;
        const rewritten = ops.some(
          (op) => isWrite(op) && op.outcome !== "fail" && op.completedMs > inv.invokedMs && op.invokedMs < list.completedMs,
        );
        if (!rewritten) {
          out.push({
            rule: "listed-removed",
            message: `${describe(list)} listed ${session}, invalidated by ${describe(inv)}`,
            ops: [create, inv, list],
          });
          break;
        }
      }
    }
  }
}

/**
 * checkPrincipalListing applies the listing rules to one ListPrincipalSessions: every session surely bound
 * to the principal (and not disturbed since) is listed; none revoked or invalidated after its binding and
 * before the listing was sent is.
 */
export function checkPrincipalListing(
  list: ListPrincipalOp,
  history: History,
  bySession: Map<string, Op[]>,
  losses: ReturnType<typeof explainedLosses>,
  out: Violation[],
) {
  const listed = new Set(list.sessions ?? []);
  for (const [session, ops] of bySession) {
    const [namespace, name] = session.split("/") as [string, string];
    if (namespace !== list.namespace) continue;
    const binding = losses.bindingAt(ops, list.invokedMs);
    if (binding === undefined || binding.principal !== list.principal) continue;
    const bound = binding.op;
    const span = { invokedMs: bound.invokedMs, completedMs: list.completedMs };
    const rebound = ops.some(
      (op) =>
        op !== bound &&
        principalOf(op) !== undefined &&
        op.outcome !== "fail" &&
        op.invokedMs > bound.invokedMs &&
        op.invokedMs < list.completedMs,
    );
    if (rebound) continue;
    if (!listed.has(name)) {
      const disturbed =
        losses.of(session, ops).some((w) => overlaps(w, span)) ||
        losses.storageFaultDuring(span) ||
        ops.some((op) => (op.kind === "rotate" || op.kind === "delete") && op.outcome !== "fail" && overlaps(op, list));
      if (!disturbed) {
        out.push({
          rule: "unlisted",
          message: `${describe(list)} did not list ${session}, bound by ${describe(bound)}`,
          ops: [bound, list],
        });
      }
      continue;
    }
    for (const removal of history.ops) {
      if (removal.outcome !== "ok" || removal.namespace !== namespace) continue;
      if (removal.kind !== "invalidate" && !(removal.kind === "revoke" && removal.principal === list.principal)) continue;
      if (!(removal.completedMs < list.invokedMs && bound.completedMs < removal.invokedMs)) continue;
      const rewritten =
        removal.kind === "invalidate" &&
        ops.some(
          (op) => isWrite(op) && op.outcome !== "fail" && op.completedMs > removal.invokedMs && op.invokedMs < list.completedMs,
        );
      if (!rewritten) {
        out.push({
          rule: "listed-removed",
          message: `${describe(list)} listed ${session}, bound by ${describe(bound)} and removed by ${describe(removal)}`,
          ops: [bound, removal, list],
        });
        break;
      }
    }
  }
}

// movedAway says an op may have moved the session off the id the workload knows, for a listing by id:
// a rotation or delete running meanwhile, or a rotation whose new id never came back (unknown outcome).
function movedAway(op: Op, list: ListOp): boolean {
  if (op.kind !== "rotate" && op.kind !== "delete") return false;
  return op.outcome !== "fail" && (overlaps(op, list) || (op.outcome === "unknown" && op.invokedMs < list.completedMs));
}

function isWrite(op: Op): boolean {
  return op.kind === "append" || op.kind === "bind" || op.kind === "rotate" || op.kind === "create";
}
