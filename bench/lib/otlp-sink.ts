import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** OtlpSink is a local OTLP/HTTP endpoint that accepts spans and drops them, counting the requests. */
export interface OtlpSink {
  /** endpoint is the base URL to set as OTEL_EXPORTER_OTLP_ENDPOINT (`http://127.0.0.1:port`). */
  readonly endpoint: string;
  /** requests counts the export requests received (each a batch of spans). */
  readonly requests: () => number;
  close(): Promise<void>;
}

/**
 * startOtlpSink listens on a free loopback port in the bench process and answers every POST with 200 `{}`
 * after reading its body, as a collector would: the traced rows pay for making, batching, encoding and
 * sending their spans, not for storing them.
 */
export async function startOtlpSink(): Promise<OtlpSink> {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      requests++;
      // An empty ExportTraceServiceResponse, in the encoding of the request.
      if (String(req.headers["content-type"]).startsWith("application/x-protobuf")) {
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      } else res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
