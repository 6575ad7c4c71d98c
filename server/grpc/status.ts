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
 * (at most once a second per cause, with the number of calls left out: `suppressed`) but answered without
 * them (storage addresses are not the caller's business); anything else is logged with its context and
 * answered INTERNAL with a generic message (internals never leak to callers).
 */
export function toErrorStatus(err: unknown, logger: Logger, context: object): ErrorStatus {
  if (err instanceof SessionError) return { code: err.code as number as status, details: err.message };
  if (err instanceof StoreUnavailableError) {
    logUnavailable(logger, context, err.message);
    return { code: status.UNAVAILABLE, details: "session storage is unavailable, retry later (the server log names the cause)" };
  }
  logger.error({ ...context, err }, "internal error");
  return { code: status.INTERNAL, details: "internal error in sessiond; the server log has the details" };
}

// Internal: an outage fails every call that needs the node: one line per cause (the message names the
// memcached address and the reason) per logger per UNAVAILABLE_LOG_MS says so, with the count of calls
// left out since, rather than one line per call, which would flood the log and take the healthy calls' CPU.
const UNAVAILABLE_LOG_MS = 1000;
const MAX_CAUSES = 256;
const unavailableLogged = new WeakMap<Logger, Map<string, { atMs: number; suppressed: number }>>();

function logUnavailable(logger: Logger, context: object, cause: string): void {
  let causes = unavailableLogged.get(logger);
  if (causes === undefined) {
    causes = new Map();
    unavailableLogged.set(logger, causes);
  }
  const now = Date.now();
  const last = causes.get(cause);
  if (last !== undefined && now - last.atMs < UNAVAILABLE_LOG_MS) {
    last.suppressed++;
    return;
  }
  if (causes.size >= MAX_CAUSES) causes.clear();
  causes.set(cause, { atMs: now, suppressed: 0 });
  const suppressed = last?.suppressed ?? 0;
  logger.warn({ ...context, err: cause, ...(suppressed > 0 ? { suppressed } : {}) }, "storage unavailable");
}

/** toServiceError shapes an ErrorStatus as grpc-js wants it for a unary callback or stream destroy. */
export function toServiceError(s: ErrorStatus): Partial<StatusObject> & Error {
  return Object.assign(new Error(s.details), { code: s.code, details: s.details, metadata: new Metadata() });
}
