import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";
import { connect, constants } from "node:http2";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { SecureClient } from "../lib/workload.js";
import type { BidiStream, GrpcConnection } from "./grpc-wire.js";
import { FrameDecoder, GrpcCallError, MessageInbox } from "./grpc-wire.js";

function requestHeaders(path: string, token: string | undefined): OutgoingHttpHeaders {
  return {
    [constants.HTTP2_HEADER_METHOD]: "POST",
    [constants.HTTP2_HEADER_PATH]: path,
    [constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
    [constants.HTTP2_HEADER_TE]: "trailers",
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  };
}

function statusOf(headers: IncomingHttpHeaders): GrpcCallError | undefined {
  const code = Number(headers["grpc-status"] ?? 0);
  return code === 0 ? undefined : new GrpcCallError(code, String(headers["grpc-message"] ?? ""));
}

/** Internal: a bidi call over a `node:http2` stream. */
class NodeH2Bidi implements BidiStream {
  private readonly inbox = new MessageInbox();

  constructor(private readonly stream: ClientHttp2Stream) {
    const decoder = new FrameDecoder((message) => this.inbox.push(message));
    const fail = (error: Error | undefined) => error && this.inbox.fail(error);
    stream.on("data", (chunk: Buffer) => decoder.push(chunk));
    stream.on("response", (headers) => fail(statusOf(headers)));
    stream.on("trailers", (headers) => fail(statusOf(headers) ?? new GrpcCallError(0, "stream ended")));
    stream.on("error", (error: Error) => fail(error));
    stream.on("close", () => fail(new GrpcCallError(-1, "stream closed")));
  }

  write(frames: Buffer): void {
    this.stream.write(frames);
  }

  read(count: number): Promise<Buffer[]> {
    return this.inbox.read(count);
  }

  close(): void {
    this.stream.end();
  }
}

/**
 * NodeH2Connection is a gRPC client over one `node:http2` session that sends pre-encoded frames: no
 * per-call serialization, interceptors or deadlines, and it reads grpc-status from the trailers. Its
 * per-call cost is node's Http2Stream machinery (`--client node-h2`; the default `raw` is leaner).
 */
export class NodeH2Connection implements GrpcConnection {
  private readonly headers = new Map<string, OutgoingHttpHeaders>();

  private constructor(
    private readonly session: ClientHttp2Session,
    private readonly token: string | undefined,
  ) {}

  /**
   * open connects to 127.0.0.1:port (Nagle off) and resolves once the server's SETTINGS arrived. With
   * `secure`, over TLS (server name "localhost", trusting `secure.ca`), sending `secure.token` on every call.
   */
  static open(port: number, secure?: SecureClient): Promise<NodeH2Connection> {
    return new Promise((resolve, reject) => {
      const createConnection =
        secure?.ca === undefined
          ? () => netConnect({ host: "127.0.0.1", port, noDelay: true })
          : () =>
              tlsConnect({
                socket: netConnect({ host: "127.0.0.1", port, noDelay: true }),
                ca: secure.ca,
                servername: "localhost",
                ALPNProtocols: ["h2"],
              });
      const scheme = secure?.ca === undefined ? "http" : "https";
      const session = connect(`${scheme}://127.0.0.1:${port}`, { maxSessionMemory: 1024, createConnection });
      session.once("error", reject);
      session.once("remoteSettings", () => {
        session.off("error", reject);
        session.on("error", () => undefined); // each call reports its own failure
        resolve(new NodeH2Connection(session, secure?.token));
      });
    });
  }

  unary(path: string, frame: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const stream = this.session.request(this.headersFor(path));
      const chunks: Buffer[] = [];
      let status: IncomingHttpHeaders | undefined;
      const onHeaders = (headers: IncomingHttpHeaders) => {
        if (headers["grpc-status"] !== undefined) status = headers;
      };
      stream.on("response", onHeaders);
      stream.on("trailers", onHeaders);
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", reject);
      stream.on("close", () => {
        const error = status ? statusOf(status) : new GrpcCallError(-1, "no grpc-status");
        if (error) return reject(error);
        const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
        resolve(body.subarray(5));
      });
      stream.end(frame);
    });
  }

  bidi(path: string): BidiStream {
    return new NodeH2Bidi(this.session.request(this.headersFor(path), { endStream: false }));
  }

  close(): void {
    this.session.destroy();
  }

  private headersFor(path: string): OutgoingHttpHeaders {
    let headers = this.headers.get(path);
    if (!headers) {
      headers = requestHeaders(path, this.token);
      this.headers.set(path, headers);
    }
    return headers;
  }
}
