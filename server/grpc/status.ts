import { Metadata, type StatusObject, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { SessionError } from "../core/errors.js";
import { StoreUnavailableError } from "../store/store.js";

/** ErrorStatus is what a failed call or op answers: a gRPC status code and a message for people. */
export interface ErrorStatus {
  code: status;
  details: string;
}

/**
 * toErrorStatus maps anything thrown to a gRPC status, in one place: a SessionError keeps its code and
 * message; storage that cannot be reached is UNAVAILABLE, logged with the server's address and the cause
 * but answered without them (storage addresses are not the caller's business); anything else is logged with
 * its context and answered INTERNAL with a generic message (internals never leak to callers).
 */
export function toErrorStatus(err: unknown, logger: Logger, context: object): ErrorStatus {
  if (err instanceof SessionError) return { code: err.code as number as status, details: err.message };
  if (err instanceof StoreUnavailableError) {
    logger.warn({ ...context, err: err.message }, "storage unavailable");
    return { code: status.UNAVAILABLE, details: "session storage is unavailable, retry later (the server log names the cause)" };
  }
  logger.error({ ...context, err }, "internal error");
  return { code: status.INTERNAL, details: "internal error in sessiond; the server log has the details" };
}

/** toServiceError shapes an ErrorStatus as grpc-js wants it for a unary callback or stream destroy. */
export function toServiceError(s: ErrorStatus): Partial<StatusObject> & Error {
  return Object.assign(new Error(s.details), { code: s.code, details: s.details, metadata: new Metadata() });
}
