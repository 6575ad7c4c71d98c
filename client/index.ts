/**
 * sessiond/client is the TypeScript SDK of sessiond: `createSessionClient(address)` gives session handles
 * for one-shot calls and transactions that run again on conflicts. Built on the generated protobuf-es code
 * and the same grpc-js adapter as the server.
 */

/** JsonObject and JsonValue are the plain JSON types of session data (protobuf-es's Struct and Value). */
export type { JsonObject, JsonValue } from "@bufbuild/protobuf";
/** status is grpc-js's enum of gRPC status codes, the values of `ClientError.code`. */
export { status } from "@grpc/grpc-js";
export { ClientError, ConflictError } from "./client-error.js";
export type {
  Backoff,
  CallOptions,
  ListOptions,
  RetryPolicy,
  SessionClientOptions,
  TlsOptions,
  TransactionOptions,
  TransactionRetry,
} from "./options.js";
export type { PrincipalHandle, RevokeOptions } from "./principal-handle.js";
export type { TransactionFunction } from "./run-transaction.js";
export { type CreateSessionOptions, createSessionClient, type SessionClient, type SessionSummary } from "./session-client.js";
export type { RotateOptions, SessionHandle } from "./session-handle.js";
export type { Savepoint, Transaction, TransactionOps } from "./transaction.js";
