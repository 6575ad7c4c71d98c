import { randomBytes } from "node:crypto";
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, failedPrecondition, SessionError } from "./errors.js";
import { copyPackages, deleteFrom, mergeInto, type Packages, packageOf } from "./session-record.js";
import type { SessionRepository, StoredSession } from "./session-repository.js";
import { checkData, checkDeleteTarget, checkKeys, checkName } from "./validation.js";

interface SavedState {
  readonly id: number;
  readonly packages: Packages;
  readonly dirty: boolean;
  readonly sessionDeleted: boolean;
}

// Internal: transaction ids are a random tag of this process and a counter (cheaper than random bytes each).
const PROCESS_TAG = randomBytes(6).toString("base64url");
let transactionCount = 0;

/**
 * SavepointIds hands out savepoint ids. A stream shares one among its transactions, so ids count 1, 2, 3…
 * per stream and an id from an earlier transaction of the stream is NOT_FOUND rather than another savepoint.
 */
export function savepointIds(): () => number {
  let last = 0;
  return () => (last = (last % 0xffffffff) + 1);
}

/**
 * Transaction is one transaction on one session, with ZODB savepoint semantics: a savepoint can be
 * rolled back to again and again, and rolling back invalidates the savepoints taken after it.
 * Reads see the transaction's own writes. `commit` writes the whole session with one compare-and-swap
 * against the version read at begin: if another writer committed first, nothing is written (ABORTED).
 * After commit or abort the transaction is closed; every further op is FAILED_PRECONDITION.
 */
export class Transaction {
  /** id names the transaction in logs and in the begin response: unique per process and across processes. */
  readonly id = `${PROCESS_TAG}-${(++transactionCount).toString(36)}`;
  // Copy on write: `packages` may be shared with the record read at begin or with a savepoint until
  // `owned`; the first change after begin or a savepoint copies it (package objects are never mutated).
  private packages: Packages;
  private owned = false;
  private dirty = false;
  private sessionDeleted = false;
  private savepoints: SavedState[] | undefined;
  private closed = false;
  // The first op of this transaction that failed, for commit's only_if_no_errors.
  private firstFailure: string | undefined;

  constructor(
    private readonly repository: SessionRepository,
    private readonly stored: StoredSession,
    private readonly nextSavepointId: () => number = savepointIds(),
  ) {
    this.packages = stored.record?.packages ?? NO_PACKAGES;
  }

  /** isOpen is true until commit succeeds or fails for good, or abort. */
  get isOpen(): boolean {
    return !this.closed;
  }

  /** get returns a package's data (only the listed keys that exist when keys are given); {} when absent. */
  get(pkg: string, keys: readonly string[]): JsonObject {
    return this.op("get", () => {
      checkName("package", pkg);
      checkKeys(keys);
      return pick(packageOf(this.packages, pkg), keys);
    });
  }

  /** set merges data into a package, creating it. */
  set(pkg: string, data: JsonObject | undefined): void {
    this.op("set", () => {
      checkName("package", pkg);
      checkData(data);
      // A new package object: the old one may be shared with a savepoint.
      mergeInto(this.writable(), pkg, data);
      this.dirty = true;
    });
  }

  /** delete removes keys (keys given), a package (no keys) or the whole session (package empty). */
  delete(pkg: string, keys: readonly string[]): void {
    this.op("delete", () => this.deleteNow(pkg, keys));
  }

  private deleteNow(pkg: string, keys: readonly string[]): void {
    checkDeleteTarget(pkg, keys);
    if (pkg === "") {
      this.packages = NO_PACKAGES;
      this.owned = false;
      this.sessionDeleted = true;
    } else if (packageOf(this.packages, pkg) !== undefined) {
      deleteFrom(this.writable(), pkg, keys);
    }
    this.dirty = true;
  }

  /** savepoint records the current state and returns its id. */
  savepoint(): number {
    return this.op("savepoint", () => this.savepointNow());
  }

  private savepointNow(): number {
    const id = this.nextSavepointId();
    const { dirty, sessionDeleted } = this;
    this.savepoints ??= [];
    this.savepoints.push({ id, packages: this.packages, dirty, sessionDeleted });
    this.owned = false; // the savepoint shares the packages now: copy before the next change
    return id;
  }

  /** rollback returns to a savepoint, which stays usable; savepoints taken after it become invalid. */
  rollback(savepointId: number): void {
    this.op("rollback", () => this.rollbackNow(savepointId));
  }

