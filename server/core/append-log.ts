import type { Store } from "../store/store.js";

/** LogSegment is one stored item of an append log, as read: its key, version and entries in order. */
export interface LogSegment {
  readonly key: string;
  readonly version: string;
  readonly entries: readonly string[];
}

/** AppendLogOptions tune an AppendLog; each has a default. */
export interface AppendLogOptions {
  /** maxSegments bounds the items one log may spread over when each fills up to the item size. Default 16. */
  maxSegments: number;
  /** segmentsPerRead is how many segments a read asks for at once, before following the chain. Default 2. */
  segmentsPerRead: number;
}

const defaults: AppendLogOptions = { maxSegments: 16, segmentsPerRead: 2 };
// Internal: the segment hints remembered (one per log written recently); cleared when full.
const HINT_CACHE_SIZE = 10_000;

/**
 * AppendLog keeps lists of short entries (session ids, handles: printable ASCII, no newline) in memcached
 * so that adding one costs O(1) whatever the list's length: one `append` of `entry\n` (an `add` when the
 * item is absent). Entries are self-delimiting lines, so a list is the concatenation of the values
 * appended to it, however a store transforms each appended value on its way (e.g. sealing it).
 *
 * - A log named `base` lives in segments `base`, `base.1`, `base.2`... An append refused because the item
 *   is full (memcached answers NOT_STORED past its item size) goes on in the next segment; each instance
 *   remembers the segment it last appended to. `append` answers false only when every segment is full.
 * - Nothing is ever rewritten on the append path. Duplicates and dead entries are dropped lazily by
 *   `compact`, a compare-and-swap against the version read: an append racing with it changes that version,
 *   so the compaction fails (to be tried again by a later reader) and nothing is lost.
 * - A segment lost with its node loses only its own entries; a read follows the chain past a missing
 *   segment as long as one of the `segmentsPerRead` segments read together is present.
 */
export class AppendLog {
  private readonly options: AppendLogOptions;
  private readonly hints = new Map<string, number>();

  constructor(
    private readonly store: Store,
    options: Partial<AppendLogOptions> = {},
  ) {
    this.options = { ...defaults, ...options };
  }

  /** segmentKey names segment `n` of the log `base`. */
  segmentKey(base: string, n: number): string {
    return n === 0 ? base : `${base}.${n}`;
  }

  /**
   * append adds one entry to the log `base`; a segment it creates gets `lifetimeSeconds`. False when every
   * segment is full. Throws StoreUnavailableError when the store cannot be reached.
   */
  async append(base: string, entry: string, lifetimeSeconds: number): Promise<boolean> {
    const bytes = encodeEntries([entry]);
    for (let n = this.hints.get(base) ?? 0; n < this.options.maxSegments; n++) {
      const key = this.segmentKey(base, n);
      // append, else create, else append again (another writer created it in between); then it is full.
      const stored =
        (await this.store.append(key, bytes)) ||
        (await this.store.add(key, bytes, lifetimeSeconds)) ||
        (await this.store.append(key, bytes));
      if (stored) {
        if (n > 0 || this.hints.has(base)) this.remember(base, n);
        return true;
      }
    }
    return false;
  }

  /** read returns the present segments of the given logs, each log's in order (multi-gets, a few rounds). */
  async read(bases: readonly string[]): Promise<LogSegment[]> {
    const segments: LogSegment[] = [];
    let pending = bases.map((base) => ({ base, from: 0 }));
    while (pending.length > 0) {
      const wanted = pending.flatMap(({ base, from }) =>
        Array.from({ length: this.options.segmentsPerRead }, (_, i) => ({ base, n: from + i })),
      );
      const found = await this.store.getMany(wanted.map(({ base, n }) => this.segmentKey(base, n)));
      const next: typeof pending = [];
      for (const { base, from } of pending) {
        let anyPresent = false;
        for (let n = from; n < from + this.options.segmentsPerRead; n++) {
          const key = this.segmentKey(base, n);
          const item = found.get(key);
          if (item === undefined) continue;
          anyPresent = true;
          segments.push({ key, version: item.version, entries: parseEntries(item.value) });
        }
        const to = from + this.options.segmentsPerRead;
        if (anyPresent && to < this.options.maxSegments) next.push({ base, from: to });
      }
      pending = next;
    }
    return segments;
  }

  /**
   * compact rewrites a segment with its entries that `keep` accepts, each once, if that drops any; by
   * compare-and-swap against the version it was read at. False when it changed since (try again later).
   */
  async compact(segment: LogSegment, keep: (entry: string) => boolean, lifetimeSeconds: number): Promise<boolean> {
    const kept = [...new Set(segment.entries)].filter(keep);
    if (kept.length === segment.entries.length) return true;
    return this.store.cas(segment.key, encodeEntries(kept), segment.version, lifetimeSeconds);
  }

  private remember(base: string, n: number): void {
    if (this.hints.size >= HINT_CACHE_SIZE) this.hints.clear();
    this.hints.set(base, n);
  }
}

/** encodeEntries writes entries as lines (`entry\n` each). */
export function encodeEntries(entries: readonly string[]): Uint8Array {
  return Buffer.from(entries.map((e) => `${e}\n`).join(""), "latin1");
}

/** parseEntries reads the lines of a log segment; empty lines are skipped. */
export function parseEntries(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  return text.split("\n").filter((line) => line !== "");
}
