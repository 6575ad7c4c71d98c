import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";

/** MetricsServer is the plain HTTP server that answers Prometheus scrapes at `/metrics`. */
export interface MetricsServer {
  /** address is the HOST:PORT it listens on (the port it was given, or the one picked for port 0). */
  readonly address: string;
  /** close stops listening and ends idle keep-alive connections; resolves once closed. */
  close(): Promise<void>;
}

/** MetricsSource renders the exposition text for one scrape. */
export interface MetricsSource {
  contentType: string;
  metrics(): Promise<string>;
}

/**
 * serveMetrics listens on `address` (HOST:PORT; `[::1]:9464` for IPv6; port 0 picks a free one) with a
 * node:http server: GET (or HEAD) `/metrics` answers the source's text, any other path 404, any other method
 * on `/metrics` 405. A source that fails (e.g. a cluster worker that does not answer in time) answers 503
 * and logs a warning.
 */
export async function serveMetrics(address: string, source: MetricsSource, logger: Logger): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: metrics are at /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("use GET\n");
      return;
    }
    source.metrics().then(
      (text) => res.writeHead(200, { "content-type": source.contentType }).end(req.method === "HEAD" ? undefined : text),
      (err: unknown) => {
        logger.warn({ err: (err as Error).message }, "metrics scrape failed");
        res.writeHead(503, { "content-type": "text/plain" }).end("metrics unavailable, retry\n");
      },
    );
  });
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon).replace(/^\[|\]$/g, "");
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(address.slice(colon + 1)), host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    address: `${address.slice(0, colon)}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
