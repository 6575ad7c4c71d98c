import { createRequire } from "node:module";
import { InterceptingCall, type Interceptor, type Metadata } from "@grpc/grpc-js";

type OpenTelemetryApi = typeof import("@opentelemetry/api");

// Internal: where @opentelemetry/api 1.x keeps what a process registered (context manager, propagator):
// present only once something (the OpenTelemetry Node SDK, a tracer provider's register()) set it up.
const OTEL_GLOBAL = Symbol.for("opentelemetry.js.api.1");

// Internal: undefined until first needed; null when @opentelemetry/api cannot be loaded.
let api: OpenTelemetryApi | null | undefined;

function openTelemetry(): OpenTelemetryApi | null {
  if (api === undefined) {
    try {
      // Synchronous on purpose: the call's context must be read while the caller's code runs. The package
      // keeps its state in a process-wide global, so this copy sees what the caller's copy registered.
      api = createRequire(import.meta.url)("@opentelemetry/api") as OpenTelemetryApi;
    } catch {
      api = null;
    }
  }
  return api;
}

/**
 * injectTraceContext writes the caller's active OpenTelemetry context into a call's metadata with the
 * propagator the process registered (W3C `traceparent`/`tracestate` by default), so sessiond's server span
 * continues the caller's trace. It does nothing, and loads nothing, in a process where nobody registered
 * OpenTelemetry; @opentelemetry/api is an optional peer of the SDK, used only when the caller already has it.
 */
export function injectTraceContext(metadata: Metadata): void {
  if ((globalThis as Record<symbol, unknown>)[OTEL_GLOBAL] === undefined) return;
  const otel = openTelemetry();
  if (otel === null) return;
  otel.propagation.inject(otel.context.active(), metadata, {
    set: (carrier, key, value) => carrier.set(key, value),
  });
}

/**
 * traceContextInterceptor is the grpc-js client interceptor of the SDK that calls `injectTraceContext` as each
 * call starts (synchronously, in the caller's async context), unary calls and Transaction streams alike
 * (internal).
 */
export const traceContextInterceptor: Interceptor = (options, nextCall) =>
  new InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      injectTraceContext(metadata);
      next(metadata, listener);
    },
  });
