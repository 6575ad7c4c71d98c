import type { ServerMethodDefinition } from "@grpc/grpc-js";

/**
 * CODE_NAMES spell gRPC status codes as go-grpc-prometheus's `grpc_code` label does (Go's codes.Code
 * names): index 0 is `OK`, 3 `InvalidArgument`, 10 `Aborted`, 14 `Unavailable`...
 */
export const CODE_NAMES: readonly string[] = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
];

/** codeName is the `grpc_code` label of a status code; a code outside the 17 known is `Unknown`. */
export function codeName(code: number): string {
  return CODE_NAMES[code] ?? "Unknown";
}

/** CallLabels are the labels that name a method: `grpc_type`, `grpc_service`, `grpc_method`. */
export interface CallLabels {
  grpc_type: "unary" | "client_stream" | "server_stream" | "bidi_stream";
  grpc_service: string;
  grpc_method: string;
}

/** CallLabeler names the method a server interceptor sees; see `createCallLabeler`. */
export type CallLabeler = (
  method: Pick<ServerMethodDefinition<unknown, unknown>, "path" | "requestStream" | "responseStream">,
) => CallLabels;

/**
 * createCallLabeler makes the labels of each method once: `/sessiond.v1.SessionService/Get` gives
 * `{grpc_type: "unary", grpc_service: "sessiond.v1.SessionService", grpc_method: "Get"}`. A path that is not
 * `/service/method`, or one past the first `maxPaths` distinct paths (default 256), gets the fixed labels
 * `unknown`. Only registered methods reach an interceptor (grpc-js answers UNIMPLEMENTED to others first),
 * but the bound holds anyway, so no caller can grow the label set.
 */
export function createCallLabeler(maxPaths = 256): CallLabeler {
  const cache = new Map<string, CallLabels>();
  return (method) => {
    // By path alone: grpc-js serves one handler, of one kind, per path.
    const key = method.path;
    let labels = cache.get(key);
    if (labels === undefined) {
      const match = /^\/([A-Za-z0-9_.]+)\/([A-Za-z0-9_]+)$/.exec(method.path);
      const known = match !== null && cache.size < maxPaths;
      labels = {
        grpc_type: method.requestStream
          ? method.responseStream
            ? "bidi_stream"
            : "client_stream"
          : method.responseStream
            ? "server_stream"
            : "unary",
        grpc_service: known ? match[1]! : "unknown",
        grpc_method: known ? match[2]! : "unknown",
      };
      if (known) cache.set(key, labels);
    }
    return labels;
  };
}
