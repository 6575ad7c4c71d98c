import { randomBytes } from "node:crypto";
import type { JsonObject } from "@bufbuild/protobuf";
import type { Store } from "../store/store.js";
import { Code, SessionError } from "./errors.js";
import { Generations } from "./generations.js";
import { Keys } from "./keys.js";
import { type CoreOptions, checkCoreOptions, defaultCoreOptions } from "./options.js";
import { PrincipalList } from "./principal-list.js";
import { listPrincipalSessions, type PrincipalParts, revokeSessions } from "./principal-sessions.js";
import { PrincipalStamps } from "./principal-stamps.js";
import { type Logger, SessionIndex } from "./session-index.js";
import { listSessions, type SessionPage, type SessionSummary, summarize } from "./session-listing.js";
import { type Binding, bindingOf, copyPackages, deleteFrom, mergeInto, packageOf, UNBOUND } from "./session-record.js";
import { newHandle, SessionRepository, type StoredSession } from "./session-repository.js";
import { pick, Transaction } from "./transaction.js";
import {
  checkAttributes,
  checkData,
  checkDeleteTarget,
  checkHandles,
  checkKeys,
  checkName,
  checkNamespace,
  checkPrincipal,
  checkSessionId,
  quote,
} from "./validation.js";

/** NewSession is a session just created or rotated: its id (secret) and its handle (not secret). */
export interface NewSession {
  sessionId: string;
  handle: string;
}

/** BindOptions bind a session at creation: a principal ("" or absent: unbound) and attributes. */
export interface BindOptions {
  principal?: string;
  attributes?: Record<string, string>;
}

/**
 * SessionCore is sessiond without gRPC: the contract's operations over a Store. Every unary write is its
 * own transaction, retried internally on compare-and-swap conflicts. Names are validated here, once.
 */
export interface SessionCore {
  /**
   * createSession makes an empty session with a new random id (192 bits, base64url) and a handle, bound to
   * `options.principal` when given (with its attributes).
   */
  createSession(namespace: string, options?: BindOptions): Promise<NewSession>;
  /** get reads a package (only the listed keys that exist, or all); {} when absent. */
  get(namespace: string, sessionId: string, pkg: string, keys: readonly string[]): Promise<JsonObject>;
  /** set merges data into a package. */
  set(namespace: string, sessionId: string, pkg: string, data: JsonObject | undefined): Promise<void>;
  /** delete removes keys, a package (no keys), or the whole session (package empty). */
  delete(namespace: string, sessionId: string, pkg: string, keys: readonly string[]): Promise<void>;
  /** listSessions pages through the live sessions of a namespace. */
  listSessions(namespace: string, pageSize: number, pageToken: string): Promise<SessionPage>;
  /** invalidateAll drops every session of the namespace at once (a new namespace generation). */
  invalidateAll(namespace: string): Promise<void>;
  /**
   * rotateSession moves a session's data to a new random id and deletes the old one. The session keeps its
   * handle, creation time and attributes; a non-empty `principal` binds it (now), "" keeps the binding.
   */
  rotateSession(namespace: string, sessionId: string, principal?: string): Promise<NewSession>;
  /** setPrincipal binds a live session ("" unbinds) and replaces its attributes; NOT_FOUND when absent. */
  setPrincipal(namespace: string, sessionId: string, principal: string, attributes: Record<string, string>): Promise<string>;
  /** describeSession returns a live session's record without its data; NOT_FOUND when absent. */
  describeSession(namespace: string, sessionId: string): Promise<SessionSummary>;
  /** listPrincipalSessions pages through a principal's live sessions (session ids left empty). */
  listPrincipalSessions(namespace: string, principal: string, pageSize: number, pageToken: string): Promise<SessionPage>;
  /** revokeSessions revokes the listed handles, or all (but the except handles); answers how many. */
  revokeSessions(
    namespace: string,
    principal: string,
    handles: readonly string[],
    exceptHandles: readonly string[],
  ): Promise<number>;
  /**
   * begin opens a transaction on one session (reads it once: one memcached gets). `nextSavepointId`
   * numbers its savepoints (default: 1, 2, 3… for this transaction; a stream shares one across its transactions).
   */
  begin(namespace: string, sessionId: string, nextSavepointId?: () => number): Promise<Transaction>;
  /** ping checks that storage answers. */
  ping(): Promise<void>;
}

