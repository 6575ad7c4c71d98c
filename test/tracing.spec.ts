// OpenTelemetry traces: with OTEL_EXPORTER_OTLP_ENDPOINT set, a real sessiond process exports one server
// span per call, continuing the caller's W3C traceparent, with child spans for memcached commands; the SDK
// sends the caller's context; with no endpoint, no OpenTelemetry module is loaded at all.

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { type Client, credentials, Metadata, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { context, propagation, trace } from "@opentelemetry/api";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { expect } from "chai";
import { createSessionClient } from "../client/index.js";
import { GetRequestSchema, SessionService } from "../gen/sessiond/v1/session_service_pb.js";
import { createServiceDefinition } from "../rpc/service-definition.js";
import { REPO, spawnProcess, startSessiondProcess } from "./helpers/ops-process.js";
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "./helpers/otlp-receiver.js";
import { op, TransactionStreamDriver } from "./helpers/sessiond.js";
import { tracedSessiond } from "./helpers/traced-sessiond.js";

const ns = "Traced";
const SERVER = 2;
const CLIENT = 3;
const RawClient = makeGenericClientConstructor(createServiceDefinition(SessionService), "SessionService");

/** caller makes a W3C traceparent of a new trace, as an upstream service's span would send it. */
function caller() {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

function withTraceparent(traceparent: string): Metadata {
  const metadata = new Metadata();
  metadata.set("traceparent", traceparent);
  return metadata;
}

/** serverSpan waits for the server span of trace `traceId`; answers it with every span received so far. */
async function serverSpan(receiver: OtlpReceiver, traceId: string): Promise<{ spans: ReceivedSpan[]; server: ReceivedSpan }> {
  const isServer = (s: ReceivedSpan) => s.traceId === traceId && s.kind === SERVER;
  const spans = await receiver.waitFor((all) => all.some(isServer));
  return { spans, server: spans.find(isServer)! };
}

const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan) => spans.filter((s) => s.parentSpanId === parent.spanId);

describe("traces (OTEL_EXPORTER_OTLP_ENDPOINT)", function () {
  this.timeout(40_000);
  const t = tracedSessiond();

  it("logs the endpoint it exports to, and the encoding: JSON unless told otherwise", () => {
    const started = t.sessiond.lines.find((l) => l.msg === "sessiond started")!;
    expect(started.tracing).to.equal(`${t.receiver.endpoint}/v1/traces`);
    expect(started.tracingProtocol).to.equal("http/json");
  });

  it("continues the caller's traceparent with a server span, whose children are the memcached commands", async () => {
    const upstream = caller();
    const request = create(GetRequestSchema, { namespace: ns, sessionId: "u1", package: "p" });
    await new Promise<void>((resolve, reject) =>
      t.client.get!(request, withTraceparent(upstream.traceparent), (err: ServiceError | null) =>
        err ? reject(err) : resolve(),
      ),
    );
    const { server } = await serverSpan(t.receiver, upstream.traceId);
    expect(server.name).to.equal("sessiond.v1.SessionService/Get");
    expect(server.parentSpanId).to.equal(upstream.spanId);
    expect(server.service).to.equal("sessiond");
    expect(server.attributes).to.include({ "rpc.system": "grpc", "rpc.method": "Get", "rpc.grpc.status_code": 0 });
    // The reads of the namespace's generation (its copies: 3 keys on one server) and of the session
    // (memcached gets; a new namespace's generation is written with add), each a child span.
    const children = childrenOf(await t.receiver.waitFor((all) => childrenOf(all, server).length >= 2), server);
    for (const child of children) {
      expect(child.traceId).to.equal(upstream.traceId);
      expect(child.kind).to.equal(CLIENT);
      expect(child.name).to.match(/^memcached (gets|add)$/);
      expect(child.attributes).to.include({ "db.system": "memcached", "server.port": t.memcached.port });
    }
    const reads = children.filter((s) => s.name === "memcached gets").map((s) => s.attributes["sessiond.store.keys"]);
    expect(reads, "a batched read is one span listing its key count").to.include(1);
    expect(new Set(t.receiver.encodings)).to.deep.equal(new Set(["json"]));
  });

  it("gives a Transaction stream one span with an event per op, and its commit's writes as children", async () => {
    const upstream = caller();
    const tx = new TransactionStreamDriver(t.client.transaction!(withTraceparent(upstream.traceparent)) as never);
    await tx.send(op("begin", { namespace: ns, sessionId: "tx1" }));
    await tx.send(op("set", { package: "p", data: { v: 1 } }));
    await tx.send(op("savepoint"));
    expect((await tx.send(op("rollback", { savepointId: 99 }))).error?.code).to.equal(5); // NOT_FOUND
    expect((await tx.send(op("commit"))).error).to.equal(undefined);
    await tx.end();
    const { spans, server } = await serverSpan(t.receiver, upstream.traceId);
    expect(server.name).to.equal("sessiond.v1.SessionService/Transaction");
    expect(server.parentSpanId).to.equal(upstream.spanId);
    expect(server.events.map((e) => e.name)).to.deep.equal(["begin", "set", "savepoint", "rollback", "commit"]);
    expect(server.events[3]!.attributes).to.deep.equal({ "rpc.grpc.status_code": 5 });
    expect(server.attributes["sessiond.transaction.ops"]).to.equal(5);
    const children = childrenOf(spans, server).map((s) => s.name);
    expect(children).to.include("memcached gets"); // begin read the session
    expect(children.some((name) => name === "memcached add" || name === "memcached cas")).to.equal(true); // commit wrote it
  });

  it("ends the span of a stream whose deadline passed with DEADLINE_EXCEEDED, as an error", async () => {
    const upstream = caller();
    const late = new TransactionStreamDriver(
      t.client.transaction!(withTraceparent(upstream.traceparent), { deadline: new Date(Date.now() + 300) }) as never,
    );
    await late.send(op("begin", { namespace: ns, sessionId: "late" }));
    expect((await late.ended).code).to.equal(4); // DEADLINE_EXCEEDED
    const { server } = await serverSpan(t.receiver, upstream.traceId);
    expect(server.attributes["rpc.grpc.status_code"]).to.equal(4);
    expect(server.status.code).to.equal(2); // ERROR
    expect(server.events.map((e) => e.name)).to.deep.equal(["begin"]);
  });

  describe("the SDK", () => {
    let provider: NodeTracerProvider;
    before(() => {
      // The caller's own OpenTelemetry setup: context manager and W3C propagator registered globally.
      provider = new NodeTracerProvider();
      provider.register();
    });
    after(async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    });

    it("sends the caller's active span as traceparent, for one-shot calls and transactions", async () => {
      const sdk = createSessionClient(t.sessiond.address);
      const tracer = provider.getTracer("caller");
      try {
        const unary = await tracer.startActiveSpan("checkout", async (span) => {
          await sdk.session(ns, "sdk").set("cart", { items: 1 });
          span.end();
          return span.spanContext();
        });
        const transaction = await tracer.startActiveSpan("pay", async (span) => {
          await sdk.transaction(ns, "sdk", async (tx) => {
            tx.set("cart", { paid: true });
          });
          span.end();
          return span.spanContext();
        });
        expect(transaction.traceId).to.not.equal(unary.traceId);
        const spans = await t.receiver.waitFor(
          (all) => all.filter((s) => s.kind === SERVER && [unary.traceId, transaction.traceId].includes(s.traceId)).length >= 2,
        );
        const set = spans.find((s) => s.traceId === unary.traceId && s.kind === SERVER)!;
        expect(set.name).to.equal("sessiond.v1.SessionService/Set");
        expect(set.parentSpanId).to.equal(unary.spanId);
        const tx = spans.find((s) => s.traceId === transaction.traceId && s.kind === SERVER)!;
        expect(tx.name).to.equal("sessiond.v1.SessionService/Transaction");
        expect(tx.parentSpanId).to.equal(transaction.spanId);
      } finally {
        sdk.close();
      }
    });
  });
});

