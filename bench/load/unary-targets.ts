import type { JsonObject } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import type { Client, ServiceError } from "@grpc/grpc-js";
import { credentials, makeGenericClientConstructor } from "@grpc/grpc-js";
import type { GetResponse } from "../../gen/sessiond/v1/session_service_pb.js";
import { GetRequestSchema, SetRequestSchema } from "../../gen/sessiond/v1/session_service_pb.js";
import type { GrpcClientKind, SecureClient } from "../lib/workload.js";
import { NAMESPACE, PACKAGE, SMALL_WRITE } from "../lib/workload.js";
import { getFrame, PATHS, SESSION_DEFINITION, setFrame } from "./grpc-messages.js";
import type { GrpcConnection } from "./grpc-wire.js";
import { NodeH2Connection } from "./node-h2-connection.js";
import { RawH2Connection } from "./raw-h2-connection.js";

/** UnaryMethod is a unary SessionService method the bench drives. */
export type UnaryMethod = "get" | "set";

/**
 * UnaryTarget is a gRPC client of one kind spread over several connections. `prepare` does all per-call
 * encoding up front where the client allows it and returns the call to repeat in the hot loop.
 */
export interface UnaryTarget {
  /** prepare returns a call of `method` on `sessionId` (Set writes `data`); calls rotate over connections. */
  prepare(method: UnaryMethod, sessionId: string, data?: JsonObject): () => Promise<void>;
  /** readPackage does one Get and returns the decoded response (seeding checks, not timed). */
  readPackage(sessionId: string): Promise<GetResponse>;
  /** close ends all connections. */
  close(): void;
}

/**
 * openConnections opens `count` lean gRPC connections of `client` kind (`node-h2`, else `raw`: the
 * bidi rows have no grpc-js driver). With `secure`, they are `node-h2` over TLS with a bearer token. A
 * `traceparent` goes on every call (the `raw` client only).
 */
export function openConnections(
  client: GrpcClientKind,
  port: number,
  count: number,
  secure?: SecureClient,
  traceparent?: string,
): Promise<GrpcConnection[]> {
  if (traceparent !== undefined && (secure !== undefined || client === "node-h2"))
    throw new Error("only the raw client sends a traceparent");
  if (secure !== undefined) return Promise.all(Array.from({ length: count }, () => NodeH2Connection.open(port, secure)));
  if (client === "node-h2") return Promise.all(Array.from({ length: count }, () => NodeH2Connection.open(port)));
  return Promise.all(Array.from({ length: count }, () => RawH2Connection.open(port, traceparent)));
}

/**
 * openFrameTarget spreads unary calls over `connections` lean connections that send pre-encoded frames
 * (`raw` or `node-h2`; see bench/README.md for how they compare).
 */
export async function openFrameTarget(
  client: GrpcClientKind,
  port: number,
  connections: number,
  secure?: SecureClient,
  traceparent?: string,
): Promise<UnaryTarget> {
  const conns = await openConnections(client, port, connections, secure, traceparent);
  let next = 0;
  const pick = () => conns[next++ % conns.length] as GrpcConnection;
  return {
    prepare(method, sessionId, data) {
      const conn = pick();
      const frame = method === "get" ? getFrame(sessionId) : setFrame(sessionId, data);
      const path = PATHS[method];
      return async () => {
        await conn.unary(path, frame);
      };
    },
    async readPackage(sessionId) {
      const bytes = await pick().unary(PATHS.get, getFrame(sessionId));
      return SESSION_DEFINITION.get.responseDeserialize(bytes) as GetResponse;
    },
    close: () =>
      conns.forEach((conn) => {
        conn.close();
      }),
  };
}

type UnaryCallback = (error: ServiceError | null, response?: unknown) => void;
type GenericClient = Client & Record<UnaryMethod, (request: unknown, callback: UnaryCallback) => void>;

/**
 * openGrpcJsTarget opens `connections` grpc-js clients built from the adapter's definition, each on its
 * own channel (`grpc.use_local_subchannel_pool`, else grpc-js shares one connection per target).
 */
export async function openGrpcJsTarget(port: number, connections: number): Promise<UnaryTarget> {
  const Constructor = makeGenericClientConstructor(SESSION_DEFINITION, "SessionService");
  const clients = Array.from(
    { length: connections },
    () =>
      new Constructor(`127.0.0.1:${port}`, credentials.createInsecure(), {
        "grpc.use_local_subchannel_pool": 1,
      }) as unknown as GenericClient,
  );
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 10_000, (e) => (e ? reject(e) : resolve()))),
    ),
  );
  let next = 0;
  const pick = () => clients[next++ % clients.length] as GenericClient;
  const call = (client: GenericClient, method: UnaryMethod, request: unknown) =>
    new Promise<unknown>((resolve, reject) => client[method](request, (e, r) => (e ? reject(e) : resolve(r))));
  const request = (method: UnaryMethod, sessionId: string, data: JsonObject = SMALL_WRITE) =>
    method === "get"
      ? create(GetRequestSchema, { namespace: NAMESPACE, sessionId, package: PACKAGE })
      : create(SetRequestSchema, { namespace: NAMESPACE, sessionId, package: PACKAGE, data });
  return {
    prepare(method, sessionId, data) {
      const client = pick();
      const message = request(method, sessionId, data);
      return async () => {
        await call(client, method, message);
      };
    },
    async readPackage(sessionId) {
      return (await call(pick(), "get", request("get", sessionId))) as GetResponse;
    },
    close: () =>
      clients.forEach((client) => {
        client.close();
      }),
  };
}
