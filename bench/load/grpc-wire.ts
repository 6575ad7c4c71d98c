/**
 * grpc-wire holds what both lean gRPC clients share: the length-prefixed message framing, the
 * connection and stream interfaces the drivers program against, and the in-order inbox of a bidi call.
 */

/**
 * grpcFrame wraps one serialized protobuf message in a gRPC length-prefixed frame: a 0 byte (not
 * compressed) and the length as a big-endian uint32, then the bytes. Build frames once, send them many times.
 */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.byteLength);
  frame[0] = 0;
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, 5);
  return frame;
}

/** GrpcCallError is a call that failed: a non-zero grpc-status, a reset stream or a lost connection. */
export class GrpcCallError extends Error {
  override name = "GrpcCallError";
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`gRPC call failed (${code}): ${details}`);
  }
}

/** BidiStream is one open bidi-streaming call. */
export interface BidiStream {
  /** write sends bytes: one or several concatenated gRPC frames. */
  write(frames: Buffer): void;
  /** read resolves with the next `count` response messages, in order (one reader at a time). */
  read(count: number): Promise<Buffer[]>;
  /** close half-closes the request side. */
  close(): void;
}

/** GrpcConnection is one HTTP/2 connection of a lean gRPC client that sends pre-encoded frames. */
export interface GrpcConnection {
  /** unary sends one request frame on `path` and resolves with the response message (no prefix). */
  unary(path: string, frame: Buffer): Promise<Buffer>;
  /** bidi opens a bidi-streaming call on `path`. */
  bidi(path: string): BidiStream;
  /** close ends the connection; open calls fail. */
  close(): void;
}

/**
 * FrameDecoder splits a byte stream (HTTP/2 DATA payloads of one call) into gRPC message payloads,
 * handing each to `onMessage` as a view without its 5-byte prefix.
 */
export class FrameDecoder {
  private pending: Buffer | undefined;

  constructor(private readonly onMessage: (message: Buffer) => void) {}

  /** push adds the next bytes of the call; whole messages are delivered at once. */
  push(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 5) {
      const length = buf.readUInt32BE(1);
      if (buf.length < 5 + length) break;
      this.onMessage(buf.subarray(5, 5 + length));
      buf = buf.subarray(5 + length);
    }
    this.pending = buf.length > 0 ? Buffer.from(buf) : undefined;
  }
}

/**
 * MessageInbox queues a bidi call's response messages and hands them to one waiting `read(count)` in
 * order; `fail` rejects the waiting read and every later read that cannot be served from the queue.
 */
export class MessageInbox {
  private queue: Buffer[] = [];
  private waiter: { count: number; resolve: (messages: Buffer[]) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  /** push delivers one response message. */
  push(message: Buffer): void {
    this.queue.push(message);
    this.deliver();
  }

  /** read resolves with the next `count` messages. */
  read(count: number): Promise<Buffer[]> {
    if (this.failure && this.queue.length < count) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { count, resolve, reject };
      this.deliver();
    });
  }

  /** fail ends the inbox with `error` (the first failure wins). */
  fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }

  private deliver(): void {
    const waiter = this.waiter;
    if (!waiter || this.queue.length < waiter.count) return;
    this.waiter = undefined;
    waiter.resolve(this.queue.splice(0, waiter.count));
  }
}