describe("traces as protobuf (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)", function () {
  this.timeout(40_000);
  const t = tracedSessiond({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" });

  it("exports the same spans, encoded as protobuf: a server span continuing the caller, memcached children", async () => {
    expect(t.sessiond.lines.find((l) => l.msg === "sessiond started")!.tracingProtocol).to.equal("http/protobuf");
    const upstream = caller();
    const tx = new TransactionStreamDriver(t.client.transaction!(withTraceparent(upstream.traceparent)) as never);
    await tx.send(op("begin", { namespace: ns, sessionId: "proto" }));
    await tx.send(op("set", { package: "p", data: { v: 1 } }));
    expect((await tx.send(op("commit"))).error).to.equal(undefined);
    await tx.end();
    const { server } = await serverSpan(t.receiver, upstream.traceId);
    expect(server.name).to.equal("sessiond.v1.SessionService/Transaction");
    expect(server.parentSpanId).to.equal(upstream.spanId);
    expect(server.service).to.equal("sessiond");
    expect(server.attributes).to.include({ "rpc.system": "grpc", "rpc.grpc.status_code": 0, "sessiond.transaction.ops": 3 });
    expect(server.events.map((e) => e.name)).to.deep.equal(["begin", "set", "commit"]);
    const children = childrenOf(await t.receiver.waitFor((all) => childrenOf(all, server).length >= 2), server);
    expect(children.map((c) => c.kind)).to.satisfy((kinds: number[]) => kinds.every((k) => k === CLIENT));
    expect(children.map((c) => c.name)).to.include("memcached gets");
    expect(children[0]!.attributes).to.include({ "db.system": "memcached", "server.port": t.memcached.port });
    expect(new Set(t.receiver.encodings)).to.deep.equal(new Set(["protobuf"]));
  });

  it("refuses to start (exit 2) with a protocol it cannot send, naming the variable", async () => {
    const refused = spawnProcess(process.execPath, ["--import", "tsx", "server/main.ts", "serve", "--listen", "127.0.0.1:0"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: t.receiver.endpoint,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc",
    });
    expect((await refused.waitForExit(20_000)).code).to.equal(2);
    expect(refused.stderr()).to.match(/OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc is not supported.*http\/protobuf/);
  });
});

describe("traces to an endpoint that is down", function () {
  this.timeout(30_000);

  it("serves calls all the same, and still drains and exits 0, logging the spans it could not export", async () => {
    const closed = await startOtlpReceiver();
    const url = `${closed.endpoint}/v1/traces`;
    await closed.close(); // nothing listens there any more
    const sessiond = await startSessiondProcess([], { env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url } });
    const client = new RawClient(sessiond.address, credentials.createInsecure()) as Client &
      Record<string, (...args: unknown[]) => unknown>;
    try {
      const request = create(GetRequestSchema, { namespace: ns, sessionId: "down", package: "p" });
      for (let i = 0; i < 3; i++) {
        await new Promise<void>((resolve, reject) =>
          client.get!(request, (err: ServiceError | null) => (err ? reject(err) : resolve())),
        );
      }
    } finally {
      client.close();
    }
    const stopping = Date.now();
    sessiond.child.kill("SIGTERM");
    expect(await sessiond.waitForExit()).to.deep.equal({ code: 0, signal: null });
    expect(Date.now() - stopping).to.be.below(8000); // not the exporter's 10 s of retries
    expect(sessiond.lines.some((l) => l.level === "warn" && /opentelemetry/.test(String(l.msg)))).to.equal(true);
  });
});

describe("traces off (no OTLP endpoint)", function () {
  this.timeout(30_000);
  // A fresh process builds sessiond's telemetry as `sessiond serve` does and lists the OpenTelemetry
  // modules it loaded (they are CommonJS, so each lands in require.cache).
  const loadedModules = async (env: NodeJS.ProcessEnv) => {
    const script = [
      'import { createRequire } from "node:module";',
      'import { pino } from "pino";',
      'import { createTelemetry } from "./server/telemetry/telemetry.ts";',
      "const t = await createTelemetry({ metrics: undefined, clusterWorker: false, env: process.env }, pino({ level: 'silent' }));",
      'const cache = createRequire(process.cwd() + "/").cache;',
      "const otel = Object.keys(cache).filter((p) => p.includes('/@opentelemetry/')).map((p) => p.split('/@opentelemetry/')[1].split('/')[0]);",
      "const promClient = Object.keys(cache).some((p) => p.includes('/prom-client/'));",
      "console.log(JSON.stringify({ interceptors: t.interceptors.length, otel: [...new Set(otel)].sort(), promClient }));",
      "await t.close();",
    ].join("\n");
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: REPO,
      env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: "", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "", ...env },
    });
    return JSON.parse(stdout.trim().split("\n").at(-1)!) as { interceptors: number; otel: string[]; promClient: boolean };
  };

  it("loads no OpenTelemetry module and adds no interceptor, while an endpoint loads the exporter", async () => {
    expect(await loadedModules({})).to.deep.equal({ interceptors: 0, otel: [], promClient: false });
    const on = await loadedModules({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:9/v1/traces" });
    expect(on.interceptors).to.equal(1);
    expect(on.otel).to.include.members(["exporter-trace-otlp-http", "sdk-trace-node"]);
  });
});
