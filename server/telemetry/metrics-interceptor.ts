import { ServerInterceptingCall, type ServerInterceptor, status } from "@grpc/grpc-js";
import { codeName, createCallLabeler } from "./call-labels.js";
import type { SessiondMetrics } from "./metrics.js";
import { commitResult, OpPairing } from "./transaction-ops.js";

/**
 * createMetricsInterceptor is a grpc-js server interceptor that keeps go-grpc-prometheus's metrics for every
 * call of the server (SessionService, Health, reflection): started and handled (by `grpc_code`) calls, the
 * handling time, and the messages received and sent (on a Transaction stream, one per op). On Transaction
 * streams it also pairs each response with its op and counts commits by result (`sessiond_commits_total`).
 * - A call ends once: at the status it sends, or when it is cancelled first (counted `Canceled`, or
 *   `DeadlineExceeded` when its deadline had passed), as a stream whose client went away is.
 * - Put it first in the server's `interceptors`, so calls refused by later interceptors are counted too.
 */
export function createMetricsInterceptor(metrics: SessiondMetrics): ServerInterceptor {
  const callLabels = createCallLabeler();
  return (method, call) => {
    const labels = callLabels(method);
    const ops = OpPairing.forPath(method.path);
    const started = performance.now();
    let ended = false;
    metrics.started.inc(labels);

    const end = (code: number): void => {
      if (ended) return;
      ended = true;
      metrics.handled.inc({ ...labels, grpc_code: codeName(code) });
      metrics.handling.observe(labels, (performance.now() - started) / 1000);
    };

    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMessage(message, nextMessage) {
            metrics.received.inc(labels);
            ops?.request(message);
            nextMessage(message);
          },
          onCancel() {
            const deadline = call.getDeadline();
            const passed = deadline !== Infinity && Number(deadline) <= Date.now();
            end(passed ? status.DEADLINE_EXCEEDED : status.CANCELLED);
          },
        });
      },
      sendMessage(message, next) {
        metrics.sent.inc(labels);
        if (ops !== undefined) {
          const answered = ops.response(message);
          if (answered.op === "commit") metrics.commits.inc({ result: commitResult(answered.code) });
        }
        next(message);
      },
      sendStatus(s, next) {
        end(s.code ?? status.UNKNOWN);
        next(s);
      },
    });
  };
}
