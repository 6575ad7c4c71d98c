import type { Socket } from "node:net";
import { connect } from "node:net";
import type { BidiStream, GrpcConnection } from "./grpc-wire.js";
import { FrameDecoder, GrpcCallError, MessageInbox } from "./grpc-wire.js";
import type { FrameHeader } from "./h2-frames.js";
import {
  clientPreface,
  DEFAULT_WINDOW,
  FLAG,
  FRAME,
  FrameReader,
  frame,
  requestHeaderBlock,
  SETTINGS_INITIAL_WINDOW_SIZE,
  windowUpdate,
} from "./h2-frames.js";

/** Internal: one HTTP/2 stream (a gRPC call) of the connection. */
interface Call {
  id: number;
  sendWindow: number;
  received: number;
  decoder?: FrameDecoder;
  onMessage(message: Buffer): void;
  onEnd(error?: Error): void;
}

/** Internal: bytes waiting for flow-control window, in order. */
interface Blocked {
  call: Call;
  bytes: Buffer;
  endStream: boolean;
}

const MAX_DATA_FRAME = 16_384;
const REPLENISH_AT = 1 << 30;

/**
 * RawH2Connection is the default load client: gRPC over one TCP socket speaking just enough HTTP/2 by
 * hand. Request headers are one HPACK block built once per path; responses are never HPACK-decoded
 * (a unary call succeeds when it carried a response message: a failed one ends with trailers only, its
 * status unread); all frames written in one tick go out in one socket write. It honours the server's flow
 * control, acks SETTINGS and PING, and opens its own windows to the maximum. About a third of node:http2's
 * per-call CPU (see bench/README.md).
 */
