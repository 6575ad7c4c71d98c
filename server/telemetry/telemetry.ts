import type { ServerInterceptor } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { ConfigError } from "../config/settings.js";
import type { TransactionObserver } from "../grpc/transaction-stream.js";
import type { StoreObserver } from "../store/store-observer.js";

/** Tracing is what tracing.ts gives sessiond once OpenTelemetry is set up (internal to server/telemetry). */
export interface Tracing {
  interceptor: ServerInterceptor;
  storeObserver: StoreObserver;
  /** shutdown exports the spans still buffered and stops the provider. */
  shutdown(): Promise<void>;
}

/** MetricsHooks is what metrics-setup.ts gives sessiond when --metrics is set (internal to server/telemetry). */
export interface MetricsHooks {
  interceptor: ServerInterceptor;
  storeObserver: StoreObserver;
  transactionObserver: TransactionObserver;
  watchOpenTransactions(count: () => number): void;
  /** start serves `/metrics` (not in a cluster worker); resolves to the address bound. */
  start(): Promise<string | undefined>;
  close(): Promise<void>;
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
  /** transactionObserver goes to the Transaction streams (their ops as messages, commits); undefined without metrics. */
  readonly transactionObserver: TransactionObserver | undefined;
  /** tracingEndpoint is the OTLP/HTTP URL spans are posted to; undefined when tracing is off. */
  readonly tracingEndpoint: string | undefined;
  /** tracingProtocol is how spans are encoded to that URL; undefined when tracing is off. */
  readonly tracingProtocol: TracesProtocol | undefined;
  /** watchOpenTransactions makes `sessiond_open_transactions` read `count()` at each scrape. */
  watchOpenTransactions(count: () => number): void;
  /** start serves `/metrics` (not in a cluster worker); resolves to the address bound, or undefined. */
  start(): Promise<string | undefined>;
  /** close stops serving metrics and flushes the spans still buffered. */
  close(): Promise<void>;
}

/**
 * tracesUrl is the URL spans are posted to, as the OTLP specification derives it from the standard
 * variables: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it is, else `OTEL_EXPORTER_OTLP_ENDPOINT` plus
 * `/v1/traces` (empty counts as unset); undefined (tracing off) when neither is set or `OTEL_SDK_DISABLED=true`.
 */
export function tracesUrl(env: NodeJS.ProcessEnv): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, "")}/v1/traces` : undefined;
}

/** TracesProtocol is the encoding of spans on OTLP/HTTP, named as the OTLP exporter variables name it. */
export type TracesProtocol = "http/json" | "http/protobuf";

/**
 * tracesProtocol reads the standard `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`:
 * `http/json` (the default, as `@opentelemetry/exporter-trace-otlp-http` sends) or `http/protobuf` (smaller,
 * and cheaper to encode). OTLP over gRPC (`grpc`) is not offered: a ConfigError says so at start rather
 * than every export failing later.
 */
export function tracesProtocol(env: NodeJS.ProcessEnv): TracesProtocol {
  const variable = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim()
    ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const value = env[variable]?.trim() || "http/json";
  if (value === "http/json" || value === "http/protobuf") return value;
  throw new ConfigError(
    `${variable}=${value} is not supported: sessiond exports spans over OTLP/HTTP, as "http/protobuf" or "http/json" (the default)`,
  );
}

/**
 * createTelemetry sets up what the options ask for and nothing else: with `metrics`, a prom-client Registry
 * of sessiond's metrics (in a cluster worker, offered to the primary's AggregatorRegistry); with an OTLP
 * endpoint, OpenTelemetry tracing. Each is loaded here by `import()` only when on, so a process with both off
 * loads neither prom-client nor any OpenTelemetry module.
 */
export async function createTelemetry(options: TelemetryOptions, logger: Logger): Promise<Telemetry> {
  const metrics =
    options.metrics === undefined
      ? undefined
      : (await import("./metrics-setup.js")).setUpMetrics(options.metrics, options.clusterWorker, logger);
  const endpoint = tracesUrl(options.env);
  const protocol = endpoint === undefined ? undefined : tracesProtocol(options.env);
  const tracing =
    endpoint === undefined || protocol === undefined
      ? undefined
      : (await import("./tracing.js")).startTracing(endpoint, protocol, options.env, logger);
  return {
    interceptors: [...(metrics ? [metrics.interceptor] : []), ...(tracing ? [tracing.interceptor] : [])],
    storeObserver: combineObservers(metrics?.storeObserver, tracing?.storeObserver),
    transactionObserver: metrics?.transactionObserver,
    tracingEndpoint: endpoint,
    tracingProtocol: protocol,
    watchOpenTransactions(count) {
      metrics?.watchOpenTransactions(count);
    },
    start: async () => metrics?.start(),
    async close() {
      await metrics?.close();
      await tracing?.shutdown();
    },
  };
}

/** combineObservers tells every observer given of each command (undefined ones are skipped). */
export function combineObservers(...observers: (StoreObserver | undefined)[]): StoreObserver | undefined {
  const present = observers.filter((o): o is StoreObserver => o !== undefined);
  if (present.length <= 1) return present[0];
  return {
    command(server, command, keys) {
      const done = present.map((o) => o.command(server, command, keys));
      return (failure) => {
        for (const d of done) d(failure);
      };
    },
  };
}
