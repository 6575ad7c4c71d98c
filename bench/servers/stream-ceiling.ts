import type { JsonObject } from "@bufbuild/protobuf";
import { create, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import type { ServerDuplexStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import type { MemcacheClient } from "memcache-client";
import type { TransactionRequest, TransactionResponse } from "../../gen/sessiond/v1/session_service_pb.js";
import { TransactionResponseSchema } from "../../gen/sessiond/v1/session_service_pb.js";
import { ceilingKey } from "./unary-ceilings.js";

/** Internal: the one transaction a stream holds; `casUniq` is undefined when the key was absent at begin. */
interface OpenTransaction {
  key: string;
  data: JsonObject;
  casUniq: string | number | undefined;
}

const answers = {
  set: create(TransactionResponseSchema, { result: { case: "set", value: {} } }),
  commit: create(TransactionResponseSchema, { result: { case: "commit", value: {} } }),
  abort: create(TransactionResponseSchema, { result: { case: "abort", value: {} } }),
};

function failure(code: number, message: string): TransactionResponse {
  return create(TransactionResponseSchema, { error: { code, message } });
}

/**
 * streamCasCeiling is the `grpc-stream+gets/cas` ceiling: the least a Transaction stream must do, with
 * sessiond's own TransactionRequest/Response messages on the wire. Per stream one transaction at a time:
 * begin = memcached `gets` of the session's package (a Struct), get = answer it, set = merge keys in
 * memory, commit = one `cas` (`add` if it was absent), ABORTED on a conflict; abort drops it. Requests are
 * answered strictly in order. No savepoints, expiry, validation or session records.
 */
export function streamCasCeiling(memcached: MemcacheClient): UntypedServiceImplementation {
  let transactions = 0;

  async function answer(request: TransactionRequest, state: { tx?: OpenTransaction }): Promise<TransactionResponse> {
    const op = request.op;
    if (op.case === "begin") {
      const key = ceilingKey(op.value.sessionId);
      const found = await memcached.gets<Buffer>(key);
      const data = found ? (toJson(StructSchema, fromBinary(StructSchema, found.value)) as JsonObject) : {};
      state.tx = { key, data, casUniq: found?.casUniq };
      return create(TransactionResponseSchema, { result: { case: "begin", value: { transactionId: String(++transactions) } } });
    }
    const tx = state.tx;
    if (!tx) return failure(status.FAILED_PRECONDITION, "no open transaction: send begin first");
    switch (op.case) {
      case "get":
        return create(TransactionResponseSchema, { result: { case: "get", value: { data: tx.data } } });
      case "set":
        Object.assign(tx.data, op.value.data ?? {});
        return answers.set;
      case "commit":
        state.tx = undefined;
        return (await write(memcached, tx)) ? answers.commit : failure(status.ABORTED, "session changed since begin");
      case "abort":
        state.tx = undefined;
        return answers.abort;
      default:
        return failure(status.INVALID_ARGUMENT, `the ceiling does not do ${String(op.case)}`);
    }
  }

  return {
    transaction: (call: ServerDuplexStream<TransactionRequest, TransactionResponse>) => {
      const state: { tx?: OpenTransaction } = {};
      let chain: Promise<void> = Promise.resolve();
      call.on("data", (request: TransactionRequest) => {
        chain = chain
          .then(() => answer(request, state))
          .then(
            (response) => void call.write(response),
            (error: Error) => void call.write(failure(status.UNAVAILABLE, error.message)),
          );
      });
      call.on("end", () => void chain.then(() => call.end()));
      call.on("cancelled", () => (state.tx = undefined));
      call.on("error", () => (state.tx = undefined));
    },
  };
}

/** Internal: writes a transaction with one cas (or add); false when memcached reports a conflict. */
async function write(memcached: MemcacheClient, tx: OpenTransaction): Promise<boolean> {
  const bytes = Buffer.from(toBinary(StructSchema, fromJson(StructSchema, tx.data)));
  try {
    if (tx.casUniq === undefined) await memcached.add(tx.key, bytes);
    else await memcached.cas(tx.key, bytes, { casUniq: tx.casUniq });
    return true;
  } catch (error) {
    if (/EXISTS|NOT_STORED|NOT_FOUND/.test(String(error))) return false;
    throw error;
  }
}
