import { MAX_LIFETIME_SECONDS, type Store } from "../store/store.js";
import { AppendLog, type LogSegment } from "./append-log.js";
import type { Keys } from "./keys.js";
import { type NamespaceSettings, STAMP_SKEW_MS } from "./options.js";

/** Logger is the slice of pino the core uses for problems it recovers from. */
export interface Logger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** INDEX_MARGIN_SECONDS keeps index items a little past the last moment they can name a live session. */
const INDEX_MARGIN_SECONDS = 60;
/** MIN_PERIOD_MS is the shortest index period (memcached's expiry is accurate to about a second). */
const MIN_PERIOD_MS = 1000;
/** PERIODS_PER_TIMEOUT bounds the periods a listing reads: at most this many, plus one. */
const PERIODS_PER_TIMEOUT = 32;

/**
 * SessionIndex lists the session ids of a namespace, since memcached cannot enumerate keys (lovely.session's
 * items()). Writing to it costs O(1) whatever the namespace's size: one `append` of the id to one item.
 *
 * - Time is cut into periods of `periodMs(settings)` = max(1 s, resolution, timeout / 32). A write that
 *   brings a session into being, or that is its first write in a new period, appends its id to the item of
 *   (period, shard), the shard being a hash of the id. A live session was written within its timeout, so
 *   it has an entry in one of the periods a listing reads: those from (now - timeout) to now (at most 33),
 *   widened by the clock skew allowed between instances (STAMP_SKEW_MS) on each side.
 * - Items are append logs (`AppendLog`): segments past the item size, lazy compaction under compare-and-swap
 *   by listings. They expire by themselves once no session they name can still be live.
 * - An item lost with its node (a restarted memcached) loses only its own entries: a session listed there
 *   is listed again after its next write in a later period (at most one period later; reads refresh at the
 *   resolution, so an active session comes back within about a period).
 * - Index writes that fail are logged, never thrown: the session itself is stored.
 */
export class SessionIndex {
  private readonly log: AppendLog;

  constructor(
    store: Store,
    private readonly keys: Keys,
    readonly shards: number,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {
    this.log = new AppendLog(store);
  }

  /** shardOf maps an id to its shard (FNV-1a). */
  shardOf(sessionId: string): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < sessionId.length; i++) {
      hash = Math.imul(hash ^ sessionId.charCodeAt(i), 0x01000193);
    }
    return (hash >>> 0) % this.shards;
  }

  /** periodMs is the length of an index period of a namespace with these settings. */
  periodMs(settings: NamespaceSettings): number {
    return Math.max(MIN_PERIOD_MS, settings.resolutionSeconds * 1000, (settings.timeoutSeconds * 1000) / PERIODS_PER_TIMEOUT);
  }

  /**
   * due says whether a write at `nowMs` must append the id: the session comes into being
   * (`previousWriteMs` undefined) or was last written in an earlier period.
   */
  due(settings: NamespaceSettings, previousWriteMs: number | undefined, nowMs: number): boolean {
    if (previousWriteMs === undefined) return true;
    const period = this.periodMs(settings);
    return Math.floor(previousWriteMs / period) !== Math.floor(nowMs / period);
  }

  /** add appends an id to the current period's shard. Failures are logged, not thrown. */
  async add(namespace: string, generation: string, sessionId: string, settings: NamespaceSettings): Promise<void> {
    const period = this.periodMs(settings);
    const now = this.now();
    const p = Math.floor(now / period);
    const shard = this.shardOf(sessionId);
    try {
      const base = this.keys.indexItem(namespace, generation, p, shard);
      if (!(await this.log.append(base, sessionId, this.lifetimeSeconds(settings, p, now)))) {
        this.logger.error(
          { namespace, shard, periodSeconds: period / 1000 },
          "session index full: too many sessions written in one period for one shard; the session is stored but not listed until its next write in a later period (raise --index-shards)",
        );
      }
    } catch (err) {
      this.logger.warn(
        { err, namespace, shard },
        "session index not updated; the session is stored, and listed again after its next write in a later period",
      );
    }
  }

  /** read returns the present index items of one shard over the periods a listing covers now. */
  read(namespace: string, generation: string, shard: number, settings: NamespaceSettings): Promise<LogSegment[]> {
    const period = this.periodMs(settings);
    const now = this.now();
    // Other instances' clocks may be up to STAMP_SKEW_MS behind or ahead of this one: a session they
    // indexed within the timeout is in one of these periods, whatever they took the time to be.
    const first = Math.floor((now - settings.timeoutSeconds * 1000 - STAMP_SKEW_MS) / period);
    const last = Math.floor((now + STAMP_SKEW_MS) / period);
    const bases: string[] = [];
    for (let p = first; p <= last; p++) bases.push(this.keys.indexItem(namespace, generation, p, shard));
    return this.log.read(bases);
  }

  /**
   * compact drops from an item the ids listed in `dead` and duplicates, by compare-and-swap (an append
   * since the read makes it fail: a later listing tries again). Failures are logged, not thrown.
   */
  async compact(namespace: string, segment: LogSegment, dead: ReadonlySet<string>, settings: NamespaceSettings): Promise<void> {
    try {
      // The item's period is in its key (`...:i:<period>:<shard>[.<segment>]`): it keeps its expiry.
      const p = Number(/:i:(-?\d+):\d+(\.\d+)?$/.exec(segment.key)?.[1]);
      await this.log.compact(segment, (id) => !dead.has(id), this.lifetimeSeconds(settings, p, this.now()));
    } catch (err) {
      this.logger.warn({ err, namespace }, "session index compaction failed; a later listing tries again");
    }
  }

  // Internal: an item of period p is needed until the end of p plus the timeout (its ids' last chance to live).
  private lifetimeSeconds(settings: NamespaceSettings, p: number, nowMs: number): number {
    const endMs = (p + 1) * this.periodMs(settings) + settings.timeoutSeconds * 1000;
    return Math.min(MAX_LIFETIME_SECONDS, Math.max(1, Math.ceil((endMs - nowMs) / 1000)) + INDEX_MARGIN_SECONDS);
  }
}
