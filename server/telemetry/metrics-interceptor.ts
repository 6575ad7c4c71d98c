import { ServerInterceptingCall, type ServerInterceptor, status } from "@grpc/grpc-js";
import type { TransactionObserver } from "../grpc/transaction-stream.js";
import { type CallLabels, codeName, createCallLabeler } from "./call-labels.js";
import type { SessiondMetrics } from "./metrics.js";
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
    const labels = callLabels(method);
    const counted = childrenOf(labels);
    const started = performance.now();
    let ended = false;
    counted.started.inc();

    const end = (code: number): void => {
      if (ended) return;
      ended = true;
      let handled = counted.handled.get(code);
      if (handled === undefined) {
        handled = metrics.handled.child({ ...labels, grpc_code: codeName(code) });
        counted.handled.set(code, handled);
      }
      handled.inc();
      counted.handling.observe((performance.now() - started) / 1000);
    };

    const onCancel = (): void => {
      const deadline = call.getDeadline();
      const passed = deadline !== Infinity && Number(deadline) <= Date.now();
      end(passed ? status.DEADLINE_EXCEEDED : status.CANCELLED);
    };

    // A unary call has one request and, when it succeeds, one response: counted as go-grpc-prometheus's
    // unary interceptor counts them (the request at the start, the response with an OK status). A
    // Transaction stream's messages are counted by the stream itself (createTransactionMetrics). Neither
    // needs a hook on each message.
    const unary = !method.requestStream && !method.responseStream;
    if (unary || method.path === TRANSACTION_PATH) {
      if (unary) counted.received.inc();
      return new ServerInterceptingCall(call, {
        start(next) {
          next({ onCancel });
        },
        sendStatus(s, next) {
          const code = s.code ?? status.UNKNOWN;
          if (unary && code === status.OK && !ended) counted.sent.inc();
          end(code);
          next(s);
        },
      });
    }

    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMessage(message, nextMessage) {
            counted.received.inc();
            nextMessage(message);
          },
          onCancel,
        });
      },
      sendMessage(message, next) {
        counted.sent.inc();
        next(message);
      },
      sendStatus(s, next) {
        end(s.code ?? status.UNKNOWN);
        next(s);
      },
    });
  };
}

// Internal: one method's prom-client children; `handled` by status code.
interface MethodMetrics {
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
