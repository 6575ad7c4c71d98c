import type { SessionRecord } from "../../gen/sessiond/record/v1/record_pb.js";
import type { Store } from "../store/store.js";
import type { Generations } from "./generations.js";
import type { Keys } from "./keys.js";
import { type CoreOptions, type NamespaceSettings, namespaceSettings, RECORD_OVERHEAD_BYTES } from "./options.js";
import type { SessionIndex } from "./session-index.js";
import { decodeRecord, encodeRecord, isLive, type Packages } from "./session-record.js";

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
  // Each namespace's settings, resolved once (options do not change after start).
  private readonly settings = new Map<string, NamespaceSettings>();

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly generations: Generations,
    private readonly index: SessionIndex,
    private readonly options: CoreOptions,
  ) {
    this.maxRecordBytes = options.maxItemBytes - RECORD_OVERHEAD_BYTES;
  }

  /** read fetches a session (one memcached gets, plus the cached namespace generation). */
  async read(namespace: string, sessionId: string): Promise<StoredSession> {
    const generation = await this.generations.current(namespace);
    const key = this.keys.session(namespace, generation, sessionId);
    const found = await this.store.get(key);
    return this.toStored(namespace, sessionId, generation, key, found?.value, found?.version);
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
      if (decoded.sessionId === sessionId && isLive(decoded, this.options.now(), settings.timeoutSeconds)) {
        record = decoded;
      }
    }
    return { namespace, sessionId, generation, key, version, record, settings };
  }

  /**
   * write stores packages as the session's new state if it is unchanged since `read`: `cas` when memcached
   * had an item, `add` when it had none. The index hears of a session that comes into being, and of one
   * written for the first time in an index period (see `SessionIndex.due`).
   * `fresh` starts a new life (creation time now) for a session deleted and written in one transaction.
   * Throws RESOURCE_EXHAUSTED (writing nothing) when the record would exceed the item size.
   */
  async write(session: StoredSession, packages: Packages, fresh = false): Promise<boolean> {
    const now = this.options.now();
    const bytes = encodeRecord(
      {
        sessionId: session.sessionId,
        createdAtMs: session.record && !fresh ? Number(session.record.createdAtMs) : now,
        lastAccessedMs: now,
        packages,
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
    return written;
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

/**
 * lifetimeSeconds is the memcached expiry of a record: the namespace's timeout plus 2 s, because memcached
 * expires only to about a second. It is a backstop: the record's own last-access time is the clock.
 */
export function lifetimeSeconds(settings: NamespaceSettings): number {
  return Math.ceil(settings.timeoutSeconds) + 2;
}
