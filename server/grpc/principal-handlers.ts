import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { UntypedHandleCall } from "@grpc/grpc-js";
import {
  type DescribeSessionRequest,
  DescribeSessionResponseSchema,
  type ListPrincipalSessionsRequest,
  ListPrincipalSessionsResponseSchema,
  type RevokeSessionsRequest,
  RevokeSessionsResponseSchema,
  type SessionInfo,
  SessionInfoSchema,
  type SetPrincipalRequest,
  SetPrincipalResponseSchema,
} from "../../gen/sessiond/v1/session_service_pb.js";
import type { SessionCore } from "../core/session-core.js";
import type { SessionSummary } from "../core/session-listing.js";

/** Wrap makes a grpc-js handler of a handler's work (deadline, logs, status mapping): unary-handlers' `unary`. */
type Wrap = <Req extends object, Res>(method: string, run: (req: Req) => Promise<Res>) => UntypedHandleCall;

/**
 * principalHandlers maps the RPCs of "Sessions of a principal" (SetPrincipal, DescribeSession,
 * ListPrincipalSessions, RevokeSessions) onto the core, each wrapped by `unary` as the other unary RPCs are.
 */
export function principalHandlers(core: SessionCore, unary: Wrap): Record<string, UntypedHandleCall> {
  return {
    setPrincipal: unary("SetPrincipal", async (req: SetPrincipalRequest) =>
      create(SetPrincipalResponseSchema, {
        handle: await core.setPrincipal(req.namespace, req.sessionId, req.principal, req.attributes),
      }),
    ),
    describeSession: unary("DescribeSession", async (req: DescribeSessionRequest) =>
      create(DescribeSessionResponseSchema, { session: sessionInfo(await core.describeSession(req.namespace, req.sessionId)) }),
    ),
    listPrincipalSessions: unary("ListPrincipalSessions", async (req: ListPrincipalSessionsRequest) => {
      const page = await core.listPrincipalSessions(req.namespace, req.principal, req.pageSize, req.pageToken);
      return create(ListPrincipalSessionsResponseSchema, {
        sessions: page.sessions.map(sessionInfo),
        nextPageToken: page.nextPageToken,
      });
    }),
    revokeSessions: unary("RevokeSessions", async (req: RevokeSessionsRequest) =>
      create(RevokeSessionsResponseSchema, {
        revokedCount: await core.revokeSessions(req.namespace, req.principal, req.handles, req.exceptHandles),
      }),
    ),
  };
}

/** sessionInfo is the SessionInfo message of a session summary (ListSessions, DescribeSession, listings). */
export function sessionInfo(s: SessionSummary): SessionInfo {
  return create(SessionInfoSchema, {
    sessionId: s.sessionId,
    handle: s.handle,
    principal: s.principal,
    attributes: s.attributes,
    packages: s.packages,
    createdAt: timestampFromMs(s.createdAtMs),
    lastAccessedAt: timestampFromMs(s.lastAccessedMs),
    expiresAt: timestampFromMs(s.expiresAtMs),
  });
}
