import type { JsonObject } from "@bufbuild/protobuf";
import type { CallOptions, TransactionOptions } from "./options.js";
import type { TransactionFunction } from "./run-transaction.js";
import { type SessionSummary, toSummary } from "./session-summary.js";
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
  /** id is the session id: the bearer secret, keep it in the cookie and out of logs and pages. */
  readonly id: string;
  /**
   * handle names the session in a principal's listing and in revocations (not secret, kept through
   * rotation); known when the handle came from createSession, rotate or setPrincipal, else undefined
   * (`describe()` tells it).
   */
  readonly handle: string | undefined;
  /** get reads a package as plain JSON: all keys, or only the listed keys that exist; `{}` when absent. */
  get(pkg: string, keys?: readonly string[], options?: CallOptions): Promise<JsonObject>;
  /** set merges the keys of `data` into the package, creating package and session as needed. */
  set(pkg: string, data: JsonObject, options?: CallOptions): Promise<void>;
  /** delete removes the listed keys, the whole package (no keys) or the whole session (no package: `delete()`). */
  delete(pkg?: string, keys?: readonly string[], options?: CallOptions): Promise<void>;
  /**
   * rotate moves the data to a new random id, deletes this id and resolves with the new session's handle
   * (session-fixation defence). With `principal` it also binds the session to that user: the login moment.
   * The session keeps its handle, creation time and attributes. Never retried: it is not idempotent.
   */
  rotate(options?: RotateOptions): Promise<SessionHandle>;
  /**
   * setPrincipal binds the session to a principal ("" unbinds) and replaces its attributes; resolves with
   * the session's handle. Fails NOT_FOUND when the session does not exist.
   */
  setPrincipal(principal: string, attributes?: Record<string, string>, options?: CallOptions): Promise<string>;
  /** describe reads the session's own record without its data ("who am I"); fails NOT_FOUND when absent. */
  describe(options?: CallOptions): Promise<SessionSummary>;
  /** transaction is `client.transaction(namespace, id, fn, options)`. */
  transaction<T>(fn: TransactionFunction<T>, options?: TransactionOptions): Promise<T>;
  /** begin is `client.begin(namespace, id, options)`. */
  begin(options?: CallOptions): Transaction;
}

/** RotateOptions bind the rotated session to a principal (the login moment). */
export interface RotateOptions extends CallOptions {
  /** principal binds the session (1..256 printable ASCII characters). Default: keep the current binding. */
  principal?: string;
}

/** SessionHandleBackend is what a handle needs from its client (internal). */
export interface SessionHandleBackend {
  unary: UnaryCaller;
  transaction<T>(namespace: string, sessionId: string, fn: TransactionFunction<T>, options?: TransactionOptions): Promise<T>;
  begin(namespace: string, sessionId: string, options?: CallOptions): Transaction;
}

/** createSessionHandle makes the handle of session `id` in `namespace` (internal). */
export function createSessionHandle(
  backend: SessionHandleBackend,
  namespace: string,
  id: string,
  sessionHandle?: string,
): SessionHandle {
  const { unary } = backend;
  const handle: SessionHandle = {
    namespace,
    id,
    handle: sessionHandle,
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
    async rotate({ principal = "", ...options } = {}) {
      const response = await unary.call("rotateSession", { namespace, sessionId: id, principal }, options);
      return createSessionHandle(backend, namespace, response.sessionId, response.handle);
    },
    async setPrincipal(principal, attributes = {}, options = {}) {
      return (await unary.call("setPrincipal", { namespace, sessionId: id, principal, attributes }, options)).handle;
    },
    async describe(options = {}) {
      const response = await unary.call("describeSession", { namespace, sessionId: id }, options);
      if (response.session === undefined) throw new Error("DescribeSession answered without a session");
      return toSummary(response.session);
    },
    transaction: (fn, options) => backend.transaction(namespace, id, fn, options),
    begin: (options) => backend.begin(namespace, id, options),
  };
  return handle;
}
