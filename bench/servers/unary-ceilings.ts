import type { JsonObject } from "@bufbuild/protobuf";
import { create, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import type { ServerUnaryCall, sendUnaryData, UntypedServiceImplementation } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import type { MemcacheClient } from "memcache-client";
import type { GetRequest, SetRequest } from "../../gen/sessiond/v1/session_service_pb.js";
import { GetResponseSchema, SetResponseSchema } from "../../gen/sessiond/v1/session_service_pb.js";

/**
 * echoCeiling is the `grpc-echo` ceiling: Get answers an empty GetResponse at once, Set answers an empty
 * SetResponse (used only to seed). It is the cost of grpc-js's unary path alone.
 */
export function echoCeiling(): UntypedServiceImplementation {
  const empty = create(GetResponseSchema);
  return {
    get: (_call: ServerUnaryCall<GetRequest, unknown>, callback: sendUnaryData<unknown>) => callback(null, empty),
    set: (_call: ServerUnaryCall<SetRequest, unknown>, callback: sendUnaryData<unknown>) =>
      callback(null, create(SetResponseSchema)),
  };
}

/** Internal: the memcached key of a bench session in the ceiling servers. */
export function ceilingKey(sessionId: string): string {
  return `ceiling:${sessionId}`;
}

/**
 * memcachedGetCeiling is the `grpc+memcached-get` ceiling: Get does one memcache-client `get` of the
 * session's ~1 KB package (stored as protobuf Struct bytes) and answers it as GetResponse.data, so the
 * wire carries what sessiond's Get carries. Set stores the Struct with one memcached `set`; the bench
 * uses it only to seed the sessions.
 */
export function memcachedGetCeiling(memcached: MemcacheClient): UntypedServiceImplementation {
  return {
    get: (call: ServerUnaryCall<GetRequest, unknown>, callback: sendUnaryData<unknown>) => {
      memcached.get<Buffer>(ceilingKey(call.request.sessionId)).then(
        (found) => {
          const data = found ? (toJson(StructSchema, fromBinary(StructSchema, found.value)) as JsonObject) : {};
          callback(null, create(GetResponseSchema, { data }));
        },
        (error: Error) => callback({ code: status.UNAVAILABLE, details: error.message }),
      );
    },
    set: (call: ServerUnaryCall<SetRequest, unknown>, callback: sendUnaryData<unknown>) => {
      const bytes = Buffer.from(toBinary(StructSchema, fromJson(StructSchema, call.request.data ?? {})));
      memcached.set(ceilingKey(call.request.sessionId), bytes).then(
        () => callback(null, create(SetResponseSchema)),
        (error: Error) => callback({ code: status.UNAVAILABLE, details: error.message }),
      );
    },
  };
}

/**
 * memcachedSetCeiling is the `grpc+memcached-gets/cas` ceiling: Set does what sessiond's Set must at the
 * least — one memcache-client `gets` of the session's package (Struct bytes), merge the request's keys, and
 * one `cas` (an `add` when absent), again on a conflict — with no validation, expiry or session record.
 * Get answers as `memcachedGetCeiling`'s, to check the seed.
 */
export function memcachedSetCeiling(memcached: MemcacheClient): UntypedServiceImplementation {
  const readModifyWrite = async (key: string, data: JsonObject): Promise<void> => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const found = await memcached.gets<Buffer>(key);
      const current = found ? (toJson(StructSchema, fromBinary(StructSchema, found.value)) as JsonObject) : {};
      const bytes = Buffer.from(toBinary(StructSchema, fromJson(StructSchema, { ...current, ...data })));
      try {
        if (found) await memcached.cas(key, bytes, { casUniq: found.casUniq });
        else await memcached.add(key, bytes);
        return;
      } catch (error) {
        if (!/EXISTS|NOT_STORED|NOT_FOUND/.test((error as Error).message)) throw error;
      }
    }
    throw new Error("kept conflicting");
  };
  return {
    get: memcachedGetCeiling(memcached).get!,
    set: (call: ServerUnaryCall<SetRequest, unknown>, callback: sendUnaryData<unknown>) => {
      readModifyWrite(ceilingKey(call.request.sessionId), call.request.data ?? {}).then(
        () => callback(null, create(SetResponseSchema)),
        (error: Error) => callback({ code: status.UNAVAILABLE, details: error.message }),
      );
    },
  };
}
