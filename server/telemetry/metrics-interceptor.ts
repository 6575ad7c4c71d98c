import { type ServerInterceptingCallInterface, type ServerInterceptor, status } from "@grpc/grpc-js";
import type { TransactionObserver } from "../grpc/transaction-stream.js";
import { type CallLabels, codeName, createCallLabeler } from "./call-labels.js";
import type { SessiondMetrics } from "./metrics.js";
import { asLayer, type CallListener, type CallStatus, PassThroughCall } from "./observed-call.js";
import { commitResult, TRANSACTION_PATH } from "./transaction-ops.js";

/**
 * createMetricsInterceptor is a grpc-js server interceptor that keeps go-grpc-prometheus's metrics for every
 * call of the server (SessionService, Health, reflection): started and handled (by `grpc_code`) calls, the
 * handling time, and the messages received and sent. A Transaction stream's messages (one per op) and its
 * commits by result (`sessiond_commits_total`) are counted by the stream itself, told through
 * `createTransactionMetrics`: the interceptor hooks no message of it, nor of a unary call.
 * - A call ends once: at the status it sends, or when it is cancelled first (counted `Canceled`, or
 *   `DeadlineExceeded` when its deadline had passed), as a stream whose client went away is.
 * - Put it first in the server's `interceptors`, so calls refused by later interceptors are counted too.
 */
export function createMetricsInterceptor(metrics: SessiondMetrics): ServerInterceptor {
  const callLabels = createCallLabeler();
  // The series of each method, made once (see fast-metrics.ts).
  const children = new Map<CallLabels, MethodMetrics>();
  const childrenOf = (labels: CallLabels): MethodMetrics => {
    let found = children.get(labels);
    if (found === undefined) {
      found = {
        labels,
        started: metrics.started.child(labels),
        handled: new Map(),
        handling: metrics.handling.child(labels),
        received: metrics.received.child(labels),
        sent: metrics.sent.child(labels),
      };
      children.set(labels, found);
    }
    return found;
  };
  return (method, call) => {
    const counted = childrenOf(callLabels(method));
    counted.started.inc();
    // A unary call has one request and, when it succeeds, one response: counted as go-grpc-prometheus's
    // unary interceptor counts them (the request at the start, the response with an OK status). A
    // Transaction stream's messages are counted by the stream itself (createTransactionMetrics). Neither
    // needs a hook on each message; other streams (none in sessiond.v1 today) are counted message by message.
    const unary = !method.requestStream && !method.responseStream;
    if (unary) counted.received.inc();
    return asLayer(new MeteredCall(call, metrics, counted, unary, unary || method.path === TRANSACTION_PATH));
  };
}

/** MeteredCall is one call's layer: it ends the call's metrics at its status, or at its cancel. */
class MeteredCall extends PassThroughCall {
  private readonly started = performance.now();
  private ended = false;

  constructor(
    next: ServerInterceptingCallInterface,
    private readonly metrics: SessiondMetrics,
    private readonly counted: MethodMetrics,
    private readonly unary: boolean,
    private readonly countsOwnMessages: boolean,
  ) {
    super(next);
  }

  override start(listener: CallListener): void {
    const counted = this.counted;
    this.next.start({
      onReceiveMetadata: (metadata) => listener.onReceiveMetadata(metadata),
      onReceiveMessage: this.countsOwnMessages
        ? (message) => listener.onReceiveMessage(message)
        : (message) => {
            counted.received.inc();
            listener.onReceiveMessage(message);
          },
      onReceiveHalfClose: () => listener.onReceiveHalfClose(),
      onCancel: () => {
        this.end(this.deadlinePassed() ? status.DEADLINE_EXCEEDED : status.CANCELLED);
        listener.onCancel();
      },
    });
  }

  // biome-ignore lint/suspicious/noExplicitAny: grpc-js's own signature: a message of the method's type.
  override sendMessage(message: any, callback: () => void): void {
    if (!this.countsOwnMessages) this.counted.sent.inc();
    this.next.sendMessage(message, callback);
  }

  override sendStatus(s: CallStatus): void {
    const code = this.codeOf(s);
    if (this.unary && code === status.OK && !this.ended) this.counted.sent.inc();
    this.end(code);
    this.next.sendStatus(s);
  }

  // end counts the call once: at the status it sends, or when it is cancelled first.
  private end(code: number): void {
    if (this.ended) return;
    this.ended = true;
    const counted = this.counted;
    let handled = counted.handled.get(code);
    if (handled === undefined) {
      handled = this.metrics.handled.child({ ...counted.labels, grpc_code: codeName(code) });
      counted.handled.set(code, handled);
    }
    handled.inc();
    counted.handling.observe((performance.now() - this.started) / 1000);
  }
}

// Internal: one method's prom-client children; `handled` by status code.
interface MethodMetrics {
  labels: CallLabels;
  started: { inc(): void };
  handled: Map<number, { inc(): void }>;
  handling: { observe(value: number): void };
  received: { inc(): void };
  sent: { inc(): void };
}

/**
 * createTransactionMetrics is the TransactionObserver that counts a Transaction stream's ops as its messages
 * (grpc_server_msg_received_total and _sent_total of the Transaction method) and its commits by result
 * (sessiond_commits_total), told by the stream itself.
 */
export function createTransactionMetrics(metrics: SessiondMetrics): TransactionObserver {
  const labels = { grpc_type: "bidi_stream", grpc_service: "sessiond.v1.SessionService", grpc_method: "Transaction" } as const;
  const received = metrics.received.child(labels);
  const sent = metrics.sent.child(labels);
  const commits = new Map(
    (["ok", "conflict", "error"] as const).map((result) => [result, metrics.commits.child({ result })] as const),
  );
  return {
    received: () => received.inc(),
    answered(op, code) {
      sent.inc();
      if (op === "commit") commits.get(commitResult(code))!.inc();
    },
  };
}
