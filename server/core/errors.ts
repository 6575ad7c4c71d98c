/**
 * Code names the gRPC status codes the contract gives to sessiond's errors. The numbers are gRPC's own
 * (grpc-js `status` has the same values; test/errors.spec.ts checks it): core code must not import grpc-js.
 */
export const Code = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNAVAILABLE: 14,
} as const;

/** Code is one of the gRPC status codes sessiond's core raises. */
export type Code = (typeof Code)[keyof typeof Code];

/**
 * SessionError is the one error type the core throws: a gRPC status code and a message a person can act on.
 * The gRPC layer sends both as they are (unary: the status; stream: the op's `error`).
 */
export class SessionError extends Error {
  override name = "SessionError";
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
  }
}

/** invalidArgument makes an INVALID_ARGUMENT SessionError. */
export function invalidArgument(message: string): SessionError {
  return new SessionError(Code.INVALID_ARGUMENT, message);
}

/** failedPrecondition makes a FAILED_PRECONDITION SessionError. */
export function failedPrecondition(message: string): SessionError {
  return new SessionError(Code.FAILED_PRECONDITION, message);
}

/**
 * OptionsError says an option of the core cannot work (a timeout over 30 days, a resolution over its
 * timeout, a bad key prefix...), naming it. It is a configuration mistake, found at start: sessiond turns it
 * (and only it) into a configuration error that exits 2; any other error while starting stays a bug.
 */
export class OptionsError extends Error {
  override name = "OptionsError";
}
