import type { Fault, History, Op } from "./history.js";

/** Interval is a span of the recorder's clock, in ms; an operation is one (invoked to completed). */
export interface Interval {
  invokedMs: number;
  completedMs: number;
}

/** LossWindow is a span during which a session may have lost its data for an explained reason (`cause`). */
export interface LossWindow extends Interval {
  cause: Op | Fault;
}

/** overlaps says whether two spans share a moment (ends included). */
export function overlaps(a: Interval, b: Interval): boolean {
  return a.invokedMs <= b.completedMs && a.completedMs >= b.invokedMs;
}

/** Binding is a session's principal as set by one operation ("" unbound). */
export interface Binding {
  principal: string;
  op: Op;
}

// Faults after which storage may have dropped a session's listing entries (a failed index append is logged, not thrown).
const STORAGE_FAULTS = new Set<Fault["kind"]>(["node-restart-empty", "node-freeze", "reply-lost"]);

/**
 * explainedLosses finds, for each session of a history, when it may have lost its list for a reason the
 * semantics allow (the section 1):
 * - an InvalidateAll of its namespace: while it runs when it answered; from its invocation until a later
 *   InvalidateAll answered when its outcome is unknown (a raise that reached some copies may win later);
 * - a RevokeSessions of a principal the session was (possibly) bound to: the same;
 * - a Delete of the session: while it runs, or from then on when unknown;
 * - a node restarted empty that held the session (every session when the fault does not say).
 */
export function explainedLosses(history: History) {
  const firstOkAfter = (op: Op, same: (o: Op) => boolean) =>
    history.ops.find((o) => o.outcome === "ok" && same(o) && o.invokedMs > op.completedMs)?.completedMs ?? Infinity;
  const windowOf = (op: Op, same: (o: Op) => boolean): Interval | undefined =>
    op.outcome === "fail"
      ? undefined
      : { invokedMs: op.invokedMs, completedMs: op.outcome === "ok" ? op.completedMs : firstOkAfter(op, same) };

  /** of answers the loss windows of one session ("ns/name"), given its operations. */
  function of(session: string, ops: readonly Op[], except?: Op): LossWindow[] {
    const [namespace] = session.split("/") as [string];
    const windows: LossWindow[] = [];
    for (const op of history.ops) {
      if (op === except || op.namespace !== namespace) continue;
      let span: Interval | undefined;
      if (op.kind === "invalidate") span = windowOf(op, (o) => o.kind === "invalidate" && o.namespace === namespace);
      if (op.kind === "revoke") {
        const principal = op.principal;
        span = windowOf(op, (o) => o.kind === "revoke" && o.namespace === namespace && o.principal === principal);
        const end = span?.completedMs ?? -Infinity;
        if (!ops.some((b) => b.outcome !== "fail" && principalOf(b) === principal && b.invokedMs < end)) span = undefined;
      }
      if (op.kind === "delete" && `${op.namespace}/${op.session}` === session) span = windowOf(op, () => false);
      if (span) windows.push({ ...span, cause: op });
    }
    for (const fault of history.faults) {
      if (fault.kind === "node-restart-empty" && (fault.sessions === undefined || fault.sessions.includes(session))) {
        windows.push({ invokedMs: fault.startMs, completedMs: fault.endMs, cause: fault });
      }
    }
    return windows;
  }

  /** bindingAt answers a session's binding by the last binding op that answered ok before `t`; undefined when unsure. */
  function bindingAt(ops: readonly Op[], t: number): Binding | undefined {
    const before = ops.filter((op) => principalOf(op) !== undefined && op.outcome !== "fail" && op.completedMs < t);
    const last = before.filter((op) => op.outcome === "ok").sort((a, b) => b.invokedMs - a.invokedMs)[0];
    if (last === undefined) return undefined;
    // Surely the last only when every other binding op had answered before it was sent (else either may win).
    if (before.some((op) => op !== last && op.completedMs > last.invokedMs)) return undefined;
    if (ops.some((op) => principalOf(op) !== undefined && op.outcome === "unknown" && op.invokedMs < t && op.completedMs >= t))
      return undefined;
    return { principal: principalOf(last)!, op: last };
  }

  /**
   * boundThrough says whether a session was surely bound to `principal` when `removal` (a revocation) was
   * sent, and stayed so while it ran: bound by an op that answered before, no binding op or explained
   * loss since (which would have started an unbound session).
   */
  function boundThrough(ops: readonly Op[], principal: string, removal: Op): boolean {
    const binding = bindingAt(ops, removal.invokedMs);
    if (binding === undefined || binding.principal !== principal) return false;
    const since = { invokedMs: binding.op.invokedMs, completedMs: removal.completedMs };
    const session = "session" in binding.op ? `${binding.op.namespace}/${binding.op.session}` : "";
    const moved = ops.some(
      (op) =>
        op !== binding.op &&
        principalOf(op) !== undefined &&
        op.outcome !== "fail" &&
        op.invokedMs > since.invokedMs &&
        op.invokedMs < since.completedMs,
    );
    return !moved && !of(session, ops, removal).some((w) => overlaps(w, since));
  }

  /** storageFaultDuring says whether a node was frozen, restarted or lost a reply during the span. */
  function storageFaultDuring(span: Interval): boolean {
    return history.faults.some(
      (f) => STORAGE_FAULTS.has(f.kind) && overlaps({ invokedMs: f.startMs, completedMs: f.endMs }, span),
    );
  }

  return { of, bindingAt, boundThrough, storageFaultDuring };
}

/** principalOf answers the principal an operation binds its session to ("" unbinds), or undefined when it does not bind. */
export function principalOf(op: Op): string | undefined {
  if (op.kind === "bind") return op.principal;
  if (op.kind === "create") return op.principal ?? "";
  if (op.kind === "rotate") return op.principal;
  return undefined;
}
