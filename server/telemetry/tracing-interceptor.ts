import {
  type Metadata,
  type ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  status,
} from "@grpc/grpc-js";
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
import { asLayer, type CallListener, type CallStatus, PassThroughCall } from "./observed-call.js";
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
    // They pass untouched: the layer below is the call (see asLayer).
    if (labels.grpc_service !== TRACED_SERVICE) return call as ServerInterceptingCall;
    return asLayer(new TracedCall(call, tracer, extract, spanStartOf(labels), method));
  };
}

/**
 * TracedCall is one call's layer: it starts the call's span at its metadata, runs the handler's events in
 * the span's context, and ends the span at its status or its cancel.
 */
class TracedCall extends PassThroughCall {
  private span: Span | undefined;
  private active: Context = ROOT_CONTEXT;
  private opCount = 0;
  private readonly ops: OpPairing | undefined;
  // A unary call's handler runs when the request is complete (half close): only that needs the span's
  // context. A stream's handler runs at its metadata and hears of each message: those need it too.
  private readonly unary: boolean;

  constructor(
    next: ServerInterceptingCallInterface,
    private readonly tracer: Tracer,
    private readonly extract: (metadata: Metadata) => Context,
    private readonly spanStart: { name: string; attributes: Attributes },
    method: { path: string; requestStream: boolean; responseStream: boolean },
  ) {
    super(next);
    this.ops = OpPairing.forPath(method.path);
    this.unary = !method.requestStream && !method.responseStream;
  }

  override start(listener: CallListener): void {
    const unary = this.unary;
    this.next.start({
      onReceiveMetadata: (metadata) => {
        const parent = this.extract(metadata);
        const span = this.tracer.startSpan(
          this.spanStart.name,
          { kind: SpanKind.SERVER, attributes: this.spanStart.attributes },
          parent,
        );
        this.span = span;
        this.active = trace.setSpan(parent, span);
        if (unary) listener.onReceiveMetadata(metadata);
        else context.with(this.active, listener.onReceiveMetadata, listener, metadata);
      },
      onReceiveMessage: unary
        ? (message) => listener.onReceiveMessage(message)
        : (message) => {
            this.ops?.request(message);
            context.with(this.active, listener.onReceiveMessage, listener, message);
          },
      onReceiveHalfClose: () => context.with(this.active, listener.onReceiveHalfClose, listener),
      onCancel: () => {
        this.end(this.deadlinePassed() ? status.DEADLINE_EXCEEDED : status.CANCELLED);
        listener.onCancel();
      },
    });
  }

  // biome-ignore lint/suspicious/noExplicitAny: grpc-js's own signature: a message of the method's type.
  override sendMessage(message: any, callback: () => void): void {
    if (this.ops !== undefined) {
      const answered = this.ops.response(message);
      this.opCount++;
      this.span?.addEvent(answered.op, answered.code === 0 ? undefined : { "rpc.grpc.status_code": answered.code });
    }
    this.next.sendMessage(message, callback);
  }

  override sendStatus(s: CallStatus): void {
    this.end(this.codeOf(s), s.details);
    this.next.sendStatus(s);
  }

  // end ends the span once: at the status the call sends, or when it is cancelled first.
  private end(code: number, details?: string): void {
    const span = this.span;
    if (span === undefined) return;
    this.span = undefined;
    span.setAttribute("rpc.grpc.status_code", code);
    if (this.ops !== undefined) span.setAttribute("sessiond.transaction.ops", this.opCount);
    if (SERVER_ERRORS.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, ...(details ? { message: details } : {}) });
    span.end();
  }
}
