/**
 * WorkloadClient is what the list-append workload drives: a sessiond instance (sim: a SessionCore; torture: the SDK over gRPC).
 * Errors are thrown as objects with a numeric `code` (the gRPC status: SessionError, the SDK's ClientError);
 * the recorder turns the code into an outcome (see `outcomeOf` in workload.ts).
 */
export interface WorkloadClient {
  readonly instance: string; // "i0", "i1", ...
  createSession(namespace: string, principal?: string): Promise<{ sessionId: string; handle: string }>;
  /** appendTx: one Transaction: begin, get package "w" key "list" (absent: []), set it to list+[element], commit. Answers the list read. */
  appendTx(namespace: string, sessionId: string, element: number): Promise<number[]>;
  /** read: unary Get of package "w" key "list" (absent: []). */
  read(namespace: string, sessionId: string): Promise<number[]>;
  /** rotate: RotateSession (principal "" keeps the binding). */
  rotate(namespace: string, sessionId: string, principal?: string): Promise<{ sessionId: string; handle: string }>;
  /** bind: SetPrincipal with no attributes ("" unbinds); answers the handle. */
  bind(namespace: string, sessionId: string, principal: string): Promise<string>;
  /** deleteSession: Delete with package "" (the whole session). */
  deleteSession(namespace: string, sessionId: string): Promise<void>;
  invalidateAll(namespace: string): Promise<void>;
  /** revoke: RevokeSessions of every session of the principal; answers revoked_count. */
  revoke(namespace: string, principal: string): Promise<number>;
  /** listSessions: every page of ListSessions: the session ids listed. */
  listSessions(namespace: string): Promise<string[]>;
  /** listPrincipalSessions: every page: the handles listed. */
  listPrincipalSessions(namespace: string, principal: string): Promise<string[]>;
}
