import { create } from "@bufbuild/protobuf";
import { type ServerUnaryCall, type sendUnaryData, status, type UntypedHandleCall } from "@grpc/grpc-js";
import type { Logger } from "pino";
import {
  type CreateSessionRequest,
  CreateSessionResponseSchema,
  type DeleteRequest,
  DeleteResponseSchema,
  type GetRequest,
  GetResponseSchema,
  type InvalidateAllRequest,
  InvalidateAllResponseSchema,
  type ListSessionsRequest,
  ListSessionsResponseSchema,
  type RotateSessionRequest,
  RotateSessionResponseSchema,
  type SetRequest,
  SetResponseSchema,
} from "../../gen/sessiond/v1/session_service_pb.js";
import type { SessionCore } from "../core/session-core.js";
import { principalHandlers, sessionInfo } from "./principal-handlers.js";
import { sessionTag } from "./session-tag.js";
import { toErrorStatus, toServiceError } from "./status.js";

// Internal: built once, answered many times.
const EMPTY_SET = create(SetResponseSchema);
const EMPTY_DELETE = create(DeleteResponseSchema);
const EMPTY_INVALIDATE = create(InvalidateAllResponseSchema);

/**
 * createUnaryHandlers maps the contract's unary RPCs onto the core. Each handler only translates: the core
 * validates, and errors go through `toErrorStatus`.
 */
export function createUnaryHandlers(core: SessionCore, logger: Logger): Record<string, UntypedHandleCall> {
  function unary<Req extends object, Res>(method: string, run: (req: Req) => Promise<Res>) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      // grpc-js runs a call whose deadline passed on the way; its caller has given up, so it must not write.
      const deadline = call.getDeadline();
      if (deadline !== Infinity && Number(deadline) <= Date.now()) {
        callback(toServiceError({ code: status.DEADLINE_EXCEEDED, details: "the call's deadline passed before it ran" }));
        return;
      }
      const started = performance.now();
      run(call.request).then(
        (response) => {
          if (logger.isLevelEnabled("debug")) logger.debug({ method, ms: performance.now() - started }, "call");
          callback(null, response);
        },
        (err: unknown) => {
          const s = toErrorStatus(err, logger, { method, request: summarize(call.request) });
          if (logger.isLevelEnabled("debug")) logger.debug({ method, code: s.code, details: s.details }, "call failed");
          callback(toServiceError(s));
        },
      );
    };
  }

  return {
    createSession: unary("CreateSession", async (req: CreateSessionRequest) =>
      create(
        CreateSessionResponseSchema,
        await core.createSession(req.namespace, { principal: req.principal, attributes: req.attributes }),
      ),
    ),
    get: unary("Get", async (req: GetRequest) =>
      create(GetResponseSchema, { data: await core.get(req.namespace, req.sessionId, req.package, req.keys) }),
    ),
    set: unary("Set", async (req: SetRequest) => {
      await core.set(req.namespace, req.sessionId, req.package, req.data);
      return EMPTY_SET;
    }),
    delete: unary("Delete", async (req: DeleteRequest) => {
      await core.delete(req.namespace, req.sessionId, req.package, req.keys);
      return EMPTY_DELETE;
    }),
    listSessions: unary("ListSessions", async (req: ListSessionsRequest) => {
      const page = await core.listSessions(req.namespace, req.pageSize, req.pageToken);
      return create(ListSessionsResponseSchema, {
        nextPageToken: page.nextPageToken,
        sessions: page.sessions.map(sessionInfo),
      });
    }),
    invalidateAll: unary("InvalidateAll", async (req: InvalidateAllRequest) => {
      await core.invalidateAll(req.namespace);
      return EMPTY_INVALIDATE;
    }),
    rotateSession: unary("RotateSession", async (req: RotateSessionRequest) =>
      create(RotateSessionResponseSchema, await core.rotateSession(req.namespace, req.sessionId, req.principal)),
    ),
    ...principalHandlers(core, unary),
  };
}

/**
 * summarize names the request's session for logs, without its data: the namespace, the package, and a
 * keyed hash (`session`, see sessionTag) standing in for the session id, which never reaches a log line.
 */
function summarize(req: object): object {
  const { namespace, sessionId, package: pkg } = req as Record<string, unknown>;
  return {
    namespace,
    session: typeof sessionId === "string" && sessionId !== "" ? sessionTag(sessionId) : undefined,
    package: pkg,
  };
}
