import type { Fault, History, Op, Outcome } from "./history.js";

/**
 * outcomeOf says what an error means for the history: `fail` when the status guarantees nothing was done
 * (INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED, ALREADY_EXISTS), else
 * `unknown` (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, a crash, an error with no code).
 */
export function outcomeOf(err: unknown): Outcome {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" && [3, 5, 6, 8, 9, 10].includes(code) ? "fail" : "unknown";
}

/** OpFields are what a caller says of an operation; the recorder adds its index, times and outcome. */
export type OpFields = Op extends infer O
  ? O extends Op
    ? Omit<O, "index" | "invokedMs" | "completedMs" | "outcome">
    : never
  : never;

/** Recorder turns calls into the operations of a History, and maps session ids and handles to names. */
export class Recorder {
  readonly history: History = { ops: [], faults: [] };
  private readonly ids = new Map<string, string>();
  private readonly handles = new Map<string, string>();

  constructor(private readonly now: () => number) {}

  /** call records one operation around `run`: invoked now, completed with its outcome; answers run's result or undefined. */
  async call<R>(fields: OpFields, run: () => Promise<R>, onOk?: (op: Op, result: R) => void) {
    const op = {
      ...fields,
      index: this.history.ops.length,
      invokedMs: this.now(),
      completedMs: Number.NaN,
      outcome: "unknown",
    } as Op;
    this.history.ops.push(op);
    try {
      const result = await run();
      op.completedMs = this.now();
      op.outcome = "ok";
      onOk?.(op, result);
      return result;
    } catch (err) {
      op.completedMs = this.now();
      op.outcome = outcomeOf(err);
      const code = (err as { code?: unknown } | null)?.code;
      op.error = `${typeof code === "number" ? `code ${code}: ` : ""}${(err as Error)?.message ?? String(err)}`;
      return undefined;
    }
  }

  /** fault records a fault the nemesis injected. */
  fault(fault: Fault): void {
    this.history.faults.push(fault);
  }

  /** name remembers that a session id and handle of a namespace stand for the named session. */
  name(namespace: string, session: string, sessionId: string | undefined, handle: string | undefined): void {
    if (sessionId) this.ids.set(`${namespace}/${sessionId}`, session);
    if (handle) this.handles.set(`${namespace}/${handle}`, session);
  }

  /** namedIds lists every session id the workload was given, with its namespace and session name. */
  namedIds(): Array<{ namespace: string; sessionId: string; session: string }> {
    return [...this.ids].map(([key, session]) => {
      const at = key.indexOf("/");
      return { namespace: key.slice(0, at), sessionId: key.slice(at + 1), session };
    });
  }

  /** sessionsOf maps listed ids (or handles) to session names, leaving out those the workload never made. */
  sessionsOf(namespace: string, listed: readonly string[], by: "id" | "handle"): string[] {
    const map = by === "id" ? this.ids : this.handles;
    return listed.flatMap((x) => map.get(`${namespace}/${x}`) ?? []).sort();
  }

  /** finish marks operations still waiting for an answer as unknown, completed at the end of the run. */
  finish(): History {
    for (const op of this.history.ops) {
      if (Number.isNaN(op.completedMs)) {
        op.completedMs = this.now();
        op.error ??= "no answer by the end of the run";
      }
    }
    return this.history;
  }
}
