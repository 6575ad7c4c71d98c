// Sampling: with tracing on, a call the sampler leaves out (the sampler's ratio, or the caller's traceparent
// with the sampled flag off) exports nothing, neither its own span nor its memcached commands', while a
// recorded call of the same process keeps its server span and memcached children; the standard sampler
// variables (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG) decide which is which.

import { create } from "@bufbuild/protobuf";
import { type Client, Metadata, type ServiceError } from "@grpc/grpc-js";
import { createContextKey, ROOT_CONTEXT, SpanKind } from "@opentelemetry/api";
import { expect } from "chai";
import { GetRequestSchema } from "../gen/sessiond/v1/session_service_pb.js";
import { RecordingContextManager } from "../server/telemetry/recording-context.js";
import { samplerFromEnv } from "../server/telemetry/trace-sampler.js";
import type { OtlpReceiver, ReceivedSpan } from "./helpers/otlp-receiver.js";
import { op, TransactionStreamDriver } from "./helpers/sessiond.js";
import { tracedSessiond } from "./helpers/traced-sessiond.js";

const ns = "Sampled";
const SERVER = 2;
const CLIENT = 3;
type RawSessionClient = Client & Record<string, (...args: unknown[]) => unknown>;

/**
 * traceparent is a W3C traceparent of trace `traceId` (32 hex digits) from a caller's span, `sampled` or
 * not. The ratio samplers decide from the trace id: 0000…0001 is inside any ratio above 0, ffffffff0…0
 * outside any below 1.
 */
function traceparent(traceId: string, sampled: boolean): Metadata {
  const metadata = new Metadata();
  metadata.set("traceparent", `00-${traceId}-00f067aa0ba902b7-${sampled ? "01" : "00"}`);
  return metadata;
}

const LOW_TRACE = "00000000000000000000000000000001";
const HIGH_TRACE = "ffffffff000000000000000000000000";
const traceOf = (n: number) => `4bf92f3577b34da6a3ce929d0e0e${n.toString(16).padStart(4, "0")}`;

function get(client: RawSessionClient, sessionId: string, metadata = new Metadata()): Promise<void> {
  const request = create(GetRequestSchema, { namespace: ns, sessionId, package: "p" });
  return new Promise((resolve, reject) =>
    client.get!(request, metadata, (err: ServiceError | null) => (err ? reject(err) : resolve())),
  );
}

/** transaction begins, sets and commits a transaction on one stream: a read and a write of memcached. */
async function transaction(client: RawSessionClient, sessionId: string, metadata = new Metadata()): Promise<void> {
  const tx = new TransactionStreamDriver(client.transaction!(metadata) as never);
  await tx.send(op("begin", { namespace: ns, sessionId }));
  await tx.send(op("set", { package: "p", data: { v: 1 } }));
  expect((await tx.send(op("commit"))).error).to.equal(undefined);
  await tx.end();
}

/**
 * recorded waits until the server spans of `traceIds` and their memcached children have arrived (the spans
 * of calls made before them have been exported by then: one batch processor, in the order spans end), and
 * answers every span received.
 */
async function recorded(receiver: OtlpReceiver, traceIds: string[]): Promise<ReceivedSpan[]> {
  return receiver.waitFor((spans) =>
    traceIds.every((traceId) => {
      const server = spans.find((s) => s.traceId === traceId && s.kind === SERVER);
      return server !== undefined && spans.some((s) => s.parentSpanId === server.spanId && s.kind === CLIENT);
    }),
  );
}

const tracesIn = (spans: ReceivedSpan[]) => [...new Set(spans.map((s) => s.traceId))].sort();

