import { randomBytes } from "node:crypto";
import type { JsonObject } from "@bufbuild/protobuf";
import type { Store } from "../store/store.js";
import { Code, SessionError } from "./errors.js";
import { Generations } from "./generations.js";
import { Keys } from "./keys.js";
import { type CoreOptions, checkCoreOptions, defaultCoreOptions, RECORD_OVERHEAD_BYTES } from "./options.js";
import { type Logger, SessionIndex } from "./session-index.js";
import { listSessions, type SessionPage } from "./session-listing.js";
import { copyPackages, deleteFrom, mergeInto, packageOf } from "./session-record.js";
import { SessionRepository, type StoredSession } from "./session-repository.js";
import { pick, Transaction } from "./transaction.js";
import { checkData, checkDeleteTarget, checkKeys, checkName, checkNamespace, checkSessionId, quote } from "./validation.js";

/**
 * SessionCore is sessiond without gRPC: the contract's operations over a Store. Every unary write is its
 * own transaction, retried internally on compare-and-swap conflicts. Names are validated here, once.
 */
export interface SessionCore {
  /** createSession makes an empty session with a new random id (192 bits, base64url) and returns the id. */
  createSession(namespace: string): Promise<string>;
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
  /** rotateSession moves a session's data to a new random id, deletes the old one, returns the new id. */
  rotateSession(namespace: string, sessionId: string): Promise<string>;
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
  const log: Logger = logger ?? { warn() {} };
  const keys = new Keys(opts.keyPrefix);
  const generations = new Generations(store, keys, opts.generationCacheMs, opts.now);
  const index = new SessionIndex(store, keys, opts.indexShards, opts.maxItemBytes - RECORD_OVERHEAD_BYTES, log);
  const repository = new SessionRepository(store, keys, generations, index, opts);

  /** Internal: runs a read-modify-write until its compare-and-swap goes through. */
  async function retrying(namespace: string, sessionId: string, change: (s: StoredSession) => Promise<boolean>) {
    for (let attempt = 1; attempt <= opts.casAttempts; attempt++) {
      if (await change(await repository.read(namespace, sessionId))) return;
      // Jittered backoff: spreads writers that collided so the next round is likely to pass.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)));
    }
    throw new SessionError(
      Code.ABORTED,
      `session ${quote(sessionId)} kept changing under ${opts.casAttempts} attempts to write it: too many concurrent writers; retry later`,
    );
  }

  function checkSession(namespace: string, sessionId: string): void {
    checkNamespace(namespace);
    checkSessionId(sessionId);
  }

  return {
    async createSession(namespace) {
      checkNamespace(namespace);
      for (let attempt = 1; attempt <= CREATE_ATTEMPTS; attempt++) {
        const sessionId = newSessionId();
        // add, never overwrite: an id that exists (it will not, at 192 bits) is drawn again.
        if (await repository.write(await repository.read(namespace, sessionId), {})) return sessionId;
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

    async rotateSession(namespace, sessionId) {
      checkSession(namespace, sessionId);
      let newId = "";
      await retrying(namespace, sessionId, async (old) => {
        newId = newSessionId();
        const target = await repository.read(namespace, newId);
        const packages = old.record?.packages ?? {};
        if (!(await repository.write(target, packages))) return false;
        // Retire the old id by compare-and-swap: if it changed meanwhile, undo and move it again.
        if (await repository.remove(old)) return true;
        await store.delete(target.key);
        return false;
      });
      return newId;
    },

    async begin(namespace, sessionId, nextSavepointId) {
      checkSession(namespace, sessionId);
      return new Transaction(repository, await repository.read(namespace, sessionId), nextSavepointId);
    },

    ping: () => store.ping(),
  };
}

// newSessionId draws 192 bits from the CSPRNG, base64url: 32 URL-safe characters.
function newSessionId(): string {
  return randomBytes(24).toString("base64url");
}
