import type { JsonObject } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { ClientError } from "../client-error.js";
import type { TlsOptions } from "../options.js";
import { createSessionClient, type SessionClient } from "../session-client.js";
import { createPendingSnapshots } from "./pending-snapshots.js";
import { attachedSnapshot, attachSnapshot, changesSince, takeSnapshot } from "./session-snapshot.js";
import { storeBase } from "./store-base.js";

/** SessiondStoreOptions configure `new SessiondStore(options)`: where sessiond is, and where sessions go. */
export interface SessiondStoreOptions {
  /** address is sessiond's "host:port"; the store then makes (and `close` closes) its own client. */
  address?: string;
  /** client is a `sessiond/client` client to use instead of `address` (the caller closes it). */
  client?: SessionClient;
  /** token is the bearer token of the client made from `address`. Default: none. */
  token?: string | (() => string);
  /** tls makes the client made from `address` speak TLS (mTLS with cert and key). Default: plaintext. */
  tls?: TlsOptions;
  /** namespace holds the framework's sessions; its timeout (`--timeout` or the config file) governs expiry. Default "express". */
  namespace?: string;
  /** package holds the framework's session object, one key per top-level key of the session. Default "session". */
  package?: string;
}

/** SessionObject is a framework's session as a store sees it: plain JSON values, `cookie` among them. */
export type SessionObject = { [key: string]: unknown };

/** StoreCallback is how a store answers the framework: an Error whose `code` is the gRPC status, or a result. */
export type StoreCallback<T = void> = (err: Error | null, result?: T) => void;

// answer calls back outside the promise's chain, so that an exception thrown by the framework's callback
// surfaces as an exception, not as a rejection nobody handles.
function answer<T>(work: Promise<T>, callback: StoreCallback<T> | undefined): void {
  work.then(
    (result) => callback && process.nextTick(callback, null, result),
    (err: Error) => callback && process.nextTick(callback, err),
  );
}

/**
 * SessiondStore is the session store of express-session (it extends express-session's `Store`) and of
 * @fastify/session, kept in sessiond: `app.use(session({ store: new SessiondStore({ address }), ... }))`.
 * The framework's session id (its cookie's id) is sessiond's session id; the session object lives in one
 * package (`package`) of `namespace`, one key per top-level key. `set` writes only the top-level keys the
 * request changed since its `get`, in one transaction retried on conflicts, so two concurrent requests of
 * one user that change different keys both keep their change (keys changed by both: the last commit wins).
 * Expiry is the namespace's timeout; the cookie's `maxAge` does not shorten it. Errors reach the callback
 * as `ClientError`s (an Error whose `code` is the gRPC status).
 */
export class SessiondStore extends storeBase {
  /** client is the sessiond client the store calls. */
  readonly client: SessionClient;
  /** namespace holds the sessions (default "express"). */
  readonly namespace: string;
  /** package holds each session object (default "session"). */
  readonly package: string;
  private readonly ownsClient: boolean;
  private readonly pending = createPendingSnapshots();

  constructor(options: SessiondStoreOptions) {
    super();
    if (options.client === undefined && options.address === undefined) {
      throw new TypeError("SessiondStore needs `address` (sessiond's host:port) or `client` (a sessiond/client client)");
    }
    this.ownsClient = options.client === undefined;
    this.client =
      options.client ??
      createSessionClient(options.address as string, {
        ...(options.token === undefined ? {} : { token: options.token }),
        ...(options.tls === undefined ? {} : { tls: options.tls }),
      });
    this.namespace = options.namespace ?? "express";
    this.package = options.package ?? "session";
  }

  /**
   * get answers the session `sid` (null when absent, expired or revoked) and remembers what it read.
   * `S` is the framework's session type (express-session's SessionData, @fastify/session's Session).
   */
  get<S extends object = SessionObject>(sid: string, callback: StoreCallback<S | null>): void {
    answer(this.read(sid) as Promise<S | null>, callback);
  }

