/**
 * History is what a run of the list-append workload records, in the simulation (`sim/`) and on real
 * processes (`npm run torture`), so that one checker (`sim/checker.ts`) judges both (Jepsen's Elle idea for
 * lists: every read of a session's list must be a prefix of one order of its appends).
 *
 * Times are the recorder's clock in ms (virtual in the simulation, `performance.now()` on real processes):
 * an operation is *invoked* before its request is sent and *completed* when its answer (or failure) is seen.
 * Two operations overlap when neither completed before the other was invoked.
 *
 * Sessions are named by the workload (`session`: "s7"), not by their ids: a RotateSession moves the same
 * named session to a new id, and the recorder keeps the mapping.
 */

/**
 * Outcome of an operation:
 * - `ok`: answered with success: it took effect (for a write) or its result is what storage held;
 * - `fail`: answered with an error that guarantees it did nothing (INVALID_ARGUMENT, ABORTED, NOT_FOUND,
 *   FAILED_PRECONDITION, a transaction refused before commit);
 * - `unknown`: no answer or an answer that does not say (UNAVAILABLE, DEADLINE_EXCEEDED, a crashed instance,
 *   a cut connection): it may or may not have taken effect.
 */
export type Outcome = "ok" | "fail" | "unknown";

/** OpBase is what every recorded operation has. */
interface OpBase {
  /** index is the operation's position in the history (order of invocation). */
  index: number;
  /** instance names the sessiond instance (or process) the operation went through: "i0", "i1"... */
  instance: string;
  namespace: string;
  invokedMs: number;
  completedMs: number;
  outcome: Outcome;
  /** error is the failure's gRPC code name and message, when the outcome is not ok (for reports). */
  error?: string;
}

/** SessionOp is an operation on one named session. */
interface SessionOp extends OpBase {
  session: string;
}

/** Append: a Transaction that read the session's list and committed it with `element` appended. */
export interface AppendOp extends SessionOp {
  kind: "append";
  /** element is unique in the whole history. */
  element: number;
  /** read is the list the transaction read before appending (its own snapshot), when it got that far. */
  read?: readonly number[];
}

/** Read: a unary Get of the session's list (absent list: []). */
export interface ReadOp extends SessionOp {
  kind: "read";
  /** list is what was read (ok outcomes only). */
  list?: readonly number[];
}

/** Create: CreateSession, optionally bound to `principal`. */
export interface CreateOp extends SessionOp {
  kind: "create";
  principal?: string;
}

/** Rotate: RotateSession of the named session (it keeps its name; its id changes when ok). */
export interface RotateOp extends SessionOp {
  kind: "rotate";
  principal?: string;
}

/** Bind: SetPrincipal of the named session ("" unbinds). */
export interface BindOp extends SessionOp {
  kind: "bind";
  principal: string;
}

/** Delete: Delete of the whole session. */
export interface DeleteOp extends SessionOp {
  kind: "delete";
}

/** Invalidate: InvalidateAll of the namespace. */
export interface InvalidateOp extends OpBase {
  kind: "invalidate";
}

/** Revoke: RevokeSessions of every session of `principal`. */
export interface RevokeOp extends OpBase {
  kind: "revoke";
  principal: string;
}

/** List: ListSessions (all pages) of the namespace: the named sessions it listed. */
export interface ListOp extends OpBase {
  kind: "list";
  sessions?: readonly string[];
}

/** ListPrincipal: ListPrincipalSessions (all pages): the named sessions it listed (by handle). */
export interface ListPrincipalOp extends OpBase {
  kind: "list-principal";
  principal: string;
  sessions?: readonly string[];
}

/** Op is one recorded operation. */
export type Op = AppendOp | ReadOp | CreateOp | RotateOp | BindOp | DeleteOp | InvalidateOp | RevokeOp | ListOp | ListPrincipalOp;

/**
 * Fault is a fault the nemesis (or the simulator) injected, over [startMs, endMs]. A node restarted empty
 * explains the loss of what it held: `keys` says which sessions lived on it when known (the simulator
 * knows; on real processes the pool layout tells), else every session of the run may have lost data.
 */
export interface Fault {
  kind: "node-restart-empty" | "node-freeze" | "reply-lost" | "instance-crash" | "clock-skew" | "instance-restart";
  target: string;
  startMs: number;
  endMs: number;
  /** sessions names the sessions ("ns/s7") whose record lived on a restarted node, when known. */
  sessions?: readonly string[];
  /** detail says more for a report (a clock's offset, how long a node stayed frozen). */
  detail?: string;
}

/** History is a whole run: its operations in order of invocation and the faults injected. */
export interface History {
  ops: Op[];
  faults: Fault[];
}
