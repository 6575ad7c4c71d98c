import { create } from "@bufbuild/protobuf";
import { type ServerDuplexStream, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import {
  type TransactionRequest,
  type TransactionResponse,
  TransactionResponseSchema,
} from "../../gen/sessiond/v1/session_service_pb.js";
import { failedPrecondition, invalidArgument } from "../core/errors.js";
import type { SessionCore } from "../core/session-core.js";
import { savepointIds, type Transaction } from "../core/transaction.js";
import type { OpGuard } from "./access-guard.js";
import { type ErrorStatus, toErrorStatus, toServiceError } from "./status.js";
import type { StreamRegistry } from "./stream-registry.js";

type Call = ServerDuplexStream<TransactionRequest, TransactionResponse>;

/**
 * TransactionObserver hears of a Transaction stream's messages (metrics): each request as it is received,
 * each response as it is sent, with the op it answers and its code (0, or the op's error code). It is told
 * here, where ops and their answers are known, rather than by a hook on every message of the call.
 */
export interface TransactionObserver {
  received(): void;
  answered(op: string, code: number): void;
}
type Result = TransactionResponse["result"];

// Internal: requests a client may pipeline before the stream stops reading (backpressure).
const HIGH_WATER = 64;

/**
 * TransactionStream serves one Transaction stream: requests run one at a time in arrival order, each
 * answered by one response; a failed op answers `error` and the stream goes on. At most one transaction
 * is open at a time. When the stream ends, is cancelled, passes its deadline, idles too long or the server
 * drains, an open transaction is discarded: nothing of it is written.
 */
export class TransactionStream {
  private tx: Transaction | undefined;
  private readonly queue: TransactionRequest[] = [];
  private running = false;
  private halfClosed = false;
  // grpc-js fires 'cancelled' after normal completion too: `finished` is our own record of the end.
  private finished = false;
  /** idleSinceMs is when the open transaction last had an op (the registry's idle sweep reads it). */
  idleSinceMs = 0;
  // Whether this stream counts an open transaction in the registry.
  private holdsSlot = false;
  // Savepoint ids count 1, 2, 3… per stream.
  private readonly savepointIds = savepointIds();
  // The namespace of the transaction begun last, and the first op of it the guard refused.
  private namespace = "";
  private refusedOp: string | undefined;

  constructor(
    private readonly call: Call,
    private readonly core: SessionCore,
    private readonly registry: StreamRegistry,
    private readonly logger: Logger,
    private readonly guard?: OpGuard,
    private readonly observer?: TransactionObserver,
  ) {
    registry.add(this);
    call.on("data", (req: TransactionRequest) => {
      observer?.received();
      this.queue.push(req);
      if (this.queue.length >= HIGH_WATER) call.pause();
      void this.pump();
    });
    call.on("end", () => {
      this.halfClosed = true;
      void this.pump();
    });
    call.on("cancelled", () => this.finish("cancelled"));
    call.on("error", () => this.finish("error"));
  }

  /** close ends the stream with a status (server drain, idle timeout), discarding an open transaction. */
  close(s: ErrorStatus): void {
    if (this.finished) return;
    this.finish(s.details);
    this.call.emit("error", toServiceError(s));
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    while (!this.finished && this.queue.length > 0) {
      const req = this.queue.shift()!;
      const response = await this.run(req);
      if (this.finished) break;
      this.call.write(response);
      this.observer?.answered(req.op.case ?? "none", response.error?.code ?? 0);
      if (this.queue.length === HIGH_WATER / 2) this.call.resume();
    }
    this.running = false;
    if (this.halfClosed && !this.finished && this.queue.length === 0) {
      this.finish("stream ended");
      this.call.end();
    }
  }

  private async run(req: TransactionRequest): Promise<TransactionResponse> {
    this.idleSinceMs = Date.now(); // an op under way is not idleness
    const refused = this.refuse(req.op);
    if (refused !== undefined)
      return create(TransactionResponseSchema, { error: { code: refused.code, message: refused.details } });
    try {
      const result = await this.op(req.op);
      this.idleSinceMs = Date.now();
      return create(TransactionResponseSchema, { result });
    } catch (err) {
      const s = toErrorStatus(err, this.logger, { method: "Transaction", op: req.op.case, transaction: this.tx?.id });
      this.idleSinceMs = Date.now();
      return create(TransactionResponseSchema, { error: { code: s.code, message: s.details } });
    }
  }

  // refuse asks the guard about an op; an op without a namespace yet (no open transaction) fails on its own.
  private refuse(op: TransactionRequest["op"]): ErrorStatus | undefined {
    if (this.guard === undefined || op.case === undefined) return undefined;
    const namespace = op.case === "begin" ? op.value.namespace : this.tx?.isOpen ? this.namespace : undefined;
    if (namespace === undefined) return undefined;
    const refused = this.guard(op.case, namespace);
    if (refused !== undefined && op.case !== "begin") this.refusedOp ??= `${op.case}: ${refused.details}`;
    return refused;
  }

  private async op(op: TransactionRequest["op"]): Promise<Result> {
    if (op.case === "begin") {
      if (this.tx?.isOpen) {
        throw failedPrecondition("a transaction is already open on this stream: commit or abort it first");
      }
      this.registry.reserve();
      this.holdsSlot = true;
      try {
        this.tx = await this.core.begin(op.value.namespace, op.value.sessionId, this.savepointIds);
        this.namespace = op.value.namespace;
        this.refusedOp = undefined;
      } catch (err) {
        this.releaseSlot();
        throw err;
      }
      return { case: "begin", value: { $typeName: "sessiond.v1.TransactionResponse.Begin", transactionId: this.tx.id } };
    }
    if (op.case === undefined)
      throw invalidArgument("request has no op: set one of begin, get, set, delete, savepoint, rollback, commit, abort");
    const tx = this.tx;
    if (tx === undefined || !tx.isOpen) {
      throw failedPrecondition(`${op.case} without an open transaction: send begin first`);
    }
    try {
      return await this.txOp(tx, op);
    } finally {
      if (!tx.isOpen) this.releaseSlot();
    }
  }

  private async txOp(tx: Transaction, op: Exclude<TransactionRequest["op"], { case: "begin" | undefined }>): Promise<Result> {
    switch (op.case) {
      case "get":
        return {
          case: "get",
          value: { $typeName: "sessiond.v1.TransactionResponse.Get", data: tx.get(op.value.package, op.value.keys) },
        };
      case "set":
        tx.set(op.value.package, op.value.data);
        return RESULTS.set;
      case "delete":
        tx.delete(op.value.package, op.value.keys);
        return RESULTS.delete;
      case "savepoint":
        return {
          case: "savepoint",
          value: { $typeName: "sessiond.v1.TransactionResponse.Savepoint", savepointId: tx.savepoint() },
        };
      case "rollback":
        tx.rollback(op.value.savepointId);
        return RESULTS.rollback;
      case "commit":
        if (op.value.onlyIfNoErrors && this.refusedOp !== undefined) {
          // A refused op counts as a failed op of the transaction: the commit writes nothing.
          tx.abort();
          throw failedPrecondition(
            `commit refused: an op of this transaction failed (${this.refusedOp}); nothing was written and the transaction is discarded`,
          );
        }
        await tx.commit({ onlyIfNoErrors: op.value.onlyIfNoErrors });
        return RESULTS.commit;
      case "abort":
        tx.abort();
        return RESULTS.abort;
    }
  }

  /** hasOpenTransaction is true while a transaction is open on this stream. */
  get hasOpenTransaction(): boolean {
    return this.tx?.isOpen === true;
  }

  /** closeIdle ends the stream because its open transaction had no op for idleMs (the registry's sweep). */
  closeIdle(idleMs: number): void {
    this.logger.info({ transaction: this.tx?.id, idleMs }, "idle transaction discarded");
    this.close({
      code: status.DEADLINE_EXCEEDED,
      details: `transaction idle for over ${idleMs} ms: discarded (nothing written); raise --idle-timeout or send ops sooner`,
    });
  }

  private releaseSlot(): void {
    if (!this.holdsSlot) return;
    this.holdsSlot = false;
    this.registry.release();
  }

  private finish(reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.registry.delete(this);
    this.releaseSlot();
    if (this.tx?.isOpen) {
      this.tx.discard();
      this.logger.debug({ transaction: this.tx.id, reason }, "open transaction discarded");
    }
  }
}

// Internal: the empty results, built once.
const RESULTS = {
  set: { case: "set", value: { $typeName: "sessiond.v1.TransactionResponse.Set" } },
  delete: { case: "delete", value: { $typeName: "sessiond.v1.TransactionResponse.Delete" } },
  rollback: { case: "rollback", value: { $typeName: "sessiond.v1.TransactionResponse.Rollback" } },
  commit: { case: "commit", value: { $typeName: "sessiond.v1.TransactionResponse.Commit" } },
  abort: { case: "abort", value: { $typeName: "sessiond.v1.TransactionResponse.Abort" } },
} as const satisfies Record<string, Result>;