describe("tracing with a sampler at ratio 0 (parentbased_traceidratio, 0)", function () {
  this.timeout(40_000);
  const t = tracedSessiond({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" });

  it("exports nothing of the calls it starts, yet follows a caller that sampled its own call, children included", async () => {
    for (let i = 0; i < 5; i++) await get(t.client, `r0-${i}`);
    await transaction(t.client, "r0-tx");
    await get(t.client, "r0-parent", traceparent(traceOf(1), true));
    const spans = await recorded(t.receiver, [traceOf(1)]);
    expect(tracesIn(spans)).to.deep.equal([traceOf(1)]);
    const server = spans.find((s) => s.kind === SERVER)!;
    expect(server.name).to.equal("sessiond.v1.SessionService/Get");
    expect(server.parentSpanId).to.equal("00f067aa0ba902b7");
    expect(spans.filter((s) => s.parentSpanId === server.spanId).map((s) => s.name)).to.include("memcached gets");
  });
});

describe("tracing with the default sampler and a caller's traceparent not sampled", function () {
  this.timeout(40_000);
  const t = tracedSessiond({});

  it("exports nothing of the calls whose caller did not sample, while it records the others with their children", async () => {
    for (let i = 0; i < 5; i++) await get(t.client, `off-${i}`, traceparent(traceOf(10 + i), false));
    await transaction(t.client, "off-tx", traceparent(traceOf(20), false));
    await transaction(t.client, "on-tx", traceparent(traceOf(21), true));
    await get(t.client, "on-get", traceparent(traceOf(22), true));
    const spans = await recorded(t.receiver, [traceOf(21), traceOf(22)]);
    expect(tracesIn(spans)).to.deep.equal([traceOf(21), traceOf(22)]);
    const tx = spans.find((s) => s.traceId === traceOf(21) && s.kind === SERVER)!;
    expect(tx.events.map((e) => e.name)).to.deep.equal(["begin", "set", "commit"]);
    const writes = spans.filter((s) => s.parentSpanId === tx.spanId).map((s) => s.name);
    expect(writes.some((name) => name === "memcached add" || name === "memcached cas")).to.equal(true);
  });

  it("records a call that comes with no traceparent at all: its own sampler, always on, decides", async () => {
    const before = t.receiver.spans.length;
    await get(t.client, "root");
    const spans = await t.receiver.waitFor((all) => all.slice(before).some((s) => s.kind === SERVER));
    const root = spans.slice(before).find((s) => s.kind === SERVER)!;
    expect(root.parentSpanId).to.equal("");
    expect(tracesIn(spans)).to.not.include(traceOf(10));
  });
});

describe("tracing with OTEL_TRACES_SAMPLER=traceidratio and OTEL_TRACES_SAMPLER_ARG=0.5", function () {
  this.timeout(40_000);
  const t = tracedSessiond({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.5" });

  it("decides by the trace id alone, whatever the caller's sampled flag says (not parent-based)", async () => {
    await get(t.client, "high-sampled", traceparent(HIGH_TRACE, true));
    await transaction(t.client, "high-tx", traceparent(HIGH_TRACE, true));
    await get(t.client, "low-unsampled", traceparent(LOW_TRACE, false));
    const spans = await recorded(t.receiver, [LOW_TRACE]);
    expect(tracesIn(spans)).to.deep.equal([LOW_TRACE]);
  });
});

describe("samplerFromEnv", () => {
  it("reads the standard names, and takes the default (parent-based, always on) with a warning for others", () => {
    const warnings: string[] = [];
    const warn = (message: string) => warnings.push(message);
    expect(samplerFromEnv({}, warn).toString()).to.match(/^ParentBased\{root=AlwaysOnSampler/);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: "always_off" }, warn).toString()).to.equal("AlwaysOffSampler");
    expect(
      samplerFromEnv({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.01" }, warn).toString(),
    ).to.match(/^ParentBased\{root=TraceIdRatioBased\{0\.01\}/);
    expect(warnings).to.deep.equal([]);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: "jaeger_remote" }, warn).toString()).to.match(/^ParentBased\{root=AlwaysOn/);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" }, warn).toString()).to.equal(
      "TraceIdRatioBased{1}",
    );
    expect(warnings).to.have.length(2);
    expect(warnings[0]).to.match(/OTEL_TRACES_SAMPLER=jaeger_remote/);
    expect(warnings[1]).to.match(/OTEL_TRACES_SAMPLER_ARG=2/);
  });

  it("makes a ratio sampler whose decision the trace id alone settles", () => {
    const sampler = samplerFromEnv({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.5" }, () => undefined);
    const decide = (traceId: string) => sampler.shouldSample(ROOT_CONTEXT, traceId, "x", SpanKind.SERVER, {}, []).decision;
    expect(decide(LOW_TRACE)).to.not.equal(decide(HIGH_TRACE));
  });
});

describe("RecordingContextManager", () => {
  const key = createContextKey("call");
  const recordedCall = ROOT_CONTEXT.setValue(key, "recorded");

  it("carries a recorded call's context across awaits, and none once the last recorded call has ended", async () => {
    const contexts = new RecordingContextManager();
    let open = (): void => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let afterwards: Promise<unknown> = Promise.resolve();
    contexts.hold();
    const during = await contexts.with(recordedCall, async () => {
      await null;
      afterwards = gate.then(() => contexts.active().getValue(key));
      return contexts.active().getValue(key);
    });
    expect(during).to.equal("recorded");
    contexts.release();
    open();
    expect(await afterwards, "the storage is off: no context, and no async hooks to carry one").to.equal(undefined);
  });

  it("leaves the storage off after running something in a context outside any recorded call", async () => {
    const contexts = new RecordingContextManager();
    let later: Promise<unknown> = Promise.resolve("not run");
    const inside = contexts.with(recordedCall, () => {
      later = Promise.resolve().then(() => contexts.active().getValue(key));
      return contexts.active().getValue(key);
    });
    expect(inside).to.equal("recorded");
    expect(await later, "what it started carries no context: the storage went off at once").to.equal(undefined);
  });
});
