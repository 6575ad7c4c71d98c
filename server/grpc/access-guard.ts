import { type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData, status, type UntypedHandleCall } from "@grpc/grpc-js";
import { SessionService } from "../../gen/sessiond/v1/session_service_pb.js";
import type { AccessControl } from "../access/access-control.js";
import type { Caller } from "../access/identity.js";
import { METHOD_PERMISSIONS, OP_PERMISSIONS, type OpCase } from "../access/permissions.js";
import { type ErrorStatus, toServiceError } from "./status.js";

/**
 * OpGuard checks one op of a Transaction stream against the stream's caller: undefined when allowed, else
 * the PERMISSION_DENIED status the op answers with (the stream stays open). `namespace` is the namespace of
 * `begin`, or of the open transaction.
 */
export type OpGuard = (op: OpCase, namespace: string) => ErrorStatus | undefined;

/** StreamHandler is a bidi handler that takes the stream's OpGuard as a second argument. */
export type StreamHandler = (call: ServerDuplexStream<unknown, unknown>, guard: OpGuard) => void;

type UnaryHandler = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void;

/**
 * guardHandlers wraps every handler of sessiond.v1.SessionService so that access is checked once, in this
 * one place, before the handler runs: the caller's address is admitted (protected mode: without an access
 * section, only loopback callers; PERMISSION_DENIED otherwise, a stream refused whole); the caller is
 * authenticated (UNAUTHENTICATED otherwise); a unary call needs its method's permission on the request's
 * namespace (PERMISSION_DENIED otherwise, fail closed for a method the permission table lacks); a
 * Transaction stream gets an OpGuard checking each op. Every refusal and every admin call (ListSessions,
 * InvalidateAll) is audited.
 */
export function guardHandlers(
  handlers: Record<string, UntypedHandleCall>,
  access: AccessControl,
): Record<string, UntypedHandleCall> {
  const guarded: Record<string, UntypedHandleCall> = { ...handlers };
  for (const method of SessionService.methods) {
    const handler = handlers[method.localName];
    if (handler === undefined) continue;
    guarded[method.localName] =
      method.methodKind === "unary"
        ? guardUnary(method.name, handler as UnaryHandler, access)
        : guardStream(method.name, handler as unknown as StreamHandler, access);
  }
  return guarded;
}

function guardUnary(method: string, handler: UnaryHandler, access: AccessControl): UntypedHandleCall {
  const permission = METHOD_PERMISSIONS[method];
  return ((call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
    const namespace = namespaceOf(call.request);
    const barred = access.admit(call.getPeer());
    if (barred !== undefined) {
      access.audit({ identity: undefined, method, namespace, code: barred.code });
      callback(toServiceError(barred));
      return;
    }
    const caller = access.authenticate(call.metadata, call.getAuthContext());
    const refused = isCaller(caller) ? access.authorize(caller, method, permission, namespace) : caller;
    if (refused !== undefined) {
      access.audit({ identity: isCaller(caller) ? caller.identity : undefined, method, namespace, code: refused.code });
      callback(toServiceError(refused));
      return;
    }
    if (permission !== "admin") return handler(call, callback);
    const identity = (caller as Caller).identity;
    handler(call, (err, value) => {
      access.audit({ identity, method, namespace, code: err ? (err.code ?? status.UNKNOWN) : status.OK });
      callback(err, value);
    });
  }) as UntypedHandleCall;
}

function guardStream(method: string, handler: StreamHandler, access: AccessControl): UntypedHandleCall {
  return ((call: ServerDuplexStream<unknown, unknown>) => {
    const barred = access.admit(call.getPeer());
    if (barred !== undefined) {
      access.audit({ identity: undefined, method, namespace: "", code: barred.code });
      call.emit("error", toServiceError(barred));
      return;
    }
    const caller = access.authenticate(call.metadata, call.getAuthContext());
    if (!isCaller(caller)) {
      access.audit({ identity: undefined, method, namespace: "", code: caller.code });
      call.emit("error", toServiceError(caller));
      return;
    }
    handler(call, (op, namespace) => {
      const refused = access.authorize(caller, `${method}.${op}`, OP_PERMISSIONS[op], namespace);
      if (refused !== undefined)
        access.audit({ identity: caller.identity, method: `${method}.${op}`, namespace, code: refused.code });
      return refused;
    });
  }) as UntypedHandleCall;
}

function isCaller(value: Caller | ErrorStatus): value is Caller {
  return (value as Caller).identity !== undefined;
}

function namespaceOf(request: unknown): string {
  const namespace = (request as { namespace?: unknown } | null)?.namespace;
  return typeof namespace === "string" ? namespace : "";
}
