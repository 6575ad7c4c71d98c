import { type ServiceError, status } from "@grpc/grpc-js";

/**
 * ClientError is the one error the SDK throws for a failed call, as nice-grpc's ClientError: `code` is the
 * gRPC status code (grpc-js `status`, re-exported by this package), `details` the server's message and
 * `method` the full gRPC method path, e.g. `/sessiond.v1.SessionService/Get`. A failed op inside a
 * transaction has the path of the Transaction stream and names the op in its message.
 * Calls ended by an AbortSignal have code CANCELLED and the signal's reason as `cause`.
 */
export class ClientError extends Error {
  override name = "ClientError";

  constructor(
    /** method is the full gRPC method path of the failed call. */
    readonly method: string,
    /** code is the gRPC status code. */
    readonly code: status,
    /** details is the message the server (or grpc-js) gave with the code. */
    readonly details: string,
    options?: { cause?: unknown },
  ) {
    super(`${method} ${status[code] ?? code}: ${details}`, options);
  }
}

/**
 * ConflictError is the ClientError (code ABORTED) a transaction throws when its commit lost to another
 * writer `attempts` times in a row: nothing of it was written. `client.transaction` runs the function
 * again on a conflict and throws this only once its attempts are used up; `tx.commit()` of a transaction
 * from `client.begin` throws it at once (attempts 1). Catch it with `err instanceof ConflictError`.
 */
export class ConflictError extends ClientError {
  override name = "ConflictError";

  constructor(
    method: string,
    details: string,
    /** attempts is how many times the transaction ran and lost. */
    readonly attempts: number,
  ) {
    super(method, status.ABORTED, attempts > 1 ? `${details} (gave up after ${attempts} attempts)` : details);
  }
}

/** toClientError turns what grpc-js reports for a call into a ClientError (internal). */
export function toClientError(
  err: ServiceError | { code: status; details: string },
  method: string,
  signal?: AbortSignal,
): ClientError {
  // A call we cancelled because the signal fired: keep the caller's reason as the cause.
  const cause = err.code === status.CANCELLED && signal?.aborted ? signal.reason : undefined;
  return new ClientError(method, err.code, err.details, cause === undefined ? undefined : { cause });
}

/** cancelledError is the error of a call whose signal had fired before it started (internal). */
export function cancelledError(method: string, signal: AbortSignal): ClientError {
  return new ClientError(method, status.CANCELLED, "cancelled by the caller's AbortSignal", { cause: signal.reason });
}

/** deadlineError is the error of a call whose deadline had passed before it started (internal). */
export function deadlineError(method: string, deadline: Date): ClientError {
  return new ClientError(method, status.DEADLINE_EXCEEDED, `deadline ${deadline.toISOString()} passed before the call started`);
}
