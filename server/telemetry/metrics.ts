import type { DescService } from "@bufbuild/protobuf";
import { collectDefaultMetrics, Gauge, type Registry } from "prom-client";
import { CODE_NAMES } from "./call-labels.js";
import { FastCounter, FastHistogram } from "./fast-metrics.js";

/**
 * RPC_BUCKETS are the upper bounds, in seconds, of `grpc_server_handling_seconds`: from 0.5 ms (a Get served
 * from one memcached round trip) to 10 s (a long Transaction stream), so a p99 of either can be read.
 */
export const RPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * STORE_BUCKETS are the upper bounds, in seconds, of `sessiond_store_command_seconds`: memcached answers in
 * tens of microseconds on a LAN, so they start at 50 µs and end at 1 s (the default --memcached-timeout).
 */
export const STORE_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** GRPC_LABELS are go-grpc-prometheus's labels of every grpc_server_* metric. */
export const GRPC_LABELS = ["grpc_type", "grpc_service", "grpc_method"] as const;
type GrpcLabel = (typeof GRPC_LABELS)[number];

/** CommitResult is the `result` label of `sessiond_commits_total`. */
export type CommitResult = "ok" | "conflict" | "error";

/**
 * SessiondMetrics are the Prometheus metrics of one sessiond process, registered in one prom-client
 * Registry (never the global one, so several sessionds can live in one process, as in the tests). Those
 * on the path of every call are FastCounter and FastHistogram (see fast-metrics.ts): series made once,
 * then one addition per event. Names and
 * labels are go-grpc-prometheus's, so existing gRPC dashboards and alerts work unchanged.
 */
export interface SessiondMetrics {
  readonly registry: Registry;
  /** started counts calls begun: grpc_server_started_total{grpc_type,grpc_service,grpc_method}. */
  readonly started: FastCounter<GrpcLabel>;
  /** handled counts calls ended, with their status: grpc_server_handled_total{...,grpc_code}. */
  readonly handled: FastCounter<GrpcLabel | "grpc_code">;
  /** handling is the time from start to status, in seconds: grpc_server_handling_seconds. */
  readonly handling: FastHistogram<GrpcLabel>;
  /** received counts request messages (a Transaction stream's ops): grpc_server_msg_received_total. */
  readonly received: FastCounter<GrpcLabel>;
  /** sent counts response messages: grpc_server_msg_sent_total. */
  readonly sent: FastCounter<GrpcLabel>;
  /** commits counts transaction commits by result: sessiond_commits_total{result}. */
  readonly commits: FastCounter<"result">;
  /** storeSeconds is each memcached command's latency: sessiond_store_command_seconds{server,command}. */
  readonly storeSeconds: FastHistogram<"server" | "command">;
  /** storeErrors counts memcached commands that failed (not refusals): sessiond_store_errors_total{server}. */
  readonly storeErrors: FastCounter<"server">;
  /** watchOpenTransactions makes sessiond_open_transactions read `count()` at every scrape. */
  watchOpenTransactions(count: () => number): void;
}

/**
 * createMetrics registers sessiond's metrics and the process and Node.js default metrics (prom-client's
 * `collectDefaultMetrics`) in `registry`. `sessiond_commits_total` starts at 0 for each result, so a
 * conflict rate can be computed before the first conflict.
 */
export function createMetrics(registry: Registry): SessiondMetrics {
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  let openTransactions: () => number = () => 0;
  new Gauge({
    name: "sessiond_open_transactions",
    help: "Transactions open now (begun, neither committed nor aborted nor discarded).",
    registers,
    collect() {
      this.set(openTransactions());
    },
  });
  const commits = new FastCounter(
    "sessiond_commits_total",
    "Transaction commits by result: ok, conflict (ABORTED: another writer committed first) or error.",
    ["result"],
    registry,
  );
  for (const result of ["ok", "conflict", "error"] satisfies CommitResult[]) commits.child({ result });
  return {
    registry,
    started: new FastCounter("grpc_server_started_total", "Total number of RPCs started on the server.", GRPC_LABELS, registry),
    handled: new FastCounter(
      "grpc_server_handled_total",
      "Total number of RPCs completed on the server, regardless of success or failure.",
      [...GRPC_LABELS, "grpc_code"],
      registry,
    ),
    handling: new FastHistogram(
      "grpc_server_handling_seconds",
      "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
      GRPC_LABELS,
      RPC_BUCKETS,
      registry,
    ),
    received: new FastCounter(
      "grpc_server_msg_received_total",
      "Total number of RPC stream messages received on the server.",
      GRPC_LABELS,
      registry,
    ),
    sent: new FastCounter(
      "grpc_server_msg_sent_total",
      "Total number of gRPC stream messages sent by the server.",
      GRPC_LABELS,
      registry,
    ),
    commits,
    storeSeconds: new FastHistogram(
      "sessiond_store_command_seconds",
      "Latency of memcached commands (seconds), by server and command.",
      ["server", "command"],
      STORE_BUCKETS,
      registry,
    ),
    storeErrors: new FastCounter(
      "sessiond_store_errors_total",
      "memcached commands that failed (unreachable, timed out, refused with an error), by server.",
      ["server"],
      registry,
    ),
    watchOpenTransactions(count) {
      openTransactions = count;
    },
  };
}

/**
 * initializeMethods makes every series of a service's methods exist at 0 before its first call, as
 * go-grpc-prometheus's `InitializeMetrics` does (started, messages, handling time, and handled for every
 * code), so rates and error ratios read 0 rather than nothing on a fresh process.
 */
export function initializeMethods(metrics: SessiondMetrics, service: DescService): void {
  for (const method of service.methods) {
    const labels = {
      grpc_type: {
        unary: "unary",
        server_streaming: "server_stream",
        client_streaming: "client_stream",
        bidi_streaming: "bidi_stream",
      }[method.methodKind],
      grpc_service: service.typeName,
      grpc_method: method.name,
    };
    metrics.started.child(labels);
    metrics.received.child(labels);
    metrics.sent.child(labels);
    metrics.handling.child(labels);
    for (const grpc_code of CODE_NAMES) metrics.handled.child({ ...labels, grpc_code });
  }
}
