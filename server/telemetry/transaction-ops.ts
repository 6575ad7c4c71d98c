import type { TransactionRequest, TransactionResponse } from "../../gen/sessiond/v1/session_service_pb.js";
import type { CommitResult } from "./metrics.js";

/** TRANSACTION_PATH is the path of the one streaming method whose messages are transaction ops. */
export const TRANSACTION_PATH = "/sessiond.v1.SessionService/Transaction";

/** AnsweredOp is one op of a Transaction stream with its outcome: code 0 (OK) or the op's error code. */
export interface AnsweredOp {
  /** op is the request's `op` case: begin, get, set, delete, savepoint, rollback, commit, abort (or "none"). */
  op: string;
  /** code is the response's `error.code`, or 0 when the op succeeded. */
  code: number;
}

/**
 * OpPairing pairs the responses of a Transaction stream with the ops they answer, as an interceptor sees
 * them go by: the server answers one response per request, in order, so a FIFO of the ops received is
 * enough. It keeps only op names (never data), at most as many as the stream has in flight.
 */
export class OpPairing {
  private readonly pending: string[] = [];

  /** forPath is an OpPairing for the Transaction method, undefined for any other path. */
  static forPath(path: string): OpPairing | undefined {
    return path === TRANSACTION_PATH ? new OpPairing() : undefined;
  }

  /** request records a TransactionRequest received. */
  request(message: unknown): void {
    this.pending.push((message as TransactionRequest).op?.case ?? "none");
  }

  /** response pairs a TransactionResponse about to be sent with its op. */
  response(message: unknown): AnsweredOp {
    return { op: this.pending.shift() ?? "none", code: (message as TransactionResponse).error?.code ?? 0 };
  }
}

/** commitResult classifies a commit's outcome: ok, conflict (ABORTED, 10) or error (any other code). */
export function commitResult(code: number): CommitResult {
  return code === 0 ? "ok" : code === 10 ? "conflict" : "error";
}
