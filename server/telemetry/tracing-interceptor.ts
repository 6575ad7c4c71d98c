import {
  type Metadata,
  type ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  status,
} from "@grpc/grpc-js";
import { type Attributes, type Context, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import { type CallLabels, createCallLabeler } from "./call-labels.js";
import { asLayer, type CallListener, type CallStatus, PassThroughCall } from "./observed-call.js";
import type { RecordingContextManager } from "./recording-context.js";
import type { Sampling } from "./trace-sampler.js";
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

/** CallTracer is what each traced call needs of tracing.ts, made once for all calls. */
export interface CallTracer {
  tracer: Tracer;
  /** extract reads the caller's context from the request metadata (W3C `traceparent`, baggage). */
  extract(metadata: Metadata): Context;
  /** sampling decides, before any span exists, whether a call is recorded. */
  sampling: Sampling;
  /** contexts runs recorded calls' handlers in their span's context, and only those. */
  contexts: RecordingContextManager;
}

/**
 * createTracingInterceptor is the grpc-js server interceptor that gives each recorded call one SERVER span
 * named after its path without the slash (`sessiond.v1.SessionService/Get`), a child of the caller's context
 * as `extract` reads it from the request metadata (W3C `traceparent`). The handler runs inside the span's
 * context, so the storage commands it sends are child spans. A Transaction stream is one span with one
 * event per op (named after the op, with `rpc.grpc.status_code` when the op failed) rather than a span per
 * op, so a long stream stays cheap. Calls of other services (Health, reflection) pass untraced.
 *
 * A call the sampler does not record (its caller's `traceparent` says not sampled, or the sampler's ratio
 * leaves it out) costs reading its metadata and one decision: no span, no attributes, no context entered,
 * so no store command of it makes a span and no async hook runs for it (see recording-context.ts).
 * Internal to server/telemetry: loaded with tracing.ts only.
 */
export function createTracingInterceptor(tracing: CallTracer): ServerInterceptor {
  const callLabels = createCallLabeler();
  // The name and attributes of each method's spans, made once (the SDK copies attributes into each span).
  const spanStarts = new Map<string, SpanStart>();
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
    return asLayer(new TracedCall(call, tracing, spanStartOf(labels), method));
  };
}

// Internal: a method's span name and attributes.
interface SpanStart {
  name: string;
  attributes: Attributes;
}

/**
 * TracedCall is one call's layer: at its metadata it asks the sampler; a recorded call starts its span,
 * runs the handler's events in the span's context, and ends the span at its status or its cancel. An
 * unrecorded one forwards every event as it is.
 */
class TracedCall extends PassThroughCall {
  private span: Span | undefined;
  private active: Context | undefined;
  private opCount = 0;
  private ops: OpPairing | undefined;
  // A unary call's handler runs when the request is complete (half close): only that needs the span's
  // context. A stream's handler runs at its metadata and hears of each message: those need it too.
  private readonly unary: boolean;

  constructor(
    next: ServerInterceptingCallInterface,
    private readonly tracing: CallTracer,
    private readonly spanStart: SpanStart,
    private readonly method: { path: string; requestStream: boolean; responseStream: boolean },
  ) {
    super(next);
    this.unary = !method.requestStream && !method.responseStream;
  }

  override start(listener: CallListener): void {
    const contexts = this.tracing.contexts;
    this.next.start({
      onReceiveMetadata: (metadata) => {
        const active = this.begin(metadata);
        if (active === undefined || this.unary) listener.onReceiveMetadata(metadata);
        else contexts.with(active, () => listener.onReceiveMetadata(metadata));
      },
      onReceiveMessage: (message) => {
        const active = this.active;
        if (active === undefined || this.unary) listener.onReceiveMessage(message);
        else {
          this.ops?.request(message);
          contexts.with(active, () => listener.onReceiveMessage(message));
        }
      },
      onReceiveHalfClose: () => {
        const active = this.active;
        if (active === undefined) listener.onReceiveHalfClose();
        else contexts.with(active, () => listener.onReceiveHalfClose());
      },
      onCancel: () => {
        this.end(this.deadlinePassed() ? status.DEADLINE_EXCEEDED : status.CANCELLED);
        listener.onCancel();
      },
    });
  }

  // begin starts the call's span when the sampler records it, and answers the context to run it in.
  private begin(metadata: Metadata): Context | undefined {
    const { tracer, extract, sampling, contexts } = this.tracing;
    const parent = extract(metadata);
    if (!sampling.sampled(parent, this.spanStart.name)) return undefined;
    const span = tracer.startSpan(this.spanStart.name, { kind: SpanKind.SERVER, attributes: this.spanStart.attributes }, parent);
    contexts.hold();
    this.span = span;
    this.ops = OpPairing.forPath(this.method.path);
    this.active = trace.setSpan(parent, span);
    return this.active;
  }

  // biome-ignore lint/suspicious/noExplicitAny: grpc-js's own signature: a message of the method's type.
  override sendMessage(message: any, callback: () => void): void {
    const span = this.span;
    if (span !== undefined && this.ops !== undefined) {
      const answered = this.ops.response(message);
      this.opCount++;
      span.addEvent(answered.op, answered.code === 0 ? undefined : { "rpc.grpc.status_code": answered.code });
    }
    this.next.sendMessage(message, callback);
  }

  override sendStatus(s: CallStatus): void {
    if (this.span !== undefined) this.end(this.codeOf(s), s.details);
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
    this.tracing.contexts.release();
  }
}