// CREATE_ATTEMPTS bounds the ids createSession draws: one is enough unless the store misbehaves.
const CREATE_ATTEMPTS = 3;

/** createSessionCore builds the core over a store; options are merged over `defaultCoreOptions`. */
export function createSessionCore(store: Store, options: Partial<CoreOptions> = {}, logger?: Logger): SessionCore {
  const opts: CoreOptions = { ...defaultCoreOptions, ...options };
  checkCoreOptions(opts);
  const log: Logger = logger ?? { warn() {}, error() {} };
  const keys = new Keys(opts.keyPrefix);
  const generations = new Generations(store, keys);
  const index = new SessionIndex(store, keys, opts.indexShards, log, opts.now);
  const stamps = new PrincipalStamps(store, keys);
  const principals = new PrincipalList(store, keys, log, (ns, principal) =>
    stamps.stampOf(ns, principal, repository.settingsOf(ns)),
  );
  const repository = new SessionRepository(store, keys, generations, index, opts, stamps, principals);
  const parts: PrincipalParts = { store, keys, generations, repository, principals, stamps, logger: log, ...opts };

  /** Internal: runs a read-modify-write until its compare-and-swap goes through. */
  async function retrying(namespace: string, sessionId: string, change: (s: StoredSession) => Promise<boolean>) {
    for (let attempt = 1; attempt <= opts.casAttempts; attempt++) {
      if (await change(await repository.read(namespace, sessionId))) return;
      // Jittered backoff: spreads writers that collided so the next round is likely to pass.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)));
    }
    throw new SessionError(
      Code.ABORTED,
      `the session kept changing under ${opts.casAttempts} attempts to write it: too many concurrent writers; retry later`,
    );
  }

  function checkSession(namespace: string, sessionId: string): void {
    checkNamespace(namespace);
    checkSessionId(sessionId);
  }

  return {
    async createSession(namespace, { principal = "", attributes = {} } = {}) {
      checkNamespace(namespace);
      checkPrincipal(principal, true);
      checkAttributes(attributes);
      for (let attempt = 1; attempt <= CREATE_ATTEMPTS; attempt++) {
        const sessionId = newSessionId();
        const handle = newHandle();
        // add, never overwrite: an id that exists (it will not, at 192 bits) is drawn again.
        const session = await repository.read(namespace, sessionId);
        const boundAtMs = principal === "" ? 0 : await repository.bindingTime(namespace, principal, session.key);
        const binding: Binding = { principal, attributes, boundAtMs };
        if (await repository.write(session, {}, false, { handle, binding })) return { sessionId, handle };
      }
      // Not the caller's doing: a plain Error, logged in full and answered INTERNAL.
      throw new Error(
        `createSession in namespace ${quote(namespace)}: storage refused to add ${CREATE_ATTEMPTS} fresh random ids; ` +
          `192-bit ids do not collide, so the store refuses every add (is another program writing under key prefix ${quote(opts.keyPrefix)}?)`,
      );
    },

    async get(namespace, sessionId, pkg, keyList) {
      checkSession(namespace, sessionId);
      checkName("package", pkg);
      checkKeys(keyList);
      const session = await repository.read(namespace, sessionId);
      await repository.refreshIfDue(session);
      return pick(packageOf(session.record?.packages, pkg), keyList);
    },

    async set(namespace, sessionId, pkg, data) {
      checkSession(namespace, sessionId);
      checkName("package", pkg);
      checkData(data);
      await retrying(namespace, sessionId, (session) => {
        const packages = copyPackages(session.record?.packages);
        mergeInto(packages, pkg, data);
        return repository.write(session, packages);
      });
    },

    async delete(namespace, sessionId, pkg, keyList) {
      checkSession(namespace, sessionId);
      checkDeleteTarget(pkg, keyList);
      await retrying(namespace, sessionId, async (session) => {
        if (pkg === "") return repository.remove(session);
        if (packageOf(session.record?.packages, pkg) === undefined) return true; // nothing to delete
        const packages = copyPackages(session.record?.packages);
        deleteFrom(packages, pkg, keyList);
        return repository.write(session, packages);
      });
    },

    listSessions(namespace, pageSize, pageToken) {
      checkNamespace(namespace);
      return listSessions({ store, keys, generations, index, repository }, namespace, pageSize, pageToken);
    },

    async invalidateAll(namespace) {
      checkNamespace(namespace);
      await generations.renew(namespace);
    },

    async rotateSession(namespace, sessionId, principal = "") {
      checkSession(namespace, sessionId);
      checkPrincipal(principal, true);
      let newId = "";
      let handle = "";
      await retrying(namespace, sessionId, async (old) => {
        newId = newSessionId();
        const target = await repository.read(namespace, newId);
        // Both ends of a move belong to one generation: were the target read under a newer one (an
        // InvalidateAll ran meanwhile), the old data would be carried past the invalidation. Read again.
        if (target.generation !== old.generation) return false;
        const record = old.record;
        const packages = record?.packages ?? {};
        handle = record?.handle || newHandle();
        const current = record ? bindingOf(record) : UNBOUND;
        // A principal given is a login: bound now, whatever the binding was.
        const binding =
          principal === ""
            ? current
            : {
                principal,
                attributes: current.attributes,
                boundAtMs: await repository.bindingTime(namespace, principal, target.key),
              };
        const createdAtMs = record ? Number(record.createdAtMs) : opts.now();
        const listed = record !== undefined && record.principal === binding.principal && record.handle === handle;
        if (!(await repository.write(target, packages, false, { handle, binding, createdAtMs, listed }))) return false;
        // Retire the old id by compare-and-swap: if it changed meanwhile, undo and move it again.
        if (await repository.remove(old)) return true;
        await store.delete(target.key);
        return false;
      });
      return { sessionId: newId, handle };
    },

    async setPrincipal(namespace, sessionId, principal, attributes) {
      checkSession(namespace, sessionId);
      checkPrincipal(principal, true);
      checkAttributes(attributes);
      let handle = "";
      await retrying(namespace, sessionId, async (session) => {
        const record = session.record;
        if (record === undefined) throw absent(sessionId);
        handle = record.handle || newHandle();
        // Re-binding to the same principal keeps the binding time: attributes change, revocations stand.
        const boundAtMs =
          principal === ""
            ? 0
            : principal === record.principal
              ? Number(record.boundAtMs)
              : await repository.bindingTime(namespace, principal, session.key);
        return repository.write(session, record.packages, false, { handle, binding: { principal, attributes, boundAtMs } });
      });
      return handle;
    },

    async describeSession(namespace, sessionId) {
      checkSession(namespace, sessionId);
      const session = await repository.read(namespace, sessionId);
      if (session.record === undefined) throw absent(sessionId);
      await repository.refreshIfDue(session);
      return summarize(session.record, session.settings, sessionId);
    },

    listPrincipalSessions(namespace, principal, pageSize, pageToken) {
      checkNamespace(namespace);
      checkPrincipal(principal);
      return listPrincipalSessions(parts, namespace, principal, pageSize, pageToken);
    },

    revokeSessions(namespace, principal, handles, exceptHandles) {
      checkNamespace(namespace);
      checkPrincipal(principal);
      checkHandles("handles", handles);
      checkHandles("except_handles", exceptHandles);
      return revokeSessions(parts, namespace, principal, handles, exceptHandles);
    },

    async begin(namespace, sessionId, nextSavepointId) {
      checkSession(namespace, sessionId);
      return new Transaction(repository, await repository.read(namespace, sessionId), nextSavepointId);
    },

    ping: () => store.ping(),
  };
}

// absent is the NOT_FOUND of an operation that needs a live session.
function absent(_sessionId: string): SessionError {
  // The id is not quoted back: error messages carry no session id (it is a credential).
  return new SessionError(
    Code.NOT_FOUND,
    "the session does not exist (never created, expired, deleted or revoked): create a session first",
  );
}

// newSessionId draws 192 bits from the CSPRNG, base64url: 32 URL-safe characters.
function newSessionId(): string {
  return randomBytes(24).toString("base64url");
}
