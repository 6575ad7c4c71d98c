/**
 * tracing-cost measures, in this process alone, the least OpenTelemetry's official Node SDK costs per traced
 * Get: a server span and one child span (a memcached `gets`) with sessiond's attributes, the child started
 * inside the server span's AsyncLocalStorage context, both ended and batch-exported over OTLP/HTTP to a sink
 * in this process. No gRPC, no memcached: what is left is the SDK's own floor, to set beside a Get's server
 * microseconds in `npm run bench`. `npx tsx bench/tracing-cost.ts [calls]`; each mode runs in a fresh
 * process (a provider, once registered, stays for the process), three times, and the median is printed:
 * - `off`: no provider (the API's no-op tracer);
 * - `no-export`: spans made and batched, the exporter a no-op;
 * - `json`: exported with `exporter-trace-otlp-http` (sessiond's default);
 * - `protobuf`: exported with `exporter-trace-otlp-proto` (`OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`).
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { context, ROOT_CONTEXT, SpanKind, type Tracer, trace } from "@opentelemetry/api";
import type { ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter as JsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtobufTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider, type SpanExporter } from "@opentelemetry/sdk-trace-node";
import { startOtlpSink } from "./lib/otlp-sink.js";

const MODES = ["off", "no-export", "json", "protobuf"] as const;
type Mode = (typeof MODES)[number];
const SERVER_ATTRIBUTES = { "rpc.system": "grpc", "rpc.service": "sessiond.v1.SessionService", "rpc.method": "Get" };
const COMMAND_ATTRIBUTES = {
  "db.system": "memcached",
  "db.system.name": "memcached",
  "db.operation.name": "gets",
  "server.address": "127.0.0.1",
  "server.port": 11211,
  "sessiond.store.keys": 1,
};
const CONCURRENCY = 64;

// tracedGet is one call: its server span, and inside its context a handler that awaits, sends a command
// (a child span) and waits a round of the event loop for its answer, as the store does.
async function tracedGet(tracer: Tracer): Promise<void> {
  const span = tracer.startSpan("sessiond.v1.SessionService/Get", { kind: SpanKind.SERVER, attributes: SERVER_ATTRIBUTES });
  await context.with(trace.setSpan(ROOT_CONTEXT, span), async () => {
    await Promise.resolve();
    const command = tracer.startSpan(
      "memcached gets",
      { kind: SpanKind.CLIENT, attributes: COMMAND_ATTRIBUTES },
      context.active(),
    );
    await new Promise<void>((resolve) => setImmediate(resolve));
    command.end();
  });
  span.setAttribute("rpc.grpc.status_code", 0);
  span.end();
}

// measure runs `calls` traced Gets, CONCURRENCY at a time, and answers the CPU microseconds per call,
// the export of every span included.
async function measure(mode: Mode, calls: number): Promise<number> {
  const sink = await startOtlpSink();
  let tracer: Tracer = trace.getTracer("sessiond");
  let provider: NodeTracerProvider | undefined;
  if (mode !== "off") {
    const url = `${sink.endpoint}/v1/traces`;
    const noExport: SpanExporter = {
      export: (_spans, done: (result: ExportResult) => void) => done({ code: 0 }),
      shutdown: async () => undefined,
    };
    const exporter =
      mode === "json" ? new JsonTraceExporter({ url }) : mode === "protobuf" ? new ProtobufTraceExporter({ url }) : noExport;
    provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ "service.name": "sessiond" }),
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    provider.register();
    tracer = provider.getTracer("sessiond");
  }
  const run = async (n: number) => {
    for (let i = 0; i < n; i += CONCURRENCY) await Promise.all(Array.from({ length: CONCURRENCY }, () => tracedGet(tracer)));
  };
  await run(Math.min(20_000, calls)); // warm-up
  const started = process.cpuUsage();
  await run(calls);
  await provider?.forceFlush();
  const used = process.cpuUsage(started);
  await provider?.shutdown();
  await sink.close();
  return (used.user + used.system) / calls;
}

const [first, second] = process.argv.slice(2);
if (first === "--mode") {
  // A child: one mode, one measurement, printed as a number.
  process.stdout.write(`${(await measure(second as Mode, Number(process.argv[4] ?? 200_000))).toFixed(2)}\n`);
  process.exit(0);
}
const calls = Number(first ?? 200_000);
const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1]!;
const self = fileURLToPath(import.meta.url);
const results = new Map<Mode, number[]>(MODES.map((mode) => [mode, []]));
for (let round = 0; round < 3; round++) {
  for (const mode of MODES) {
    const out = execFileSync(process.execPath, [...process.execArgv, self, "--mode", mode, String(calls)], { encoding: "utf8" });
    results.get(mode)!.push(Number(out.trim()));
  }
}
const off = median(results.get("off")!);
process.stdout.write(`CPU per traced Get (server span + one memcached child span), ${calls} calls, median of 3:\n`);
for (const mode of MODES) {
  const us = median(results.get(mode)!);
  process.stdout.write(
    `  ${mode.padEnd(10)} ${us.toFixed(1).padStart(6)} us${mode === "off" ? "" : `  (+${(us - off).toFixed(1)} us)`}\n`,
  );
}
