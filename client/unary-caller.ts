import { create, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { type Client, Metadata, type ServiceError } from "@grpc/grpc-js";
import { SessionService } from "../gen/sessiond/v1/session_service_pb.js";
import { backoffDelayMs, sleepBeforeRetry } from "./backoff.js";
import { ClientError, cancelledError, deadlineError, toClientError } from "./client-error.js";
import { type CallOptions, type ClientSettings, deadlineOf } from "./options.js";
import { definition, type MethodDef, type Methods, type UnaryMethod } from "./service-client.js";

/** Request is the generated request message (init shape) of a unary method (internal). */
export type Request<K extends UnaryMethod> = MessageInitShape<Methods[K]["input"]>;
/** Response is the generated response message of a unary method (internal). */
export type Response<K extends UnaryMethod> = MessageShape<Methods[K]["output"]>;

/** UnaryCaller makes unary calls with a deadline, cancellation and the retry policy (internal). */
export interface UnaryCaller {
  /**
   * call sends one unary RPC, trying again with jittered backoff while it fails with a retryable code,
   * within one deadline for all tries. Throws ClientError.
   */
  call<K extends UnaryMethod>(method: K, request: Request<K>, options: CallOptions): Promise<Response<K>>;
}

// Internal: RotateSession is not idempotent, so it is never retried.
const NOT_RETRIED: ReadonlySet<UnaryMethod> = new Set(["rotateSession"]);

/** createUnaryCaller makes the unary caller of one grpc-js client (internal). */
export function createUnaryCaller(client: Client, settings: ClientSettings): UnaryCaller {
  const { retry } = settings;

  function once<K extends UnaryMethod>(
    def: MethodDef<K>,
    message: MessageShape<Methods[K]["input"]>,
    deadline: Date | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Response<K>> {
    if (signal?.aborted) return Promise.reject(cancelledError(def.path, signal));
    // grpc-js would still send a call whose deadline has passed, and the server might run it.
    if (deadline !== undefined && deadline.getTime() <= Date.now()) return Promise.reject(deadlineError(def.path, deadline));
    return new Promise((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        message,
        new Metadata(),
        deadline === undefined ? {} : { deadline },
        (err: ServiceError | null, response?: Response<K>) => {
          signal?.removeEventListener("abort", onAbort);
          if (err) reject(toClientError(err, def.path, signal));
          else resolve(response!);
        },
      );
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  return {
    async call<K extends UnaryMethod>(method: K, request: Request<K>, options: CallOptions): Promise<Response<K>> {
      const def = definition[method] as unknown as MethodDef<K>;
      const message = create(SessionService.method[method].input, request as never) as MessageShape<Methods[K]["input"]>;
      const deadline = deadlineOf(options, settings.timeoutMs);
      const attempts = NOT_RETRIED.has(method) ? 1 : Math.max(1, retry.attempts);
      for (let attempt = 1; ; attempt++) {
        try {
          return await once(def, message, deadline, options.signal);
        } catch (err) {
          if (!(err instanceof ClientError) || attempt >= attempts || !retry.codes.includes(err.code)) throw err;
          await sleepBeforeRetry(def.path, backoffDelayMs(retry, attempt), deadline, options.signal, err);
        }
      }
    },
  };
}
