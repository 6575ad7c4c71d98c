import type { JsonObject } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import type { TransactionRequest, TransactionResponse } from "../gen/sessiond/v1/session_service_pb.js";
import { ClientError, ConflictError } from "./client-error.js";
import { type Op, type OpStream, TRANSACTION_PATH } from "./op-stream.js";

/**
 * TransactionOps are what a transaction function gets: reads see the transaction's own writes; nothing
 * is stored before commit. Ops are pipelined: each is written to the stream at once, so a `set` need not be
 * awaited. A failed `set`, `delete` or `rollback` (or a failed begin) dooms the transaction: commit then
 * aborts it and throws that error, even if nobody awaited the op.
 */
export interface TransactionOps {
  /** get reads a package: all keys, or only the listed keys that exist; `{}` when absent. */
  get(pkg: string, keys?: readonly string[]): Promise<JsonObject>;
  /** set merges `data` into the package. Resolves once the server took it; need not be awaited. */
  set(pkg: string, data: JsonObject): Promise<void>;
  /** delete removes the listed keys, the whole package (no keys) or the whole session (no package). */
  delete(pkg?: string, keys?: readonly string[]): Promise<void>;
  /** savepoint records the state to roll back to, as a ZODB savepoint; it waits for the server's answer. */
  savepoint(): Promise<Savepoint>;
}

/** Savepoint is a state of a transaction to return to. */
export interface Savepoint {
  /** id is the server's savepoint id. */
  readonly id: number;
  /**
   * rollback returns the transaction to this savepoint: changed values come back, added keys and packages
   * go. It can be called again and again; savepoints taken after it become invalid (NOT_FOUND).
   */
  rollback(): Promise<void>;
}

/**
 * Transaction is a transaction from `client.begin`, whose caller commits or aborts it. Begin is sent at
 * once but not awaited: its errors surface at the first awaited op, `transactionId()` or `commit()`.
 * Caution: a transaction neither committed nor aborted keeps its stream (and a server slot) until the
 * deadline passes or the server's idle timeout discards it.
 */
export interface Transaction extends TransactionOps {
  readonly namespace: string;
  readonly sessionId: string;
  /** transactionId resolves with the server's id for this transaction (for logs) once begin is answered. */
  transactionId(): Promise<string>;
  /**
   * commit writes the session in one compare-and-swap. It is sent at once, behind any unanswered ops, with
   * only_if_no_errors: if one of them failed, the server writes nothing and commit throws that op's error. Throws
   * ConflictError when another writer committed first (nothing written), or the error that doomed the
   * transaction. On RESOURCE_EXHAUSTED (session too big) the transaction stays open: roll back or abort.
   */
  commit(): Promise<void>;
  /** abort discards the transaction. It never throws: if the server cannot be told, the stream's end discards it anyway. */
  abort(): Promise<void>;
}

type Result = Exclude<TransactionResponse["result"], { case: undefined }>;
type Kind = NonNullable<TransactionRequest["op"]["case"]>;
type ResultValues = { [R in Result as R["case"]]: R["value"] };
type ResultOf<C extends Kind> = ResultValues[C];

const noop = () => undefined;

// handled marks a promise as handled, so that an op nobody awaits cannot crash the process with an
// unhandled rejection; awaiting it still throws, and a failed write still reaches commit.
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(noop);
  return promise;
}

/**
 * createTransaction (internal) begins a transaction on `stream` (sending begin at once) and calls `onClose`
 * once it is committed or aborted. Several transactions may use one stream one after the other.
 */
export function createTransaction(stream: OpStream, namespace: string, sessionId: string, onClose: () => void): Transaction {
  let state: "open" | "closing" | "closed" = "open";
  let beginError: ClientError | undefined;
  let doomed: ClientError | undefined;
  let last: Promise<void> = Promise.resolve();

  function send<C extends Kind>(kind: C, value: object, dooms: boolean): Promise<ResultOf<C>> {
    const answered = stream.send({ case: kind, value } as Op).then<ResultOf<C>, never>(
      (response) => {
        if (response.error !== undefined) {
          // After a failed begin every op fails "without an open transaction": the begin error is the cause.
          const err = beginError ?? new ClientError(TRANSACTION_PATH, response.error.code, `${kind}: ${response.error.message}`);
          if (kind === "begin") beginError = err;
          if (dooms) doomed ??= err;
          throw err;
        }
        if (response.result.case !== kind) {
          throw new ClientError(
            TRANSACTION_PATH,
            status.INTERNAL,
            `${kind} was answered with ${response.result.case ?? "nothing"}`,
          );
        }
        return response.result.value as ResultOf<C>;
      },
      (err: ClientError) => {
        doomed ??= err;
        throw err;
      },
    );
    last = answered.then(noop, noop);
    return handled(answered);
  }

  // op sends a caller's op, refused once the transaction is committing, committed or aborted.
  function op<C extends Kind>(kind: C, value: object, dooms: boolean): Promise<ResultOf<C>> {
    return state === "open" ? send(kind, value, dooms) : handled(Promise.reject(closedError(kind)));
  }

  function closedError(kind: Kind): ClientError {
    const details = `${kind}: this transaction is committing, committed or aborted: start a new one`;
    return new ClientError(TRANSACTION_PATH, status.FAILED_PRECONDITION, details);
  }

  // Resolves once every op sent so far is answered, including ops sent while waiting.
  async function settled(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = last;
      await seen;
    } while (seen !== last);
  }

  function close(): void {
    state = "closed";
    onClose();
  }

  const begun = send("begin", { namespace, sessionId }, true);

  return {
    namespace,
    sessionId,
    transactionId: () => begun.then((r) => r.transactionId),
    get: (pkg, keys = []) => handled(op("get", { package: pkg, keys }, false).then((r) => r.data ?? {})),
    set: (pkg, data) => handled(op("set", { package: pkg, data }, true).then(noop)),
    delete: (pkg = "", keys = []) => handled(op("delete", { package: pkg, keys }, true).then(noop)),
    savepoint: () =>
      handled(
        op("savepoint", {}, false).then(({ savepointId }) => ({
          id: savepointId,
          rollback: () => handled(op("rollback", { savepointId }, true).then(noop)),
        })),
      ),
    async commit() {
      if (state !== "open") throw closedError("commit");
      state = "closing";
      if (doomed !== undefined) {
        await send("abort", {}, false).catch(noop);
        close();
        throw doomed;
      }
      // Pipelined: the commit goes out behind ops still unanswered. only_if_no_errors makes the server
      // refuse it if any of them failed, so a failed write is never committed around.
      const committing = send("commit", { onlyIfNoErrors: true }, false);
      await settled();
      if (doomed !== undefined) {
        close();
        throw doomed;
      }
      try {
        await committing;
      } catch (err) {
        if (err instanceof ClientError && err.code === status.RESOURCE_EXHAUSTED && doomed === undefined) {
          state = "open"; // the server keeps the transaction open: the caller may roll back or abort
          throw err;
        }
        close();
        if (err instanceof ClientError && err.code === status.ABORTED) throw new ConflictError(err.method, err.details, 1);
        throw err;
      }
      close();
    },
    async abort() {
      if (state !== "open") return;
      state = "closing";
      await send("abort", {}, false).catch(noop);
      close();
    },
  };
}
