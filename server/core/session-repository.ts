import { randomBytes } from "node:crypto";
import type { SessionRecord } from "../../gen/sessiond/record/v1/record_pb.js";
import { type Store, StoreUnavailableError } from "../store/store.js";
import type { Generations } from "./generations.js";
import type { Keys } from "./keys.js";
import { type CoreOptions, type NamespaceSettings, namespaceSettings, RECORD_OVERHEAD_BYTES } from "./options.js";
import type { ListEntry, PrincipalList } from "./principal-list.js";
import type { PrincipalStamps } from "./principal-stamps.js";
import type { SessionIndex } from "./session-index.js";
import { type Binding, bindingOf, decodeRecord, encodeRecord, isLive, type Packages, UNBOUND } from "./session-record.js";

/**
 * Identity is what a write may set besides the data: the handle, creation time and binding. What a write
 * leaves out is kept from the record read (or, for a new session, a new handle, now, unbound).
 */
export interface Identity {
  handle: string;
  createdAtMs: number;
  binding: Binding;
  /** listed says the handle is in the binding principal's list already (a rotation that keeps the binding). */
  listed: boolean;
}

/**
 * StoredSession is one session as read from storage: where it lives, the version it was read at (absent
 * when memcached had no item), and its record when it is live. It is the "first read" a commit compares with.
 */
export interface StoredSession {
  readonly namespace: string;
  readonly sessionId: string;
  readonly generation: string;
  readonly key: string;
  readonly version: string | undefined;
  /** record is the live record; undefined for an absent, expired or deleted session (it reads empty). */
  readonly record: SessionRecord | undefined;
  readonly settings: NamespaceSettings;
}

/**
 * SessionRepository reads and writes whole sessions with compare-and-swap. Internal to the core: callers
 * validate names first. A write answers false on conflict (the session changed since it was read).
 */
