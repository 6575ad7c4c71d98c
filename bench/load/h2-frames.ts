/**
 * h2-frames encodes and parses the few HTTP/2 frames (RFC 9113) the raw load client needs, and the one
 * request header block it sends, in HPACK (RFC 7541) without the dynamic table or Huffman coding, so
 * that it can be built once per path and never decoded state is needed.
 */

/** FRAME are the HTTP/2 frame types. */
export const FRAME = {
  DATA: 0x0,
  HEADERS: 0x1,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
} as const;

/** FLAG are the HTTP/2 frame flags the client uses (ACK shares END_STREAM's bit on SETTINGS and PING). */
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/** SETTINGS_INITIAL_WINDOW_SIZE is the settings id of a peer's initial stream window. */
export const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;

/** MAX_WINDOW is the largest flow-control window HTTP/2 allows (2^31 - 1). */
export const MAX_WINDOW = 0x7fffffff;

/** DEFAULT_WINDOW is HTTP/2's initial window before SETTINGS change it. */
export const DEFAULT_WINDOW = 65_535;

/** frame builds one HTTP/2 frame: a 9-byte header (length, type, flags, stream id) and the payload. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId & MAX_WINDOW, 5);
  payload.copy(out, 9);
  return out;
}

/** windowUpdate is a WINDOW_UPDATE frame granting `increment` bytes on a stream (0: the connection). */
export function windowUpdate(streamId: number, increment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment, 0);
  return frame(FRAME.WINDOW_UPDATE, 0, streamId, payload);
}

/**
 * clientPreface is what opens the connection: the preface string, SETTINGS (push off; the largest
 * initial stream window, so the server never waits on a stream) and a WINDOW_UPDATE opening the
 * connection window to its largest.
 */
export function clientPreface(): Buffer {
  const settings = Buffer.alloc(12);
  settings.writeUInt16BE(0x2, 0); // ENABLE_PUSH
  settings.writeUInt32BE(0, 2);
  settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 6);
  settings.writeUInt32BE(MAX_WINDOW, 8);
  return Buffer.concat([
    Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"),
    frame(FRAME.SETTINGS, 0, 0, settings),
    windowUpdate(0, MAX_WINDOW - DEFAULT_WINDOW),
  ]);
}

function hpackInteger(value: number, prefixBits: number, firstByte: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const out = [firstByte | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

function hpackString(text: string): number[] {
  const bytes = [...Buffer.from(text, "latin1")];
  return [...hpackInteger(bytes.length, 7, 0), ...bytes];
}

/** Internal: a "literal header field without indexing" with the name from the static table (index) or literal. */
function literal(name: number | string, value: string): number[] {
  const head = typeof name === "number" ? hpackInteger(name, 4, 0) : [0, ...hpackString(name)];
  return [...head, ...hpackString(value)];
}

/**
 * requestHeaderBlock is the HPACK block of a gRPC request: `:method POST`, `:scheme http` (static
 * table entries), `:path`, `:authority`, `content-type: application/grpc` and `te: trailers` as literals
 * that are never indexed, so the block is the same for every call on every connection; with `traceparent`,
 * that header too (a W3C trace context, as an upstream service's client sends it).
 */
export function requestHeaderBlock(path: string, authority: string, traceparent?: string): Buffer {
  return Buffer.from([
    0x83, // :method POST (static index 3)
    0x86, // :scheme http (static index 6)
    ...literal(4, path),
    ...literal(1, authority),
    ...literal(31, "application/grpc"),
    ...literal("te", "trailers"),
    ...(traceparent === undefined ? [] : literal("traceparent", traceparent)),
  ]);
}

/** FrameHeader is one parsed frame; `payload` is a view into the read buffer (padding removed for DATA). */
export interface FrameHeader {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/**
 * FrameReader splits the bytes read from the socket into HTTP/2 frames and hands each to `onFrame`.
 */
export class FrameReader {
  private pending: Buffer | undefined;

  constructor(private readonly onFrame: (frame: FrameHeader) => void) {}

  /** push adds bytes read from the socket. */
  push(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    while (buf.length - offset >= 9) {
      const length = buf.readUIntBE(offset, 3);
      if (buf.length - offset < 9 + length) break;
      const type = buf[offset + 3] as number;
      const flags = buf[offset + 4] as number;
      const streamId = buf.readUInt32BE(offset + 5) & MAX_WINDOW;
      let payload = buf.subarray(offset + 9, offset + 9 + length);
      if (type === FRAME.DATA && flags & FLAG.PADDED) payload = payload.subarray(1, payload.length - (payload[0] as number));
      this.onFrame({ type, flags, streamId, payload });
      offset += 9 + length;
    }
    buf = buf.subarray(offset);
    this.pending = buf.length > 0 ? Buffer.from(buf) : undefined;
  }
}
