import type { JsonObject } from "@bufbuild/protobuf";
import type { CallOptions, TransactionOptions } from "./options.js";
import type { TransactionFunction } from "./run-transaction.js";
import type { Transaction } from "./transaction.js";
import type { UnaryCaller } from "./unary-caller.js";

/**
 * SessionHandle is one session of a namespace, for one-shot calls: each call is its own small transaction
 * on the server (compare-and-swap with retry inside), so concurrent writers of other keys never overwrite
 * each other. Making a handle calls nothing; a session that does not exist reads as empty.
 */
export interface SessionHandle {
  /** namespace is the session data container, e.g. "MemCacheSession". */
  readonly namespace: string;
  /** id is the session id. */
  readonly id: string;
  /** get reads a package as plain JSON: all keys, or only the listed keys that exist; `{}` when absent. */
  get(pkg: string, keys?: readonly string[], options?: CallOptions): Promise<JsonObject>;
  /** set merges the keys of `data` into the package, creating package and session as needed. */
  set(pkg: string, data: JsonObject, options?: CallOptions): Promise<void>;
  /** delete removes the listed keys, the whole package (no keys) or the whole session (no package: `delete()`). */
  delete(pkg?: string, keys?: readonly string[], options?: CallOptions): Promise<void>;
  /**
   * rotate moves the data to a new random id, deletes this id and resolves with the new session's handle
   * (session-fixation defence). Never retried: it is not idempotent.
   */
  rotate(options?: CallOptions): Promise<SessionHandle>;
  /** transaction is `client.transaction(namespace, id, fn, options)`. */
  transaction<T>(fn: TransactionFunction<T>, options?: TransactionOptions): Promise<T>;
  /** begin is `client.begin(namespace, id, options)`. */
  begin(options?: CallOptions): Transaction;
}

/** SessionHandleBackend is what a handle needs from its client (internal). */
export interface SessionHandleBackend {
  unary: UnaryCaller;
  transaction<T>(namespace: string, sessionId: string, fn: TransactionFunction<T>, options?: TransactionOptions): Promise<T>;
  begin(namespace: string, sessionId: string, options?: CallOptions): Transaction;
}

/** createSessionHandle makes the handle of session `id` in `namespace` (internal). */
export function createSessionHandle(backend: SessionHandleBackend, namespace: string, id: string): SessionHandle {
  const { unary } = backend;
  const handle: SessionHandle = {
    namespace,
    id,
    async get(pkg, keys = [], options = {}) {
      const response = await unary.call("get", { namespace, sessionId: id, package: pkg, keys: [...keys] }, options);
      return response.data ?? {};
    },
    async set(pkg, data, options = {}) {
      await unary.call("set", { namespace, sessionId: id, package: pkg, data }, options);
    },
    async delete(pkg = "", keys = [], options = {}) {
      await unary.call("delete", { namespace, sessionId: id, package: pkg, keys: [...keys] }, options);
    },
    async rotate(options = {}) {
      const response = await unary.call("rotateSession", { namespace, sessionId: id }, options);
      return createSessionHandle(backend, namespace, response.sessionId);
    },
    transaction: (fn, options) => backend.transaction(namespace, id, fn, options),
    begin: (options) => backend.begin(namespace, id, options),
  };
  return handle;
}
