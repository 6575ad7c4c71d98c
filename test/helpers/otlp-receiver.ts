// An OTLP/HTTP trace receiver in the test process: it accepts what OpenTelemetry's OTLP/HTTP exporters post
// (JSON from @opentelemetry/exporter-trace-otlp-http, protobuf from -otlp-proto) and keeps the spans, flattened.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { BinaryReader } from "@bufbuild/protobuf/wire";

/** ReceivedSpan is one span as exported, with attributes flattened to plain values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** kind is OTLP's number: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  status: { code?: number; message?: string };
  /** service is the resource's service.name. */
  service: unknown;
}

/** OtlpReceiver listens on a free loopback port; point OTEL_EXPORTER_OTLP_ENDPOINT at `endpoint`. */
export interface OtlpReceiver {
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  /** encodings lists each export request's body encoding, in order: "json" or "protobuf". */
  readonly encodings: string[];
  /** waitFor resolves with the spans once `ready(spans)` holds; rejects after timeoutMs. */
  waitFor(ready: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

type OtlpValue = { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number };
type OtlpAttribute = { key: string; value: OtlpValue };

function flatten(attributes: OtlpAttribute[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of attributes ?? []) {
    out[key] =
      value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : (value.boolValue ?? value.doubleValue));
  }
  return out;
}

/** startOtlpReceiver starts the receiver; POSTs to /v1/traces other than OTLP JSON or protobuf answer 415. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const encodings: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/traces") return void res.writeHead(404).end();
      const type = String(req.headers["content-type"]);
      const body = Buffer.concat(chunks);
      if (type.startsWith("application/json")) {
        spans.push(...fromJson(body.toString("utf8")));
        encodings.push("json");
        return void res.writeHead(200, { "content-type": "application/json" }).end("{}");
      }
      if (type.startsWith("application/x-protobuf")) {
        spans.push(...fromProtobuf(body));
        encodings.push("protobuf");
        return void res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      }
      res.writeHead(415).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    encodings,
    async waitFor(ready, timeoutMs = 10_000) {
      for (const deadline = Date.now() + timeoutMs; !ready(spans); ) {
        if (Date.now() > deadline) throw new Error(`spans not received in time; got ${JSON.stringify(spans.map((s) => s.name))}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return spans;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// fromJson reads an ExportTraceServiceRequest in OTLP's JSON mapping (ids in hex).
function fromJson(body: string): ReceivedSpan[] {
  const payload = JSON.parse(body) as {
    resourceSpans: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans: { spans: Record<string, unknown>[] }[] }[];
  };
  const out: ReceivedSpan[] = [];
  for (const rs of payload.resourceSpans) {
    const service = flatten(rs.resource?.attributes)["service.name"];
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        out.push({
          traceId: s.traceId as string,
          spanId: s.spanId as string,
          parentSpanId: (s.parentSpanId as string | undefined) ?? "",
          name: s.name as string,
          kind: s.kind as number,
          attributes: flatten(s.attributes as OtlpAttribute[]),
          events: ((s.events as { name: string; attributes?: OtlpAttribute[] }[] | undefined) ?? []).map((e) => ({
            name: e.name,
            attributes: flatten(e.attributes),
          })),
          status: (s.status as ReceivedSpan["status"]) ?? {},
          service,
        });
      }
    }
  }
  return out;
}

// fields reads the fields of one protobuf message, handing each of `read`'s numbers to its reader and
// skipping the others (the field numbers are those of opentelemetry-proto's trace and common protos).
function fields(bytes: Uint8Array, read: Record<number, (reader: BinaryReader) => void>): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    const field = read[no];
    if (field === undefined) reader.skip(wireType);
    else field(reader);
  }
}

// keyValue reads a KeyValue (key 1, AnyValue 2: string 1, bool 2, int 3, double 4) into `into`.
function keyValue(bytes: Uint8Array, into: Record<string, unknown>): void {
  let key = "";
  let value: unknown;
  fields(bytes, {
    1: (r) => {
      key = r.string();
    },
    2: (r) =>
      fields(r.bytes(), {
        1: (v) => {
          value = v.string();
        },
        2: (v) => {
          value = v.bool();
        },
        3: (v) => {
          value = Number(v.int64());
        },
        4: (v) => {
          value = v.double();
        },
      }),
  });
  into[key] = value;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

// fromProtobuf reads an ExportTraceServiceRequest in protobuf: ResourceSpans 1 { Resource 1 { attributes
// 1 }, ScopeSpans 2 { Span 2 } }; Span: trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6,
// attributes 9, events 11 { name 2, attributes 3 }, status 15 { message 2, code 3 }.
function fromProtobuf(body: Uint8Array): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  fields(body, {
    1: (request) => {
      const resource: Record<string, unknown> = {};
      const found: ReceivedSpan[] = [];
      fields(request.bytes(), {
        1: (r) => fields(r.bytes(), { 1: (a) => keyValue(a.bytes(), resource) }),
        2: (scopeSpans) =>
          fields(scopeSpans.bytes(), {
            2: (spanBytes) => {
              const span: ReceivedSpan = {
                traceId: "",
                spanId: "",
                parentSpanId: "",
                name: "",
                kind: 0,
                attributes: {},
                events: [],
                status: {},
                service: undefined,
              };
              fields(spanBytes.bytes(), {
                1: (r) => {
                  span.traceId = hex(r.bytes());
                },
                2: (r) => {
                  span.spanId = hex(r.bytes());
                },
                4: (r) => {
                  span.parentSpanId = hex(r.bytes());
                },
                5: (r) => {
                  span.name = r.string();
                },
                6: (r) => {
                  span.kind = r.int32();
                },
                9: (r) => keyValue(r.bytes(), span.attributes),
                11: (r) => {
                  const event = { name: "", attributes: {} as Record<string, unknown> };
                  fields(r.bytes(), {
                    2: (e) => {
                      event.name = e.string();
                    },
                    3: (e) => keyValue(e.bytes(), event.attributes),
                  });
                  span.events.push(event);
                },
                15: (r) =>
                  fields(r.bytes(), {
                    2: (st) => {
                      span.status.message = st.string();
                    },
                    3: (st) => {
                      span.status.code = st.int32();
                    },
                  }),
              });
              found.push(span);
            },
          }),
      });
      for (const span of found) out.push({ ...span, service: resource["service.name"] });
    },
  });
  return out;
}