  private rollbackNow(savepointId: number): void {
    const savepoints = this.savepoints ?? [];
    const at = savepoints.findIndex((s) => s.id === savepointId);
    const saved = savepoints[at];
    if (saved === undefined) {
      throw new SessionError(
        Code.NOT_FOUND,
        `savepoint ${savepointId} is unknown in this transaction, or was invalidated by a rollback to an earlier savepoint`,
      );
    }
    savepoints.length = at + 1;
    this.packages = saved.packages;
    this.owned = false;
    this.dirty = saved.dirty;
    this.sessionDeleted = saved.sessionDeleted;
  }

  /**
   * commit writes the session in one compare-and-swap and closes the transaction.
   * ABORTED when the session changed in storage since begin, or was revoked or reached its absolute lifetime
   * since (nothing written: run the transaction again).
   * RESOURCE_EXHAUSTED when the session would exceed the item size: nothing is written and the transaction
   * stays open, so the caller can roll back to a savepoint or abort.
   * With onlyIfNoErrors, a transaction any of whose ops failed is discarded instead (FAILED_PRECONDITION):
   * for clients that pipeline writes with the commit and cannot look at each answer first.
   */
  async commit(options: { onlyIfNoErrors?: boolean } = {}): Promise<void> {
    this.checkOpen();
    if (options.onlyIfNoErrors && this.firstFailure !== undefined) {
      this.closed = true;
      throw failedPrecondition(
        `commit refused: an op of this transaction failed (${this.firstFailure}); nothing was written and the transaction is discarded`,
      );
    }
    let written: boolean;
    try {
      // A session invalidated, revoked or past its absolute lifetime since begin is refused like a conflict,
      // never written back to life (nor into a generation nobody reads): run again, and the transaction
      // sees it absent.
      if (!(await this.repository.stillCurrent(this.stored))) {
        this.closed = true;
        throw new SessionError(
          Code.ABORTED,
          `the session was invalidated, revoked or reached its absolute lifetime since this transaction began: nothing was written; run the transaction again (it will see the session absent)`,
        );
      }
      if (!this.dirty) {
        await this.repository.refreshIfDue(this.stored);
        written = true;
      } else if (this.sessionDeleted && Object.keys(this.packages).length === 0) {
        written = await this.repository.remove(this.stored);
      } else {
        // A session deleted and written again in one transaction starts a new life.
        written = await this.repository.write(this.stored, this.packages, this.sessionDeleted);
      }
    } catch (err) {
      if (!(err instanceof SessionError && err.code === Code.RESOURCE_EXHAUSTED)) this.closed = true;
      throw err;
    }
    this.closed = true;
    if (!written) {
      throw new SessionError(
        Code.ABORTED,
        `the session changed since this transaction began (another writer committed first): nothing was written; run the transaction again`,
      );
    }
  }

  /** abort discards the transaction: nothing is written. */
  abort(): void {
    this.checkOpen();
    this.closed = true;
  }

  /** discard drops the transaction whatever its state (stream ended, cancelled, deadline passed). */
  discard(): void {
    this.closed = true;
  }

  // writable returns packages this transaction may change, copying them first if they are shared.
  private writable(): Packages {
    if (!this.owned) {
      this.packages = copyPackages(this.packages);
      this.owned = true;
    }
    return this.packages;
  }

  // op runs one op of an open transaction, remembering the first that fails.
  private op<T>(name: string, run: () => T): T {
    this.checkOpen();
    try {
      return run();
    } catch (err) {
      this.firstFailure ??= `${name}: ${(err as Error).message}`;
      throw err;
    }
  }

  private checkOpen(): void {
    if (this.closed) throw failedPrecondition("no transaction is open: send begin first");
  }
}

// Internal: the packages of a session with none, shared (never changed: changes copy first).
const NO_PACKAGES: Packages = Object.freeze(Object.create(null)) as Packages;

/** pick returns the listed keys of a package that exist, or the whole package when keys is empty. */
export function pick(pkg: JsonObject | undefined, keys: readonly string[]): JsonObject {
  if (pkg === undefined) return {};
  if (keys.length === 0) return pkg;
  const picked: JsonObject = Object.create(null);
  for (const key of keys) if (Object.hasOwn(pkg, key)) picked[key] = pkg[key]!;
  return picked;
}
