import { openOpStream } from "./op-stream.js";
import {
  type CallOptions,
  deadlineOf,
  type ListOptions,
  resolveSettings,
  type SessionClientOptions,
  type TransactionOptions,
} from "./options.js";
import { createPrincipalHandle, type PrincipalHandle } from "./principal-handle.js";
import { runTransaction, type TransactionFunction } from "./run-transaction.js";
import { createServiceClient } from "./service-client.js";
import { createSessionHandle, type SessionHandle } from "./session-handle.js";
import { type SessionSummary, toSummary } from "./session-summary.js";
import { createTransaction, type Transaction } from "./transaction.js";
import { createUnaryCaller } from "./unary-caller.js";

export type { SessionSummary };

/** CreateSessionOptions bind a new session to a principal (the user it belongs to), with attributes. */
export interface CreateSessionOptions extends CallOptions {
  /** principal binds the session (1..256 printable ASCII characters). Default: unbound. */
  principal?: string;
  /** attributes are your facts about the session (ip, user_agent, device…): at most 16. Default: none. */
  attributes?: Record<string, string>;
}

/**
 * SessionClient reaches one sessiond over one gRPC channel. Every call takes CallOptions last (signal,
 * deadline, timeoutMs) and throws ClientError; unary calls are retried by the client's retry policy.
 */
export interface SessionClient {
  /** session makes the handle of session `sessionId` in `namespace`; it calls nothing. */
  session(namespace: string, sessionId: string): SessionHandle;
  /**
   * createSession makes a new, empty session with a random URL-safe id and resolves with its handle
   * (`.id`, and `.handle` that names it in listings); bound to `options.principal` when given.
   */
  createSession(namespace: string, options?: CreateSessionOptions): Promise<SessionHandle>;
  /** principal makes the handle of a principal's sessions ("your devices", "log out everywhere"); it calls nothing. */
  principal(namespace: string, name: string): PrincipalHandle;
  /** listSessions iterates over the live sessions of a namespace, following page tokens as it goes. */
  listSessions(namespace: string, options?: ListOptions): AsyncIterableIterator<SessionSummary>;
  /** invalidateAll makes every session of the namespace disappear at once. */
  invalidateAll(namespace: string, options?: CallOptions): Promise<void>;
  /**
   * transaction runs `fn` in a transaction on its own stream: begin, `fn(tx)`, commit, and resolves with
   * what `fn` returned. If `fn` throws, the transaction is aborted (nothing written) and the error
   * rethrown. On a commit conflict (another writer committed first) `fn` runs again after a jittered
   * backoff, up to `options.attempts` runs (default 10), then ConflictError is thrown. So concurrent
   * read-modify-write never loses an update. Caution: `fn` may run more than once.
   */
  transaction<T>(namespace: string, sessionId: string, fn: TransactionFunction<T>, options?: TransactionOptions): Promise<T>;
  /**
   * begin opens a transaction on its own stream for callers who commit or abort it themselves; it returns
   * at once (begin is pipelined). No retry: `commit()` throws ConflictError on a conflict. The deadline
   * (default timeoutMs from now) and the signal bound the transaction's stream.
   */
  begin(namespace: string, sessionId: string, options?: CallOptions): Transaction;
  /** close releases the channel; calls in flight finish, new calls fail. */
  close(): void;
}

/**
 * createSessionClient makes a client of the sessiond at `address` ("host:port"), on the generated
 * protobuf-es code and the server's grpc-js adapter. Options default as SessionClientOptions documents:
 * plaintext, 10 s deadline, 3 tries on UNAVAILABLE for unary calls, 10 runs on transaction conflicts.
 */
export function createSessionClient(address: string, options: Partial<SessionClientOptions> = {}): SessionClient {
  const settings = resolveSettings(options);
  const grpcClient = createServiceClient(address, settings);
  const unary = createUnaryCaller(grpcClient, settings);

  const backend = {
    unary,
    transaction<T>(namespace: string, sessionId: string, fn: TransactionFunction<T>, callOptions: TransactionOptions = {}) {
      return runTransaction(grpcClient, settings, namespace, sessionId, fn, callOptions);
    },
    begin(namespace: string, sessionId: string, callOptions: CallOptions = {}): Transaction {
      const stream = openOpStream(grpcClient, deadlineOf(callOptions, settings.timeoutMs), callOptions.signal);
      return createTransaction(stream, namespace, sessionId, () => stream.end());
    },
  };

  return {
    ...backend,
    session: (namespace, sessionId) => createSessionHandle(backend, namespace, sessionId),
    async createSession(namespace, { principal = "", attributes = {}, ...callOptions } = {}) {
      const response = await unary.call("createSession", { namespace, principal, attributes }, callOptions);
      return createSessionHandle(backend, namespace, response.sessionId, response.handle);
    },
    principal: (namespace, name) => createPrincipalHandle(unary, namespace, name),
    async *listSessions(namespace, listOptions = {}) {
      const { pageSize = 0, ...callOptions } = listOptions;
      let pageToken = "";
      do {
        const page = await unary.call("listSessions", { namespace, pageSize, pageToken }, callOptions);
        for (const info of page.sessions) yield toSummary(info);
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
    },
    async invalidateAll(namespace, callOptions = {}) {
      await unary.call("invalidateAll", { namespace }, callOptions);
    },
    close: () => grpcClient.close(),
  };
}
