// Loaded only by `import()` from telemetry.ts and cluster.ts when --metrics is set: prom-client (and the
// @opentelemetry/api it requires for exemplars) stays out of a process that serves no metrics.
import type { Logger } from "pino";
import { AggregatorRegistry, Registry } from "prom-client";
import { SessionService } from "../../gen/sessiond/v1/session_service_pb.js";
import type { CommandDone, StoreObserver } from "../store/store-observer.js";
import type { CounterChild, HistogramChild } from "./fast-metrics.js";
import { createMetrics, initializeMethods, type SessiondMetrics } from "./metrics.js";
import { createMetricsInterceptor, createTransactionMetrics } from "./metrics-interceptor.js";
import { type MetricsServer, serveMetrics } from "./metrics-server.js";
import type { MetricsHooks } from "./telemetry.js";

/**
 * setUpMetrics registers sessiond's metrics in a Registry of their own (every SessionService method's series
 * at 0) and returns the hooks that keep them.
 * In a cluster worker the registry is offered to the primary's AggregatorRegistry and `start` serves
 * nothing; elsewhere `start` serves it on `address`.
 */
export function setUpMetrics(address: string, clusterWorker: boolean, logger: Logger): MetricsHooks {
  const metrics = createMetrics(new Registry());
  initializeMethods(metrics, SessionService);
  const { registry } = metrics;
  if (clusterWorker) {
    // A worker answers the primary's requests only once it has an AggregatorRegistry of its own.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([registry]);
  }
  let server: MetricsServer | undefined;
  return {
    interceptor: createMetricsInterceptor(metrics),
    storeObserver: createStoreMetrics(metrics),
    transactionObserver: createTransactionMetrics(metrics),
    watchOpenTransactions: (count) => metrics.watchOpenTransactions(count),
    async start() {
      if (clusterWorker) return undefined;
      server = await serveMetrics(address, { contentType: registry.contentType, metrics: () => registry.metrics() }, logger);
      return server.address;
    },
    async close() {
      await server?.close();
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

/**
 * createStoreMetrics is the StoreObserver that times every memcached command into
 * `sessiond_store_command_seconds{server,command}` and counts failed ones (unreachable, timed out, answered
 * with an error; not refusals such as EXISTS, which are answers) in `sessiond_store_errors_total{server}`.
 * Labels are the configured server addresses and memcached's command words: a bounded set.
 */
export function createStoreMetrics(metrics: SessiondMetrics): StoreObserver {
  // The series of each (server, command), made once (see fast-metrics.ts): by server, then by command.
  const servers = new Map<string, Map<string, { timer: HistogramChild; errors: CounterChild }>>();
  const seriesOf = (server: string, command: string) => {
    let commands = servers.get(server);
    if (commands === undefined) {
      commands = new Map();
      servers.set(server, commands);
    }
    let series = commands.get(command);
    if (series === undefined) {
      series = { timer: metrics.storeSeconds.child({ server, command }), errors: metrics.storeErrors.child({ server }) };
      commands.set(command, series);
    }
    return series;
  };
  return {
    command(server, command): CommandDone {
      const started = performance.now();
      return (failure) => {
        const series = seriesOf(server, command);
        series.timer.observe((performance.now() - started) / 1000);
        if (failure !== undefined) series.errors.inc();
      };
    },
  };
}
