import type { ServerInterceptor } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { AggregatorRegistry, Registry } from "prom-client";
import type { StoreObserver } from "../store/store-observer.js";
import { createMetrics } from "./metrics.js";
import { createMetricsInterceptor } from "./metrics-interceptor.js";
import { type MetricsServer, serveMetrics } from "./metrics-server.js";
import { combineObservers, createStoreMetrics } from "./store-metrics.js";

/** Tracing is what tracing.ts gives sessiond once OpenTelemetry is set up (internal to server/telemetry). */
export interface Tracing {
  interceptor: ServerInterceptor;
  storeObserver: StoreObserver;
  /** shutdown exports the spans still buffered and stops the provider. */
  shutdown(): Promise<void>;
}

/** TelemetryOptions say what to observe; `createTelemetry` turns each part on only when asked. */
export interface TelemetryOptions {
  /** metrics is the HOST:PORT to serve `/metrics` on (--metrics); undefined: no metrics at all. */
  metrics: string | undefined;
  /** clusterWorker: this process is a `--workers` worker; the primary serves the sum, so it does not listen. */
  clusterWorker: boolean;
  /** env holds the OTEL_* variables (process.env in sessiond). */
  env: NodeJS.ProcessEnv;
}

/** Telemetry is sessiond's metrics and tracing, as hooks for the server and the store. */
export interface Telemetry {
  /** interceptors go first in the grpc-js server's `interceptors` (metrics, then tracing); empty when all is off. */
  readonly interceptors: ServerInterceptor[];
  /** storeObserver goes to the memcached store; undefined when all is off. */
  readonly storeObserver: StoreObserver | undefined;
  /** tracingEndpoint is the OTLP endpoint spans go to; undefined when tracing is off. */
  readonly tracingEndpoint: string | undefined;
  /** watchOpenTransactions makes `sessiond_open_transactions` read `count()` at each scrape. */
  watchOpenTransactions(count: () => number): void;
  /** start serves `/metrics` (not in a cluster worker); resolves to the address bound, or undefined. */
  start(): Promise<string | undefined>;
  /** close stops serving metrics and flushes the spans still buffered. */
  close(): Promise<void>;
}

/**
 * tracingEndpoint is the OTLP/HTTP endpoint the standard variables name: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
 * else `OTEL_EXPORTER_OTLP_ENDPOINT` (empty counts as unset); undefined (tracing off) when neither is set
 * or `OTEL_SDK_DISABLED=true`.
 */
export function tracingEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
  return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || undefined;
}

/**
 * createTelemetry sets up what the options ask for and nothing else: with `metrics`, a prom-client Registry
 * of sessiond's metrics (in a cluster worker, offered to the primary's AggregatorRegistry); with an OTLP
 * endpoint, OpenTelemetry tracing, whose modules are loaded here by `import()` only then.
 */
export async function createTelemetry(options: TelemetryOptions, logger: Logger): Promise<Telemetry> {
  const metrics = options.metrics === undefined ? undefined : createMetrics(new Registry());
  if (metrics !== undefined && options.clusterWorker) {
    // A worker answers the primary's requests only once it has an AggregatorRegistry of its own.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([metrics.registry]);
  }
  const endpoint = tracingEndpoint(options.env);
  const tracing = endpoint === undefined ? undefined : (await import("./tracing.js")).startTracing(logger);
  let server: MetricsServer | undefined;
  return {
    interceptors: [
      ...(metrics === undefined ? [] : [createMetricsInterceptor(metrics)]),
      ...(tracing === undefined ? [] : [tracing.interceptor]),
    ],
    storeObserver: combineObservers(metrics && createStoreMetrics(metrics), tracing?.storeObserver),
    tracingEndpoint: endpoint,
    watchOpenTransactions(count) {
      metrics?.watchOpenTransactions(count);
    },
    async start() {
      if (metrics === undefined || options.metrics === undefined || options.clusterWorker) return undefined;
      const { registry } = metrics;
      server = await serveMetrics(
        options.metrics,
        { contentType: registry.contentType, metrics: () => registry.metrics() },
        logger,
      );
      return server.address;
    },
    async close() {
      await server?.close();
      await tracing?.shutdown();
    },
  };
}

/**
 * serveClusterMetrics serves `/metrics` in the primary of `--workers N`: each scrape asks every worker for its
 * metrics (prom-client's AggregatorRegistry) and answers their sum (503 if a worker does not answer in 5 s).
 */
export function serveClusterMetrics(address: string, logger: Logger): Promise<MetricsServer> {
  const aggregator = new AggregatorRegistry();
  return serveMetrics(address, { contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() }, logger);
}
