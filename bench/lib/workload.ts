import type { JsonObject } from "@bufbuild/protobuf";

/** NAMESPACE is the session namespace every bench row uses. */
export const NAMESPACE = "bench";

/** PACKAGE is the package inside each session that rows read and write. */
export const PACKAGE = "app";

/** PAYLOAD_KEYS is how many string keys the ~1 KB package holds. */
export const PAYLOAD_KEYS = 8;

/**
 * sessionPayload is the ~1 KB package every session is seeded with: PAYLOAD_KEYS string keys of 110
 * characters each (1,016 bytes as a protobuf Struct, ~1 KB as JSON in express-session).
 */
export function sessionPayload(): JsonObject {
  const data: JsonObject = {};
  for (let i = 0; i < PAYLOAD_KEYS; i++) {
    data[`k${i}`] = String.fromCharCode(97 + i).repeat(110);
  }
  return data;
}

/** SMALL_WRITE is the one key a Set or a transaction's set writes: a counter-sized value. */
export const SMALL_WRITE: JsonObject = { visits: 42 };

/** SHARED_SESSIONS is how many pre-seeded sessions the read rows spread their Gets over. */
export const SHARED_SESSIONS = 256;

/**
 * sharedSessionId names one of the `count` shared sessions (SHARED_SESSIONS unless the row says otherwise)
 * read by Get rows (seeded once per row).
 */
export function sharedSessionId(index: number, count = SHARED_SESSIONS): string {
  return `shared-${index % count}`;
}

/**
 * clientSessionId names the session owned by one virtual client of one load process, so that writes of
 * different virtual clients never conflict. `salt` keeps runs and rows apart in the same memcached.
 */
export function clientSessionId(salt: string, processIndex: number, clientIndex: number): string {
  return `c-${salt}-${processIndex}-${clientIndex}`;
}

/**
 * GrpcClientKind is the gRPC load client: `raw` HTTP/2 by hand over a socket (default, leanest),
 * `node-h2` over `node:http2`, both sending pre-encoded frames; or `grpc-js` (unary rows only: the
 * stream rows then use `raw`).
 */
export type GrpcClientKind = "raw" | "node-h2" | "grpc-js";

/** ServerKind names the server kinds a row can run against. */
export type ServerKind =
  | "grpc-echo"
  | "grpc-memcached-get"
  | "grpc-memcached-set"
  | "grpc-stream-cas"
  | "express-session"
  | "express-sessiond"
  | "sessiond";

/** DriverKind is what a virtual client does in a loop. */
export type DriverKind = "unary-get" | "unary-set" | "tx" | "tx-lockstep" | "tx-savepoint" | "http-rmw" | "idle-streams";

/**
 * LoadConfig is what the orchestrator sends a load process: the target, the work, and its share of the
 * concurrency. `connections` HTTP/2 (or HTTP/1.1 keep-alive) connections carry `concurrency` virtual
 * clients, each with one request in flight at a time (closed loop).
 */
export interface LoadConfig {
  /** processIndex numbers this load process among its siblings (0-based). */
  processIndex: number;
  port: number;
  driver: DriverKind;
  /** client picks the gRPC client (see GrpcClientKind). */
  client: GrpcClientKind;
  concurrency: number;
  connections: number;
  /** salt makes per-client session ids unique to this row and run. */
  salt: string;
  /** seedShared makes this process seed its share of the shared sessions before it reports ready. */
  seedShared: boolean;
  /** sharedSessions is how many sessions Get rows read (default SHARED_SESSIONS). */
  sharedSessions?: number;
  /** processCount is how many load processes share the work (for splitting seeding). */
  processCount: number;
  /** checkSeed reads a seeded session back before reporting ready (off for the stateless echo). */
  checkSeed: boolean;
  /** secure, when set, makes the load client speak TLS (trusting `ca`) and send `token` on every call. */
  secure?: SecureClient;
  /** traceparent, when set, is sent with every gRPC call (a W3C trace context; raw client only). */
  traceparent?: string;
}

/** SecureClient is how a load process reaches a sessiond that serves TLS and checks bearer tokens. */
export interface SecureClient {
  /** ca is the PEM CA certificate that signed the server's certificate (issued for "localhost"); none: plaintext. */
  ca?: string;
  /** token is sent as `authorization: Bearer <token>`. */
  token: string;
}
