import type { CallOptions, ListOptions } from "./options.js";
import { type SessionSummary, toSummary } from "./session-summary.js";
import type { UnaryCaller } from "./unary-caller.js";

/** RevokeOptions choose what `principal.revoke` revokes: by default every session of the principal. */
export interface RevokeOptions extends CallOptions {
  /** handles revokes only these sessions (handles from `sessions()` or `describe()`). Default: all. */
  handles?: readonly string[];
  /** except keeps these sessions: `revoke({ except: [current.handle] })` logs out every other device. */
  except?: readonly string[];
}

/**
 * PrincipalHandle is a principal (a user) of a namespace: its sessions for a "your devices" page, and
 * revocation ("log out everywhere"). Making one calls nothing.
 */
export interface PrincipalHandle {
  /** namespace is the session data container. */
  readonly namespace: string;
  /** name is the principal, e.g. a user id. */
  readonly name: string;
  /**
   * sessions iterates over the principal's live sessions, ordered by handle, following page tokens.
   * Each has its handle, attributes and times, never its session id (`sessionId` is "").
   */
  sessions(options?: ListOptions): AsyncIterableIterator<SessionSummary>;
  /**
   * revoke makes sessions of the principal gone and resolves with how many: all of them (no options), the
   * given `handles`, or all `except` some. Revoked sessions read as empty on every sessiond from the answer
   * on; sessions created or bound afterwards are not affected.
   */
  revoke(options?: RevokeOptions): Promise<number>;
}

/** createPrincipalHandle makes the handle of principal `name` in `namespace` (internal). */
export function createPrincipalHandle(unary: UnaryCaller, namespace: string, name: string): PrincipalHandle {
  return {
    namespace,
    name,
    async *sessions(listOptions = {}) {
      const { pageSize = 0, ...callOptions } = listOptions;
      let pageToken = "";
      do {
        const page = await unary.call("listPrincipalSessions", { namespace, principal: name, pageSize, pageToken }, callOptions);
        for (const info of page.sessions) yield toSummary(info);
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
    },
    async revoke({ handles = [], except = [], ...callOptions } = {}) {
      const request = { namespace, principal: name, handles: [...handles], exceptHandles: [...except] };
      return (await unary.call("revokeSessions", request, callOptions)).revokedCount;
    },
  };
}