export class RawH2Connection implements GrpcConnection {
  private readonly calls = new Map<number, Call>();
  private readonly blocks = new Map<string, Buffer>();
  private readonly reader = new FrameReader((f) => this.onFrame(f));
  private nextId = 1;
  private sendWindow = DEFAULT_WINDOW;
  private initialWindow = DEFAULT_WINDOW;
  private received = 0;
  private blocked: Blocked[] = [];
  private out: Buffer[] = [];
  private failure: Error | undefined;
  private settled: (() => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly authority: string,
    private readonly traceparent: string | undefined,
  ) {
    socket.on("data", (chunk: Buffer) => this.reader.push(chunk));
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.fail(new GrpcCallError(14, "connection closed")));
  }

  /**
   * open connects to 127.0.0.1:port (Nagle off) and resolves once the server's first SETTINGS arrived; every
   * call then carries `traceparent` when given.
   */
  static open(port: number, traceparent?: string): Promise<RawH2Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port, noDelay: true });
      const connection = new RawH2Connection(socket, `127.0.0.1:${port}`, traceparent);
      socket.once("error", reject);
      connection.settled = () => {
        socket.off("error", reject);
        resolve(connection);
      };
      socket.once("connect", () => connection.send(clientPreface()));
    });
  }

  unary(path: string, requestFrame: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let response: Buffer | undefined;
      const call = this.openCall(path, {
        onMessage: (message) => (response ??= message),
        onEnd: (error) => {
          if (error) reject(error);
          else if (response) resolve(response);
          else reject(new GrpcCallError(-1, "call ended without a response message (non-OK grpc-status)"));
        },
      });
      this.sendData(call, requestFrame, true);
    });
  }

  bidi(path: string): BidiStream {
    const inbox = new MessageInbox();
    const call = this.openCall(path, {
      onMessage: (message) => inbox.push(message),
      onEnd: (error) => inbox.fail(error ?? new GrpcCallError(0, "stream ended")),
    });
    return {
      write: (frames) => this.sendData(call, frames, false),
      read: (count) => inbox.read(count),
      close: () => this.sendData(call, Buffer.alloc(0), true),
    };
  }

  close(): void {
    this.socket.destroy();
  }

  private openCall(path: string, handlers: Pick<Call, "onMessage" | "onEnd">): Call {
    const call: Call = { id: this.nextId, sendWindow: this.initialWindow, received: 0, ...handlers };
    this.nextId += 2;
    if (this.failure) {
      queueMicrotask(() => call.onEnd(this.failure));
      return call;
    }
    let block = this.blocks.get(path);
    if (!block) {
      block = requestHeaderBlock(path, this.authority, this.traceparent);
      this.blocks.set(path, block);
    }
    this.calls.set(call.id, call);
    this.send(frame(FRAME.HEADERS, FLAG.END_HEADERS, call.id, block));
    return call;
  }

  private sendData(call: Call, bytes: Buffer, endStream: boolean): void {
    if (this.blocked.length > 0 || bytes.length > Math.min(this.sendWindow, call.sendWindow)) {
      this.blocked.push({ call, bytes, endStream });
      return;
    }
    this.sendWindow -= bytes.length;
    call.sendWindow -= bytes.length;
    for (let offset = 0; offset < bytes.length || offset === 0; offset += MAX_DATA_FRAME) {
      const last = offset + MAX_DATA_FRAME >= bytes.length;
      this.send(
        frame(FRAME.DATA, last && endStream ? FLAG.END_STREAM : 0, call.id, bytes.subarray(offset, offset + MAX_DATA_FRAME)),
      );
      if (last) break;
    }
  }

  private drain(): void {
    const waiting = this.blocked;
    this.blocked = [];
    for (const { call, bytes, endStream } of waiting) this.sendData(call, bytes, endStream);
  }

  /** Internal: queues bytes; everything queued in this tick is written at once. */
  private send(bytes: Buffer): void {
    this.out.push(bytes);
    if (this.out.length === 1) process.nextTick(() => this.flush());
  }

  private flush(): void {
    const out = this.out;
    this.out = [];
    if (!this.socket.destroyed) this.socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out));
  }

  private onFrame(f: FrameHeader): void {
    const call = this.calls.get(f.streamId);
    switch (f.type) {
      case FRAME.DATA:
        this.onData(f, call);
        break;
      case FRAME.HEADERS:
        if (call && f.flags & FLAG.END_STREAM) this.end(call);
        break;
      case FRAME.RST_STREAM:
        if (call) this.end(call, new GrpcCallError(-1, `stream reset (HTTP/2 error ${f.payload.readUInt32BE(0)})`));
        break;
      case FRAME.SETTINGS:
        if (!(f.flags & FLAG.ACK)) this.onSettings(f.payload);
        break;
      case FRAME.PING:
        if (!(f.flags & FLAG.ACK)) this.send(frame(FRAME.PING, FLAG.ACK, 0, Buffer.from(f.payload)));
        break;
      case FRAME.WINDOW_UPDATE: {
        const increment = f.payload.readUInt32BE(0) & 0x7fffffff;
        if (f.streamId === 0) this.sendWindow += increment;
        else if (call) call.sendWindow += increment;
        this.drain();
        break;
      }
      case FRAME.GOAWAY:
        this.fail(new GrpcCallError(14, `server sent GOAWAY (HTTP/2 error ${f.payload.readUInt32BE(4)})`));
    }
  }

  private onData(f: FrameHeader, call: Call | undefined): void {
    this.received += f.payload.length;
    if (this.received >= REPLENISH_AT) {
      this.send(windowUpdate(0, this.received));
      this.received = 0;
    }
    if (!call) return;
    call.received += f.payload.length;
    if (call.received >= REPLENISH_AT) {
      this.send(windowUpdate(call.id, call.received));
      call.received = 0;
    }
    const payload = f.payload;
    if (!call.decoder && payload.length >= 5 && payload.readUInt32BE(1) + 5 === payload.length)
      call.onMessage(payload.subarray(5));
    else if (payload.length > 0) {
      call.decoder ??= new FrameDecoder((message) => call.onMessage(message));
      call.decoder.push(payload);
    }
    if (f.flags & FLAG.END_STREAM) this.end(call);
  }

  private onSettings(payload: Buffer): void {
    for (let i = 0; i + 6 <= payload.length; i += 6) {
      if (payload.readUInt16BE(i) !== SETTINGS_INITIAL_WINDOW_SIZE) continue;
      const value = payload.readUInt32BE(i + 2);
      for (const call of this.calls.values()) call.sendWindow += value - this.initialWindow;
      this.initialWindow = value;
    }
    this.send(frame(FRAME.SETTINGS, FLAG.ACK, 0));
    this.drain();
    this.settled?.();
    this.settled = undefined;
  }

  private end(call: Call, error?: Error): void {
    this.calls.delete(call.id);
    call.onEnd(error);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const call of [...this.calls.values()]) this.end(call, error);
  }
}
