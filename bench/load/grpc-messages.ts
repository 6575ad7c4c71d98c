import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import type { TransactionResponse } from "../../gen/sessiond/v1/session_service_pb.js";
import {
  GetRequestSchema,
  SessionService,
  SetRequestSchema,
  TransactionRequestSchema,
  TransactionResponseSchema,
} from "../../gen/sessiond/v1/session_service_pb.js";
import { createServiceDefinition } from "../../rpc/service-definition.js";
import { NAMESPACE, PACKAGE, SMALL_WRITE } from "../lib/workload.js";
import { grpcFrame } from "./grpc-wire.js";

/** SESSION_DEFINITION is the grpc-js definition of SessionService from the one adapter. */
export const SESSION_DEFINITION = createServiceDefinition(SessionService);

/** PATHS are the HTTP/2 paths of the methods the bench calls. */
export const PATHS = {
  get: SESSION_DEFINITION.get.path,
  set: SESSION_DEFINITION.set.path,
  transaction: SESSION_DEFINITION.transaction.path,
};

/** getFrame is the pre-encoded frame of a unary Get of the bench package of `sessionId`. */
export function getFrame(sessionId: string): Buffer {
  const request = create(GetRequestSchema, { namespace: NAMESPACE, sessionId, package: PACKAGE });
  return grpcFrame(SESSION_DEFINITION.get.requestSerialize(request));
}

/** setFrame is the pre-encoded frame of a unary Set of `data` (default SMALL_WRITE) into `sessionId`. */
export function setFrame(sessionId: string, data: JsonObject = SMALL_WRITE): Buffer {
  const request = create(SetRequestSchema, { namespace: NAMESPACE, sessionId, package: PACKAGE, data });
  return grpcFrame(SESSION_DEFINITION.set.requestSerialize(request));
}

/** txFrame pre-encodes one TransactionRequest op as a frame. */
export function txFrame(op: MessageInitShape<typeof TransactionRequestSchema>["op"]): Buffer {
  return grpcFrame(SESSION_DEFINITION.transaction.requestSerialize(create(TransactionRequestSchema, { op })));
}

/** beginFrame opens a transaction on `sessionId` of the bench namespace. */
export function beginFrame(sessionId: string): Buffer {
  return txFrame({ case: "begin", value: { namespace: NAMESPACE, sessionId } });
}

/** TX_FRAMES are the constant transaction ops: get and set of the bench package, savepoint, commit, abort. */
export const TX_FRAMES = {
  get: txFrame({ case: "get", value: { package: PACKAGE, keys: [] } }),
  set: txFrame({ case: "set", value: { package: PACKAGE, data: SMALL_WRITE } }),
  savepoint: txFrame({ case: "savepoint", value: {} }),
  commit: txFrame({ case: "commit", value: {} }),
  abort: txFrame({ case: "abort", value: {} }),
};

const rollbackFrames = new Map<number, Buffer>();

/** rollbackFrame is the (cached) frame of a rollback to `savepointId`. */
export function rollbackFrame(savepointId: number): Buffer {
  let frame = rollbackFrames.get(savepointId);
  if (!frame) {
    frame = txFrame({ case: "rollback", value: { savepointId } });
    rollbackFrames.set(savepointId, frame);
  }
  return frame;
}

/** decodeTxResponse fully decodes a TransactionResponse (slow path: errors, savepoint ids, checks). */
export function decodeTxResponse(message: Buffer): TransactionResponse {
  return SESSION_DEFINITION.transaction.responseDeserialize(message) as TransactionResponse;
}

const ERROR_TAG = (TransactionResponseSchema.field.error.number << 3) | 2;

/**
 * txErrorCode reads a TransactionResponse's outcome without decoding it when it succeeded: 0 for a
 * result, else the Error's gRPC code. A result's oneof field (1..8) is written before `error` (9), so
 * the first byte tells them apart.
 */
export function txErrorCode(message: Buffer): number {
  if (message[0] !== ERROR_TAG) return 0;
  const response = decodeTxResponse(message);
  return response.error?.code ?? -1;
}

/** expectResult throws unless `message` answers the op `expected` (e.g. "commit"), with its error if any. */
export function expectResult(message: Buffer, expected: TransactionResponse["result"]["case"]): TransactionResponse {
  const response = decodeTxResponse(message);
  if (response.result.case !== expected) {
    const why = response.error ? `error ${response.error.code}: ${response.error.message}` : String(response.result.case);
    throw new Error(`expected a ${expected} result, got ${why}`);
  }
  return response;
}

/** ABORTED is gRPC status 10: a commit whose session changed since begin. */
export const ABORTED = 10;
