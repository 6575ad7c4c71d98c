import { type Metadata, ServerInterceptingCall, type ServerInterceptor, status } from "@grpc/grpc-js";
import {
  type Attributes,
  type Context,
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { type CallLabels, createCallLabeler } from "./call-labels.js";
import { OpPairing } from "./transaction-ops.js";

// Internal: the codes OpenTelemetry's RPC conventions count as a server span's error (the others are the
// caller's mistakes or normal outcomes: INVALID_ARGUMENT, NOT_FOUND, ABORTED...).
const SERVER_ERRORS = new Set<number>([
  status.UNKNOWN,
  status.DEADLINE_EXCEEDED,
  status.UNIMPLEMENTED,
  status.INTERNAL,
  status.UNAVAILABLE,
  status.DATA_LOSS,
]);

// Internal: the service whose calls get spans.
const TRACED_SERVICE = "sessiond.v1.SessionService";

/**
 * createTracingInterceptor is the grpc-js server interceptor that gives each call one SERVER span named
 * after its path without the slash (`sessiond.v1.SessionService/Get`), a child of the caller's context
 * as `extract` reads it from the request metadata (W3C `traceparent`). The handler runs inside the span's
 * context, so the storage commands it sends are child spans. A Transaction stream is one span with one
 * event per op (named after the op, with `rpc.grpc.status_code` when the op failed) rather than a span per
 * op, so a long stream stays cheap. Calls of other services (Health, reflection) pass untraced. Internal to server/telemetry: loaded with tracing.ts only.
 */
export function createTracingInterceptor(tracer: Tracer, extract: (metadata: Metadata) => Context): ServerInterceptor {
  const callLabels = createCallLabeler();
  // The name and attributes of each method's spans, made once (the SDK copies attributes into each span).
  const spanStarts = new Map<string, { name: string; attributes: Attributes }>();
  const spanStartOf = (labels: CallLabels) => {
    let found = spanStarts.get(labels.grpc_method);
    if (found === undefined) {
      found = {
        name: `${labels.grpc_service}/${labels.grpc_method}`,
        attributes: { "rpc.system": "grpc", "rpc.service": labels.grpc_service, "rpc.method": labels.grpc_method },
      };
      spanStarts.set(labels.grpc_method, found);
    }
    return found;
  };
  return (method, call) => {
    const labels = callLabels(method);
    // Health probes and reflection come every few seconds from orchestrators: a trace each would be noise.
    if (labels.grpc_service !== TRACED_SERVICE) return new ServerInterceptingCall(call);
    const ops = OpPairing.forPath(method.path);
    // A unary call's handler runs when the request is complete (half close): only that needs the span's
    // context. A stream's handler runs at its metadata and hears of each message: those need it too.
    const unary = !method.requestStream && !method.responseStream;
    let span: Span | undefined;
    let active: Context = ROOT_CONTEXT;
    let opCount = 0;

    const end = (code: number, details?: string): void => {
      if (span === undefined) return;
      span.setAttribute("rpc.grpc.status_code", code);
      if (ops !== undefined) span.setAttribute("sessiond.transaction.ops", opCount);
      if (SERVER_ERRORS.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, ...(details ? { message: details } : {}) });
      span.end();
      span = undefined;
    };

    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMetadata) {
            const parent = extract(metadata);
            const { name, attributes } = spanStartOf(labels);
            span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
            active = trace.setSpan(parent, span);
            if (unary) nextMetadata(metadata);
            else context.with(active, nextMetadata, undefined, metadata);
          },
          ...(unary
            ? {}
            : {
                onReceiveMessage(message: unknown, nextMessage: (message: unknown) => void) {
                  ops?.request(message);
                  context.with(active, nextMessage, undefined, message);
                },
              }),
          onReceiveHalfClose(nextHalfClose) {
            context.with(active, nextHalfClose);
          },
          onCancel() {
            const deadline = call.getDeadline();
            const passed = deadline !== Infinity && Number(deadline) <= Date.now();
            end(passed ? status.DEADLINE_EXCEEDED : status.CANCELLED);
          },
        });
      },
      ...(ops === undefined
        ? {}
        : {
            sendMessage(message: unknown, next: (message: unknown) => void) {
              const answered = ops.response(message);
              opCount++;
              span?.addEvent(answered.op, answered.code === 0 ? undefined : { "rpc.grpc.status_code": answered.code });
              next(message);
            },
          }),
      sendStatus(s, next) {
        end(s.code ?? status.UNKNOWN, s.details);
        next(s);
      },
    });
  };
}
