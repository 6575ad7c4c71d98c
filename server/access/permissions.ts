import type { TransactionRequest } from "../../gen/sessiond/v1/session_service_pb.js";

/** Permission is what an `access` rule allows on a namespace: `read`, `write` or `admin`. */
export type Permission = "read" | "write" | "admin";

/** PERMISSIONS lists the permissions in the order the config file documents them. */
export const PERMISSIONS: readonly Permission[] = ["read", "write", "admin"];

/**
 * METHOD_PERMISSIONS maps each unary RPC of sessiond.v1.SessionService, by its method name, to the
 * permission it needs on the request's namespace (the contract's "Permissions, per namespace"). Methods
 * still to land are listed too, so they are covered the moment they do; a method missing here is refused
 * whenever an `access` section exists (fail closed).
 */
export const METHOD_PERMISSIONS: Readonly<Record<string, Permission>> = {
  Get: "read",
  DescribeSession: "read",
  ListPrincipalSessions: "read",
  Set: "write",
  Delete: "write",
  CreateSession: "write",
  RotateSession: "write",
  SetPrincipal: "write",
  RevokeSessions: "write",
  ListSessions: "admin",
  InvalidateAll: "admin",
};

/** OpCase names the ops of a TransactionRequest (`begin`, `get`, ..., `abort`). */
export type OpCase = NonNullable<TransactionRequest["op"]["case"]>;

/**
 * OP_PERMISSIONS maps each op of a Transaction stream to the permission it needs on the transaction's
 * namespace: reading ops (and commit, which only makes the writes final) need `read`; `set` and `delete`
 * need `write`.
 */
export const OP_PERMISSIONS: Readonly<Record<OpCase, Permission>> = {
  begin: "read",
  get: "read",
  savepoint: "read",
  rollback: "read",
  abort: "read",
  commit: "read",
  set: "write",
  delete: "write",
};

/** STREAMING_METHODS are the streaming RPCs whose permissions are checked per op, not per call. */
export const STREAMING_METHODS: ReadonlySet<string> = new Set(["Transaction"]);
