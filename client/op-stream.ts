import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Client, type ClientDuplexStream, Metadata, type StatusObject, status } from "@grpc/grpc-js";
import {
  type TransactionRequest,
  TransactionRequestSchema,
  type TransactionResponse,
} from "../gen/sessiond/v1/session_service_pb.js";
import { ClientError, cancelledError, deadlineError, toClientError } from "./client-error.js";
import { definition } from "./service-client.js";

/** Op is the `op` oneof of a TransactionRequest, e.g. `{ case: "get", value: { package: "p" } }` (internal). */
export type Op = MessageInitShape<typeof TransactionRequestSchema>["op"];

/** TRANSACTION_PATH is the gRPC method path of the Transaction stream, for errors (internal). */
export const TRANSACTION_PATH = definition.transaction.path;

/**
 * OpStream (internal) is one Transaction stream. `send` writes an op at once and resolves with its response:
 * the server answers one response per request, in order, so a FIFO of pending resolvers pairs them up and
 * any number of ops can be in flight (pipelining). When the stream ends with an error (cancelled, deadline,
 * server gone) every pending and later op rejects with that ClientError.
 */
export interface OpStream {
  /** send writes one op; resolves with its response (which may carry an op `error`), rejects if the stream fails. */
  send(op: Op): Promise<TransactionResponse>;
  /** end half-closes the stream: the server answers what it has, then discards a transaction left open. Idempotent. */
  end(): void;
}

interface Pending {
  resolve(response: TransactionResponse): void;
  reject(err: ClientError): void;
}

/** openOpStream opens a Transaction stream on `client`, bounded by the deadline and the signal (internal). */
export function openOpStream(client: Client, deadline: Date | undefined, signal: AbortSignal | undefined): OpStream {
  const def = definition.transaction;
  if (signal?.aborted) return failedStream(cancelledError(TRANSACTION_PATH, signal));
  // grpc-js would still open a stream whose deadline has passed, and the server might run its ops.
  if (deadline !== undefined && deadline.getTime() <= Date.now()) return failedStream(deadlineError(TRANSACTION_PATH, deadline));
  const call: ClientDuplexStream<TransactionRequest, TransactionResponse> = client.makeBidiStreamRequest(
    def.path,
    def.requestSerialize,
    def.responseDeserialize,
    new Metadata(),
    deadline === undefined ? {} : { deadline },
  );
  const pending: Pending[] = [];
  let failure: ClientError | undefined;
  let ended = false;
  const onAbort = () => call.cancel();
  signal?.addEventListener("abort", onAbort, { once: true });

  call.on("data", (response: TransactionResponse) => {
    const waiting = pending.shift();
    if (waiting !== undefined) return waiting.resolve(response);
    // More responses than requests breaks the protocol: stop rather than pair answers with the wrong ops.
    failure = new ClientError(TRANSACTION_PATH, status.INTERNAL, "the server sent a response no op was waiting for");
    call.cancel();
  });
  call.on("status", (s: StatusObject) => {
    signal?.removeEventListener("abort", onAbort);
    ended = true;
    failure ??=
      s.code === status.OK
        ? new ClientError(TRANSACTION_PATH, status.UNAVAILABLE, "the transaction stream ended before answering this op")
        : toClientError(s, TRANSACTION_PATH, signal);
    for (const waiting of pending.splice(0)) waiting.reject(failure);
  });
  // 'status' carries everything needed; without an 'error' listener grpc-js errors would be thrown.
  call.on("error", () => undefined);

  return {
    send(op) {
      if (failure !== undefined) return Promise.reject(failure);
      if (ended)
        return Promise.reject(new ClientError(TRANSACTION_PATH, status.FAILED_PRECONDITION, "the transaction stream is closed"));
      return new Promise((resolve, reject) => {
        pending.push({ resolve, reject });
        call.write(create(TransactionRequestSchema, { op }));
      });
    },
    end() {
      if (ended) return;
      ended = true;
      call.end();
    },
  };
}

// A stream that never opened: every op fails with the same error.
function failedStream(err: ClientError): OpStream {
  return { send: () => Promise.reject(err), end: () => undefined };
}
