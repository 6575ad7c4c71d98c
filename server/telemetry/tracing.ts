// Loaded only by `import()` from telemetry.ts when an OTLP endpoint is set: without one, no OpenTelemetry
// module is ever loaded and the default start pays nothing for tracing.
import {
  type Attributes,
  DiagLogLevel,
  diag,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from "@opentelemetry/api";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter as JsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtobufTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import type { Logger } from "pino";
import type { StoreObserver } from "../store/store-observer.js";
import { RecordingContextManager } from "./recording-context.js";
import type { TracesProtocol, Tracing } from "./telemetry.js";
import { createSampling, samplerFromEnv } from "./trace-sampler.js";
import { createTracingInterceptor } from "./tracing-interceptor.js";

// Internal: how long stopping waits for the last spans to be exported.
const SHUTDOWN_MS = 2000;

// Internal: spans per export request unless OTEL_BSP_MAX_EXPORT_BATCH_SIZE says otherwise.
const EXPORT_BATCH_SIZE = 128;

// Internal: what a command outside any recorded call is told when it ends.
const IGNORED = (): void => undefined;

// Internal: read by the metadata getter; grpc-js keeps keys lower-case, as W3C's propagator asks for them.
const metadataGetter: TextMapGetter<import("@grpc/grpc-js").Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key);
    return values.length === 0 ? undefined : values.map(String);
  },
};

/**
 * startTracing registers an OpenTelemetry tracer provider for this process (the official Node SDK pieces:
 * NodeTracerProvider, a batch span processor, the OTLP/HTTP exporter, the W3C trace-context and baggage
 * propagators, the AsyncLocalStorage context manager, switched on only while a recorded call is in flight:
 * see recording-context.ts) and returns sessiond's tracing hooks. Spans are posted to `tracesUrl` as
 * `protocol` encodes them (telemetry.ts reads both from the standard variables:
 * `@opentelemetry/exporter-trace-otlp-http` for JSON, `-otlp-proto` for protobuf); the sampler is the one
 * `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` of `env` name (default parent-based always-on, see
 * trace-sampler.ts); the SDK reads the others itself: `OTEL_EXPORTER_OTLP_HEADERS` and timeouts, the batch
 * settings (`OTEL_BSP_*`; batches of 128 spans unless `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` says otherwise);
 * the service is `sessiond` unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` say otherwise.
 * Exporter failures are logged at warn level, never thrown.
 */
export function startTracing(tracesUrl: string, protocol: TracesProtocol, env: NodeJS.ProcessEnv, logger: Logger): Tracing {
  diag.setLogger(
    {
      error: (message, ...args) => logger.warn({ args }, `opentelemetry: ${message}`),
      warn: (message, ...args) => logger.warn({ args }, `opentelemetry: ${message}`),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    DiagLogLevel.WARN,
  );
  const resource = resourceFromAttributes({ "service.name": "sessiond" }).merge(detectResources({ detectors: [envDetector] }));
  const sampler = samplerFromEnv(env, (message) => logger.warn(`opentelemetry: ${message}`));
  const sampling = createSampling(sampler);
  const provider = new NodeTracerProvider({
    resource,
    sampler,
    idGenerator: sampling.ids,
    spanProcessors: [
      new BatchSpanProcessor(
        protocol === "http/protobuf" ? new ProtobufTraceExporter({ url: tracesUrl }) : new JsonTraceExporter({ url: tracesUrl }),
        // Smaller batches than the SDK's 512 unless told otherwise: under load, spans queued for a 512-span
        // batch outlive the young generation and are promoted, and the old generation's collections cost
        // more than the requests saved (a traced Get's server CPU, and 40 MB of RSS: bench/README.md).
        env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE?.trim() ? {} : { maxExportBatchSize: EXPORT_BATCH_SIZE },
      ),
    ],
  });
  const contexts = new RecordingContextManager();
  provider.register({
    contextManager: contexts,
    propagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  });
  const tracer = provider.getTracer("sessiond");

  // The attributes of each server's command spans, made once per (server, command, keys).
  const attributesOf = new Map<string, Attributes>();
  const commandAttributes = (server: string, command: string, keys: number): Attributes => {
    const cacheKey = `${server} ${command} ${keys}`;
    let attributes = attributesOf.get(cacheKey);
    if (attributes === undefined) {
      attributes = {
        "db.system": "memcached",
        "db.system.name": "memcached",
        "db.operation.name": command,
        "server.address": server.slice(0, server.lastIndexOf(":")).replace(/^\[|\]$/g, ""),
        "server.port": Number(server.slice(server.lastIndexOf(":") + 1)),
        "sessiond.store.keys": keys,
        ...(keys > 1 ? { "db.operation.batch.size": keys } : {}),
      };
      if (attributesOf.size < 10_000) attributesOf.set(cacheKey, attributes);
    }
    return attributes;
  };
  const storeSpans: StoreObserver = {
    command(server, command, keys) {
      const parent = contexts.active();
      // Only a recorded call's commands are spans: an unrecorded call never enters a context, and commands
      // outside any call (the health ping) would each be a trace of their own, not worth exporting.
      const callSpan = trace.getSpan(parent);
      if (callSpan === undefined || !callSpan.isRecording()) return IGNORED;
      const span: Span = tracer.startSpan(
        `memcached ${command}`,
        { kind: SpanKind.CLIENT, attributes: commandAttributes(server, command, keys) },
        parent,
      );
      return (failure) => {
        if (failure !== undefined) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
          span.setAttribute("error.type", failure.name);
        }
        span.end();
      };
    },
  };

  return {
    interceptor: createTracingInterceptor({
      tracer,
      extract: (metadata) => propagation.extract(ROOT_CONTEXT, metadata, metadataGetter),
      sampling,
      contexts,
    }),
    storeObserver: storeSpans,
    async shutdown() {
      // Spans that cannot be exported now are lost; stopping must go on (and exit 0) all the same, and soon:
      // the exporter would retry an unreachable collector for up to its timeout (10 s by default).
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`no answer within ${SHUTDOWN_MS} ms`), SHUTDOWN_MS);
      });
      const outcome = await Promise.race([
        provider.shutdown().then(
          () => undefined,
          (err: unknown) => (err as Error).message,
        ),
        late,
      ]);
      clearTimeout(timer);
      if (outcome !== undefined) logger.warn({ err: outcome }, "opentelemetry: spans not exported at shutdown");
    },
  };
}