export class SessionRepository {
  readonly maxRecordBytes: number;
  // Session keys -> the principal each was last seen bound to (a hint, see `remember`), oldest first.
  private readonly boundTo = new Map<string, string>();
  // Each namespace's settings, resolved once (options do not change after start).
  private readonly settings = new Map<string, NamespaceSettings>();

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly generations: Generations,
    private readonly index: SessionIndex,
    private readonly options: CoreOptions,
    private readonly stamps: PrincipalStamps,
    private readonly principals: PrincipalList,
  ) {
    this.maxRecordBytes = options.maxItemBytes - RECORD_OVERHEAD_BYTES;
  }

  /**
   * read fetches a session with what says whether it stands, in one memcached request to the session's
   * node: its record, the copy of the namespace generation on that node and, for a session bound to a
   * principal, that principal's stamp copy there (the principal is the one this instance last saw bound
   * to the key; a session found bound to another costs a second request). A generation that moved is read
   * again under the new one; a session whose principal was revoked after binding reads absent. Nothing
   * cached is trusted: see `Generations` and `PrincipalStamps`.
   */
  async read(namespace: string, sessionId: string): Promise<StoredSession> {
    let generation = this.generations.guess(namespace) ?? (await this.generations.current(namespace));
    for (let attempt = 1; ; attempt++) {
      const key = this.keys.session(namespace, generation, sessionId);
      const principal = this.boundTo.get(key);
      const [found, generationCopy, stampCopy] = await Promise.all([
        this.store.get(key),
        this.store.get(this.generations.copyKey(namespace, key)),
        principal === undefined ? undefined : this.store.get(this.stamps.copyKey(namespace, principal, key)),
      ]);
      const moved = await this.generations.check(namespace, generation, generationCopy?.value);
      if (moved === undefined) {
        const stored = this.toStored(namespace, sessionId, generation, key, found?.value, found?.version);
        return this.unlessRevoked(stored, principal, stampCopy?.value);
      }
      // Renews one after the other, faster than this read: storage misbehaves, or a caller loops InvalidateAll.
      if (attempt === GENERATION_ATTEMPTS) {
        throw new StoreUnavailableError(`the generation of namespace ${namespace} kept moving under ${attempt} reads`);
      }
      generation = moved;
    }
  }

  /**
   * stillCurrent says whether a session read earlier still stands now, read again beside it (one request):
   * its namespace's generation has not moved, its principal has not been revoked since its binding, and it
   * has not reached its absolute lifetime. A commit asks it after it was sent and before it writes, so an
   * InvalidateAll or revocation that answered before the commit was sent is never written through.
   */
  async stillCurrent(session: StoredSession): Promise<boolean> {
    const record = session.record;
    const { maxLifetimeSeconds } = session.settings;
    if (record && maxLifetimeSeconds > 0 && this.options.now() > Number(record.createdAtMs) + maxLifetimeSeconds * 1000) {
      return false;
    }
    const principal = record?.principal || undefined;
    const [generationCopy, stampCopy] = await Promise.all([
      this.store.get(this.generations.copyKey(session.namespace, session.key)),
      principal === undefined ? undefined : this.store.get(this.stamps.copyKey(session.namespace, principal, session.key)),
    ]);
    if ((await this.generations.check(session.namespace, session.generation, generationCopy?.value)) !== undefined) return false;
    return record === undefined || (await this.unlessRevoked(session, principal, stampCopy?.value)).record !== undefined;
  }

  /**
   * readByHash fetches a session from the hash in its key (a principal's list entry); undefined when absent,
   * not live or not the entry's (another handle). Its principal's stamp is checked as by `read`.
   */
  async readByHash(namespace: string, generation: string, entry: ListEntry): Promise<StoredSession | undefined> {
    const key = this.keys.sessionByHash(namespace, generation, entry.keyHash);
    const found = await this.store.get(key);
    const stored = this.fromEntry(namespace, generation, entry, found?.value, found?.version);
    return stored && !(await this.isRevoked(stored)) ? stored : undefined;
  }

  /** fromEntry interprets raw bytes read for a list entry; undefined unless a live record of that handle. */
  fromEntry(
    namespace: string,
    generation: string,
    entry: ListEntry,
    bytes: Uint8Array | undefined,
    version: string | undefined,
  ): StoredSession | undefined {
    if (bytes === undefined) return undefined;
    const key = this.keys.sessionByHash(namespace, generation, entry.keyHash);
    const record = decodeRecord(bytes, key);
    const settings = this.settingsOf(namespace);
    if (record.handle !== entry.handle || !isLive(record, this.options.now(), settings)) return undefined;
    // The record names its id: check that it is the one the key's hash stands for.
    if (this.keys.sessionHash(record.sessionId) !== entry.keyHash) return undefined;
    return { namespace, sessionId: record.sessionId, generation, key, version, record, settings };
  }

  /**
   * unlessRevoked answers the session as absent when its principal was revoked after it was bound. `copy`
   * is the stamp copy of `readFor` read beside the session, when one was; else the stamp is read.
   */
  async unlessRevoked(session: StoredSession, readFor?: string, copy?: Uint8Array): Promise<StoredSession> {
    const record = session.record;
    if (record === undefined || record.principal === "") {
      if (readFor !== undefined) this.boundTo.delete(session.key);
      return session;
    }
    this.remember(session.key, record.principal);
    const stamp = await this.stamps.check(
      session.namespace,
      record.principal,
      session.settings,
      record.principal === readFor ? copy : undefined,
    );
    return Number(record.boundAtMs) < stamp ? { ...session, record: undefined } : session;
  }

  /**
   * bindingTime is the binding time of a session bound to `principal` now, on the node of `near` (the
   * session's key): now, or just past the principal's stamp when that is later. A revocation stamps a
   * little into the future (STAMP_SKEW_MS, so that it covers sessions bound by instances whose clocks are
   * ahead); a session bound after the revocation answered must not fall under it on a clock that is behind.
   */
  async bindingTime(namespace: string, principal: string, near: string): Promise<number> {
    const copy = await this.store.get(this.stamps.copyKey(namespace, principal, near));
    const stamp = await this.stamps.check(namespace, principal, this.settingsOf(namespace), copy?.value);
    return Math.max(this.options.now(), stamp);
  }

  /**
   * isRevoked says whether a live session's principal has a not-before stamp later than its binding.
   * `stampOf` reads stamps (a listing passes one that reads each principal's once).
   */
  async isRevoked(session: StoredSession, stampOf = this.stampReader()): Promise<boolean> {
    const record = session.record;
    if (record === undefined || record.principal === "") return false;
    return Number(record.boundAtMs) < (await stampOf(session.namespace, record.principal));
  }

  /** stampReader reads principals' stamps from every copy, each principal's once (for one listing or pruning). */
  stampReader(): (namespace: string, principal: string) => Promise<number> {
    const read = new Map<string, Promise<number>>();
    return (namespace, principal) => {
      let stamp = read.get(`${namespace}\n${principal}`);
      if (stamp === undefined) {
        stamp = this.stamps.stampOf(namespace, principal, this.settingsOf(namespace));
        read.set(`${namespace}\n${principal}`, stamp);
      }
      return stamp;
    };
  }

  // remember notes the principal a session key was last seen bound to, so that its next read asks for the
  // stamp copy in the same request. A hint only: the record read says which principal counts.
  private remember(key: string, principal: string): void {
    if (this.boundTo.get(key) === principal) return;
    if (this.boundTo.size >= MAX_BOUND_HINTS) this.boundTo.delete(this.boundTo.keys().next().value as string);
    this.boundTo.set(key, principal);
  }

  /** settingsOf resolves a namespace's expiry settings (once per namespace). */
  settingsOf(namespace: string): NamespaceSettings {
    let settings = this.settings.get(namespace);
    if (settings === undefined) {
      settings = namespaceSettings(this.options, namespace);
      this.settings.set(namespace, settings);
    }
    return settings;
  }

  /** toStored interprets raw stored bytes (from get or getMany) as a StoredSession. */
  toStored(
    namespace: string,
    sessionId: string,
    generation: string,
    key: string,
    bytes: Uint8Array | undefined,
    version: string | undefined,
  ): StoredSession {
    const settings = this.settingsOf(namespace);
    let record: SessionRecord | undefined;
    if (bytes !== undefined) {
      const decoded = decodeRecord(bytes, key);
      if (decoded.sessionId === sessionId && isLive(decoded, this.options.now(), settings)) {
        record = decoded;
      }
    }
    return { namespace, sessionId, generation, key, version, record, settings };
  }

  /**
   * write stores packages as the session's new state if it is unchanged since `read`: `cas` when memcached
   * had an item, `add` when it had none. The index hears of a session that comes into being, and of one
   * written for the first time in an index period (see `SessionIndex.due`).
   * `fresh` starts a new life (creation time now, a new handle, unbound) for a session deleted and written
   * in one transaction; `identity` overrides handle, creation time or binding (rotation, binding).
   * A session newly bound to a principal (or moved to a new key) is appended to the principal's list.
   * Throws RESOURCE_EXHAUSTED (writing nothing) when the record would exceed the item size.
   */
  async write(session: StoredSession, packages: Packages, fresh = false, identity: Partial<Identity> = {}): Promise<boolean> {
    const now = this.options.now();
    const kept = session.record && !fresh ? session.record : undefined;
    const handle = identity.handle ?? (kept?.handle || newHandle());
    const binding = identity.binding ?? (kept ? bindingOf(kept) : UNBOUND);
    const bytes = encodeRecord(
      {
        sessionId: session.sessionId,
        createdAtMs: identity.createdAtMs ?? (kept ? Number(kept.createdAtMs) : now),
        lastAccessedMs: now,
        packages,
        handle,
        binding,
      },
      this.maxRecordBytes,
    );
    const lifetime = lifetimeSeconds(session.settings);
    const written =
      session.version === undefined
        ? await this.store.add(session.key, bytes, lifetime)
        : await this.store.cas(session.key, bytes, session.version, lifetime);
    // The index hears of a session when it comes into being and at its first write in each index period
    // (see SessionIndex): one append, and none on most writes.
    const previousWriteMs = session.record === undefined ? undefined : Number(session.record.lastAccessedMs);
    if (written && this.index.due(session.settings, previousWriteMs, now)) {
      await this.index.add(session.namespace, session.generation, session.sessionId, session.settings);
    }
    // A session newly bound, rotated to a new key or bound again at a new time is (re)appended to the list.
    const listedAs = kept && { principal: kept.principal, handle: kept.handle, boundAtMs: Number(kept.boundAtMs) };
    if (
      written &&
      binding.principal !== "" &&
      (listedAs?.principal !== binding.principal || listedAs.handle !== handle || listedAs.boundAtMs !== binding.boundAtMs)
    ) {
      const entry = { handle, keyHash: this.keys.sessionHash(session.sessionId), boundAtMs: binding.boundAtMs };
      const newHandle = identity.listed !== true && !(listedAs?.principal === binding.principal && listedAs.handle === handle);
      await this.principals.add(session.namespace, session.generation, binding.principal, entry, newHandle, (entries) =>
        this.deadEntries(session.namespace, session.generation, binding.principal, entries),
      );
    }
    return written;
  }

  /** deadEntries reads the sessions of list entries and answers those that are not live sessions of the principal. */
  async deadEntries(namespace: string, generation: string, principal: string, entries: readonly ListEntry[]) {
    const keyOf = entries.map((e) => this.keys.sessionByHash(namespace, generation, e.keyHash));
    const found = await this.store.getMany(keyOf);
    const dead = new Set<ListEntry>();
    const stampOf = this.stampReader();
    for (const [i, entry] of entries.entries()) {
      const item = found.get(keyOf[i]!);
      const stored = this.fromEntry(namespace, generation, entry, item?.value, item?.version);
      if (stored === undefined || stored.record?.principal !== principal || (await this.isRevoked(stored, stampOf))) {
        dead.add(entry);
      }
    }
    return dead;
  }

  /**
   * remove deletes a session if it is unchanged since `read`: a tombstone goes in by compare-and-swap
   * first (so a concurrent writer is refused, not silently deleted), then the item is deleted.
   */
  async remove(session: StoredSession): Promise<boolean> {
    if (session.version === undefined) return true;
    const tombstone = encodeRecord(
      { sessionId: session.sessionId, createdAtMs: 0, lastAccessedMs: 0, packages: {}, deleted: true },
      this.maxRecordBytes,
    );
    if (!(await this.store.cas(session.key, tombstone, session.version, 60))) return false;
    await this.store.delete(session.key);
    return true;
  }

  /**
   * refreshIfDue moves a live session's last-access time to now when the last refresh is older than the
   * namespace's resolution (sliding expiry for reads). A conflict is fine: the other write refreshed it.
   */
  async refreshIfDue(session: StoredSession): Promise<void> {
    const record = session.record;
    if (record === undefined || session.version === undefined) return;
    if (this.options.now() - Number(record.lastAccessedMs) < session.settings.resolutionSeconds * 1000) return;
    await this.write(session, record.packages);
  }
}

// GENERATION_ATTEMPTS bounds the reads of one session under a generation that moved meanwhile.
const GENERATION_ATTEMPTS = 5;
// MAX_BOUND_HINTS bounds the session keys whose principal an instance remembers (about 200 bytes each).
const MAX_BOUND_HINTS = 100_000;

/** newHandle draws a session handle: 128 bits from the CSPRNG, base64url (22 characters). Not a secret. */
export function newHandle(): string {
  return randomBytes(16).toString("base64url");
}

/**
 * lifetimeSeconds is the memcached expiry of a record: the namespace's timeout plus 2 s, because memcached
 * expires only to about a second. It is a backstop: the record's own last-access time is the clock.
 */
export function lifetimeSeconds(settings: NamespaceSettings): number {
  return Math.ceil(settings.timeoutSeconds) + 2;
}
