import { describe } from "./describe.js";
import type { AppendOp, History, Op } from "./history.js";
import { checkListing, checkPrincipalListing } from "./listing-rules.js";
import { explainedLosses, type LossWindow, overlaps } from "./losses.js";

export { describe } from "./describe.js";

/**
 * Violation is one broken rule: its name (`RULES`), what happened in words, and the operations that show
 * it, fewest first among violations (the shortest explanation).
 */
export interface Violation {
  rule: string;
  message: string;
  ops: Op[];
}

/** RULES name what `checkHistory` enforces, one line each (the README and the CLI print them). */
export const RULES = {
  duplicate: "no element is read twice in one list",
  "failed-read": "no element of a failed append is ever read",
  foreign: "a session's list holds only elements appended to that session",
  lost: "an element acknowledged, or once read, is in every later read unless an explained loss happened in between",
  order: "every read of a list is a prefix of one order of its appends",
  "read-after-invalidate": "no element appended before an answered InvalidateAll is read after its answer",
  "read-after-revoke": "no element of a session revoked by an answered RevokeSessions is read after its answer",
  unlisted: "a listing holds every live session (and a principal's listing every session bound to it)",
  "listed-removed": "a listing holds nothing invalidated or revoked before it was sent",
} as const;

// Internal: one state of a session's list seen by an operation: a read, or an append's snapshot plus its element.
interface Observation {
  list: readonly number[];
  op: Op;
}

/**
 * checkHistory judges a list-append history (see history.ts and the README's "Deterministic simulation"):
 * each rule of `RULES` over every session, ordered with the violations needing fewest operations first.
 * Times are the recorder's; an operation may take effect anywhere between its invocation and completion,
 * and a possible loss (`losses.ts`) excuses what it could have removed.
 */
export function checkHistory(history: History): Violation[] {
  const violations: Violation[] = [];
  const appends = new Map<number, AppendOp>();
  const bySession = new Map<string, Op[]>();
  for (const op of history.ops) {
    if (op.kind === "append") appends.set(op.element, op);
    if ("session" in op) {
      const key = `${op.namespace}/${op.session}`;
      bySession.set(key, [...(bySession.get(key) ?? []), op]);
    }
  }
  const losses = explainedLosses(history);
  for (const [session, ops] of bySession) {
    const observations = observationsOf(ops);
    const windows = losses.of(session, ops);
    checkElements(session, observations, appends, violations);
    checkOrder(observations, windows, appends, violations);
    checkRemovals(session, ops, observations, history, losses, appends, violations);
  }
  for (const op of history.ops) {
    if (op.outcome !== "ok") continue;
    if (op.kind === "list") checkListing(op, history, bySession, losses, violations);
    if (op.kind === "list-principal") checkPrincipalListing(op, history, bySession, losses, violations);
  }
  return violations.sort((a, b) => a.ops.length - b.ops.length || a.ops[0]!.index - b.ops[0]!.index);
}

function observationsOf(ops: readonly Op[]): Observation[] {
  const seen: Observation[] = [];
  for (const op of ops) {
    if (op.outcome !== "ok") continue;
    if (op.kind === "read" && op.list) seen.push({ list: op.list, op });
    if (op.kind === "append" && op.read) seen.push({ list: [...op.read, op.element], op });
  }
  return seen;
}

// duplicate, failed-read, foreign: each observation on its own.
function checkElements(session: string, observations: Observation[], appends: Map<number, AppendOp>, out: Violation[]) {
  for (const { list, op } of observations) {
    const twice = list.find((e, i) => list.indexOf(e) !== i);
    if (twice !== undefined) {
      out.push({ rule: "duplicate", message: `${describe(op)} read ${show(list)}: element ${twice} twice`, ops: [op] });
    }
    for (const e of list) {
      const append = appends.get(e);
      if (append === undefined || `${append.namespace}/${append.session}` !== session) {
        const where = append ? `appended to ${append.namespace}/${append.session}` : "never appended";
        out.push({
          rule: "foreign",
          message: `${describe(op)} read element ${e} of ${session}, ${where}`,
          ops: append ? [append, op] : [op],
        });
      } else if (append.outcome === "fail") {
        out.push({
          rule: "failed-read",
          message: `${describe(op)} read element ${e}, whose append failed (${append.error})`,
          ops: [append, op],
        });
      }
    }
  }
}

