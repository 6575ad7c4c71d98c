import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { SessionInfo } from "../gen/sessiond/v1/session_service_pb.js";

/**
 * SessionSummary is one session as listings and `describe` give it: the generated SessionInfo with Dates
 * for Timestamps. In a principal's listing `sessionId` is always "" (only `handle` names the session).
 */
export type SessionSummary = Omit<SessionInfo, "$typeName" | "$unknown" | "createdAt" | "lastAccessedAt" | "expiresAt"> & {
  /** createdAt is when the session was first written (rotation keeps it). */
  createdAt: Date | undefined;
  /** lastAccessedAt is when the session was last refreshed (to within the namespace's resolution). */
  lastAccessedAt: Date | undefined;
  /** expiresAt is when the session is gone unless accessed: the earlier of idle and absolute expiry. */
  expiresAt: Date | undefined;
};

/** toSummary turns a SessionInfo into a SessionSummary (internal). */
export function toSummary(info: SessionInfo): SessionSummary {
  return {
    sessionId: info.sessionId,
    handle: info.handle,
    principal: info.principal,
    attributes: { ...info.attributes },
    packages: info.packages,
    createdAt: info.createdAt && timestampDate(info.createdAt),
    lastAccessedAt: info.lastAccessedAt && timestampDate(info.lastAccessedAt),
    expiresAt: info.expiresAt && timestampDate(info.expiresAt),
  };
}
