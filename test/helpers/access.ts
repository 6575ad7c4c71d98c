// Helpers of the access-control specs: token digests, a raw grpc-js client that sends chosen metadata, and
// a logger whose JSON lines the test can read.
import { createHash } from "node:crypto";
import { create, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import {
  type ChannelCredentials,
  type Client,
  type ClientDuplexStream,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { type Logger, pino } from "pino";
import { SessionService, type TransactionRequest, type TransactionResponse } from "../../gen/sessiond/v1/session_service_pb.js";
import { createServiceDefinition } from "../../rpc/service-definition.js";
import { TransactionStreamDriver } from "./sessiond.js";

/** sha256hex is the hex SHA-256 of a token, as the config file's `tokens` section holds it. */
export function sha256hex(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** bearer makes call metadata carrying `authorization: Bearer <token>` (none for undefined). */
export function bearer(token: string | undefined): Metadata {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

type Methods = typeof SessionService.method;
const RawClient = makeGenericClientConstructor(createServiceDefinition(SessionService), "SessionService");

/** RawSessionClient is a plain grpc-js client of sessiond that sends the metadata it is given. */
export interface RawSessionClient {
  call<K extends Exclude<keyof Methods, "transaction">>(
    method: K,
    request: MessageInitShape<Methods[K]["input"]>,
    metadata?: Metadata,
  ): Promise<MessageShape<Methods[K]["output"]>>;
  stream(metadata?: Metadata): TransactionStreamDriver;
  close(): void;
}

/** connectRaw connects a RawSessionClient (plaintext unless credentials are given). */
export function connectRaw(address: string, creds: ChannelCredentials = credentials.createInsecure()): RawSessionClient {
  const client = new RawClient(address, creds) as Client & Record<string, (...args: unknown[]) => unknown>;
  return {
    call: (method, request, metadata = new Metadata()) =>
      new Promise((resolve, reject) => {
        const message = create(SessionService.method[method].input, request as never);
        client[method]!(message, metadata, { deadline: Date.now() + 10_000 }, (err: ServiceError | null, res: never) =>
          err ? reject(err) : resolve(res),
        );
      }),
    stream: (metadata = new Metadata()) =>
      new TransactionStreamDriver(
        client.transaction!(metadata, { deadline: Date.now() + 20_000 }) as ClientDuplexStream<
          TransactionRequest,
          TransactionResponse
        >,
      ),
    close: () => client.close(),
  };
}

/** captureLogger is a pino logger at `level` whose parsed lines land in `lines`. */
export function captureLogger(level = "info"): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

/** failure awaits a promise that must reject and returns its ServiceError (or fails the test). */
export async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error("expected the call to fail, but it succeeded");
}