// lost, order: any two observations with no possible loss between them are prefixes of one another, the
// earlier of the later when one completed before the other was invoked.
function checkOrder(
  observations: Observation[],
  windows: readonly LossWindow[],
  appends: Map<number, AppendOp>,
  out: Violation[],
) {
  const sorted = [...observations].sort((a, b) => a.op.invokedMs - b.op.invokedMs || a.op.index - b.op.index);
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const a = sorted[i]!;
      const b = sorted[j]!;
      const span = { invokedMs: a.op.invokedMs, completedMs: Math.max(a.op.completedMs, b.op.completedMs) };
      if (windows.some((w) => overlaps(w, span))) continue;
      const before = a.op.completedMs <= b.op.invokedMs;
      if (isPrefix(a.list, b.list) || (!before && isPrefix(b.list, a.list))) continue;
      const missing = a.list.find((e) => !b.list.includes(e));
      if (before && missing !== undefined) {
        const append = appends.get(missing);
        const how = a.op === append ? "acknowledged by" : `seen by ${describe(a.op)}, appended by`;
        const ops = append && append !== a.op ? [append, a.op, b.op] : [a.op, b.op];
        out.push({
          rule: "lost",
          message: `element ${missing}, ${how} ${append ? describe(append) : "?"}, is missing from ${describe(b.op)} which read ${show(b.list)} (before: ${show(a.list)}); no InvalidateAll, revocation, delete or node loss explains it`,
          ops: ops.sort((x, y) => x.index - y.index),
        });
      } else {
        out.push({
          rule: "order",
          message: `${describe(a.op)} saw ${show(a.list)} and ${describe(b.op)} saw ${show(b.list)}: neither is a prefix of the other`,
          ops: [a.op, b.op],
        });
      }
    }
  }
}

// read-after-invalidate, read-after-revoke: a read sent after the answer shows nothing the call removed.
function checkRemovals(
  session: string,
  ops: readonly Op[],
  observations: Observation[],
  history: History,
  losses: ReturnType<typeof explainedLosses>,
  appends: Map<number, AppendOp>,
  out: Violation[],
) {
  const [namespace] = session.split("/") as [string];
  for (const removal of history.ops) {
    if (removal.outcome !== "ok" || removal.namespace !== namespace) continue;
    if (removal.kind === "revoke" && !losses.boundThrough(ops, removal.principal, removal)) continue;
    if (removal.kind !== "invalidate" && removal.kind !== "revoke") continue;
    for (const { list, op } of observations) {
      if (op.invokedMs <= removal.completedMs) continue;
      for (const e of list) {
        const append = appends.get(e);
        if (append?.outcome === "ok" && append.completedMs < removal.invokedMs) {
          const rule = removal.kind === "invalidate" ? "read-after-invalidate" : "read-after-revoke";
          out.push({
            rule,
            message: `${describe(op)} read element ${e} (appended by ${describe(append)}) after ${describe(removal)} had answered`,
            // The session's writes that raced the removal (a rotation carrying old data over, say) explain how.
            ops: [append, removal, ...racing(ops, removal), op].sort((x, y) => x.index - y.index),
          });
          break;
        }
      }
    }
  }
}

// racing answers the writes of a session (not failed) that overlapped an operation.
function racing(ops: readonly Op[], removal: Op): Op[] {
  const writes = new Set(["append", "rotate", "bind", "create"]);
  return ops.filter((o) => writes.has(o.kind) && o.outcome !== "fail" && overlaps(o, removal));
}

function isPrefix(a: readonly number[], b: readonly number[]): boolean {
  return a.length <= b.length && a.every((e, i) => b[i] === e);
}

function show(list: readonly number[]): string {
  return `[${list.join(",")}]`;
}