  /**
   * set saves what the request changed since its `get`: changed and new top-level keys are written, removed
   * ones deleted, in one transaction (run again on a conflict); a session `get` never read is written whole.
   * Nothing changed: the session is only refreshed, as `touch`.
   */
  set(sid: string, session: object, callback?: StoreCallback): void {
    answer(this.save(sid, session), callback);
  }

  /** touch refreshes the session's idle expiry without rewriting its data (within the namespace's resolution). */
  touch(sid: string, session: object, callback?: StoreCallback): void {
    if (attachedSnapshot(session) === undefined) this.pending.claim(sid, takeSnapshot(session)); // its request is over
    answer(this.refresh(sid), callback);
  }

  /** destroy deletes the session. */
  destroy(sid: string, callback?: StoreCallback): void {
    this.pending.clear(sid);
    answer(this.client.session(this.namespace, sid).delete(), callback);
  }

  /** all answers every live session of the namespace, each with its `id` (ListSessions, then a Get each). */
  all<S extends object = SessionObject>(callback: StoreCallback<S[]>): void {
    answer(this.readAll() as Promise<S[]>, callback);
  }

  /** length answers how many live sessions the namespace holds (ListSessions). */
  length(callback: StoreCallback<number>): void {
    answer(this.count(), callback);
  }

  /** clear makes every session of the namespace disappear at once (InvalidateAll). */
  clear(callback?: StoreCallback): void {
    answer(this.client.invalidateAll(this.namespace), callback);
  }

  /** close closes the client the store made from `address` (a `client` given to it stays open). */
  close(): void {
    if (this.ownsClient) this.client.close();
  }

  /**
   * createSession is express-session's (it builds the request's Session from what `get` answered), and
   * moves the snapshot onto that Session, so that `set` knows exactly what this request read.
   */
  override createSession<R extends object = object>(req: unknown, data: object): R {
    const session = super.createSession<R>(req, data);
    const snapshot = attachedSnapshot(data);
    if (snapshot !== undefined) {
      attachSnapshot(session, snapshot);
      this.pending.forget((req as { sessionID: string }).sessionID, snapshot);
    }
    return session;
  }

  private async read(sid: string): Promise<SessionObject | null> {
    const data: SessionObject = await this.client.session(this.namespace, sid).get(this.package);
    if (Object.keys(data).length === 0) return null;
    const snapshot = takeSnapshot(data);
    attachSnapshot(data, snapshot);
    this.pending.add(sid, snapshot);
    return data;
  }

  private async save(sid: string, session: object): Promise<void> {
    const snapshot = attachedSnapshot(session) ?? this.pending.claim(sid, takeSnapshot(session));
    const { changed, removed, current } = changesSince(session, snapshot);
    if (Object.keys(changed).length === 0 && removed.length === 0) return this.refresh(sid);
    // begin, set and delete need no answer before commit: the whole transaction is one round trip, and
    // its commit is a compare-and-swap of the record begin read, run again if another commit came first.
    await this.client.transaction(this.namespace, sid, (tx) => {
      if (Object.keys(changed).length > 0) void tx.set(this.package, changed as JsonObject);
      if (removed.length > 0) void tx.delete(this.package, removed);
    });
    attachSnapshot(session, current); // a second save in the same request writes only what changed since
  }

  // DescribeSession refreshes like a Get, without carrying the data; an absent session has nothing to refresh.
  private async refresh(sid: string): Promise<void> {
    try {
      await this.client.session(this.namespace, sid).describe();
    } catch (err) {
      if (!(err instanceof ClientError && err.code === status.NOT_FOUND)) throw err;
    }
  }

  private async readAll(): Promise<SessionObject[]> {
    const sessions: SessionObject[] = [];
    for await (const summary of this.client.listSessions(this.namespace)) {
      const data = await this.client.session(this.namespace, summary.sessionId).get(this.package);
      if (Object.keys(data).length > 0) sessions.push({ ...data, id: summary.sessionId });
    }
    return sessions;
  }

  private async count(): Promise<number> {
    let sessions = 0;
    for await (const _ of this.client.listSessions(this.namespace)) sessions++;
    return sessions;
  }
}
