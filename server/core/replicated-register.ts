import { type Store, StoreUnavailableError } from "../store/store.js";

/** RegisterCodec turns a register's value into bytes and back, and orders values. Internal to the core. */
export interface RegisterCodec<T> {
  encode(value: T): Uint8Array;
  /** decode returns undefined for bytes that are not a value (they count as absent). */
  decode(bytes: Uint8Array): T | undefined;
  /**
   * compare orders values by rank: negative when a < b, 0 when of the same rank, positive when a > b.
   * Two values of one rank that are not `equal` are rivals (two writers proposed them at once): the first
   * written wins, see `ReplicatedRegister.settle`.
   */
  compare(a: T, b: T): number;
  /** equal says whether two values are the same value (not only of the same rank). */
  equal(a: T, b: T): boolean;
}

/** ReplicatedRegisterOptions tune a ReplicatedRegister; each has a default. */
export interface ReplicatedRegisterOptions {
  /**
   * graceMs is how long a read waits for the other replicas once one has answered with a value, before it
   * answers with the largest value seen. A frozen node never answers: it costs a read this much, not a
   * command timeout. Default 20 ms.
   */
  graceMs: number;
  /** attempts bounds the compare-and-swap rounds of `raise` on one replica. Default 20. */
  attempts: number;
  /**
   * absentQuorum lets `read` answer undefined when more than half of the replicas answered absent (none
   * with a value), after graceMs for the rest, instead of failing because one could not be read. For
   * values whose absence is the common case (a principal never revoked): a frozen node must not fail every
   * read. Default false.
   */
  absentQuorum: boolean;
}

const defaults: ReplicatedRegisterOptions = { graceMs: 20, attempts: 20, absentQuorum: false };

/**
 * ReplicatedRegister keeps a small value that only ever grows (a namespace generation, a principal's
 * not-before stamp) on every node of a memcached pool, so that no single node holds what a whole namespace
 * needs. Its copies live under `store.replicaKeys(key)`: one key per node of a ketama pool, or several keys
 * on one server (a proxy in front of a pool).
 *
 * - `raise` writes a value to every replica by compare-and-swap, never lowering one; it succeeds only when
 *   every replica holds the value or a larger one, and otherwise throws StoreUnavailableError (retry it).
 *   A replica that holds a rival of the same rank keeps it (first writer wins).
 * - `settle` is `raise` for values whose rivals must not both be used (a generation): the first replica of
 *   `replicaKeys` decides between rivals, every other replica is then made to hold the decided value, and
 *   the caller uses only the value `settle` answers. Every writer visits the first replica first, so two
 *   writers racing with rivals both answer the one written there first, before either uses it.
 * - `nearKey` names the copy on the node of another key, so a hot path reads the copy in the same request
 *   as that key (see `Store.replicaKeyNear`) instead of trusting a cached value.
 * - `read` answers the largest value among the replicas that answer: once one has answered with a value,
 *   the others get `graceMs`. After a successful `raise`, a replica can only lose its copy (a node restarted
 *   empty, an eviction), never go back to an older value, so any copy read is at least the raised value: a
 *   raise is never forgotten while one copy survives. Replicas found absent or older are repaired in the
 *   background.
 * - A read where no replica answered with a value and one failed throws StoreUnavailableError: the value
 *   cannot be known (unless `absentQuorum`: then more than half answering absent is enough). When every
 *   replica answered absent, it answers undefined.
 */
export class ReplicatedRegister<T> {
  private readonly options: ReplicatedRegisterOptions;

  constructor(
    private readonly store: Store,
    private readonly codec: RegisterCodec<T>,
    options: Partial<ReplicatedRegisterOptions> = {},
  ) {
    this.options = { ...defaults, ...options };
  }

  /** read answers the largest value of the replicas (see the class comment); undefined when all are absent. */
  read(key: string, lifetimeSeconds: number): Promise<T | undefined> {
    return this.collect(key, lifetimeSeconds, false);
  }

  /** readAll is `read` that waits for every replica and throws StoreUnavailableError unless all answered. */
  readAll(key: string, lifetimeSeconds: number): Promise<T | undefined> {
    return this.collect(key, lifetimeSeconds, true);
  }

  /**
   * raise makes every replica hold `value` or a larger one. Throws StoreUnavailableError, after trying every
   * replica, when one could not be written (some replicas may then hold the value already).
   */
  async raise(key: string, value: T, lifetimeSeconds: number): Promise<void> {
    const results = await Promise.allSettled(
      this.store.replicaKeys(key).map((replica) => this.raiseOne(replica, value, lifetimeSeconds, false)),
    );
    const failed = results.filter((r) => r.status === "rejected");
    if (failed.length > 0) {
      const cause = (failed[0] as PromiseRejectedResult).reason;
      throw new StoreUnavailableError(
        `${failed.length} of ${results.length} storage nodes could not be written: ${(cause as Error).message}`,
        { cause },
      );
    }
  }

  /**
   * settle makes `proposal`'s rank the register's on every replica, first writer wins: the first replica
   * keeps a value of that rank (or higher) it already holds, and that value, not `proposal`, is then written
   * to every other replica, replacing a rival there. Answers the value every replica now holds at least
   * (higher when another writer moved further meanwhile). Throws StoreUnavailableError when a replica could
   * not be written: nothing may use the proposal then (some replicas may hold it: a later settle adopts it).
   */
  async settle(key: string, proposal: T, lifetimeSeconds: number): Promise<T> {
    const [first, ...others] = this.store.replicaKeys(key);
    const decided = await this.raiseOne(first!, proposal, lifetimeSeconds, false);
    const results = await Promise.allSettled(others.map((replica) => this.raiseOne(replica, decided, lifetimeSeconds, true)));
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) {
      const cause = failed.reason as Error;
      throw new StoreUnavailableError(`a storage node could not be written: ${cause.message}`, { cause });
    }
    let held: T = decided;
    for (const r of results as PromiseFulfilledResult<T>[]) if (this.codec.compare(r.value, held) > 0) held = r.value;
    return held;
  }

  /** nearKey is the key of the copy on the node of `near` (see `Store.replicaKeyNear`). */
  nearKey(key: string, near: string): string {
    return this.store.replicaKeyNear(key, near);
  }

  /** decode reads a copy's bytes (as read with `nearKey`); undefined when absent or not a value. */
  decode(bytes: Uint8Array | undefined): T | undefined {
    return bytes === undefined ? undefined : this.codec.decode(bytes);
  }

  // Internal: makes one replica hold `value` or a higher rank; answers what it holds then. A rival of the
  // same rank is kept (first writer wins) unless `replaceRival` (settle's copies of the decided value).
  private async raiseOne(replica: string, value: T, lifetimeSeconds: number, replaceRival = false): Promise<T> {
    const bytes = this.codec.encode(value);
    for (let attempt = 0; attempt < this.options.attempts; attempt++) {
      const found = await this.store.get(replica);
      const current = found === undefined ? undefined : this.codec.decode(found.value);
      if (current !== undefined) {
        const order = this.codec.compare(current, value);
        if (order > 0 || (order === 0 && (!replaceRival || this.codec.equal(current, value)))) return current;
      }
      const written =
        found === undefined
          ? await this.store.add(replica, bytes, lifetimeSeconds)
          : await this.store.cas(replica, bytes, found.version, lifetimeSeconds);
      if (written) return value;
    }
    throw new StoreUnavailableError(`replica ${replica} kept changing under ${this.options.attempts} attempts`);
  }

  // Internal: reads every replica; answers as the class comment says, then repairs the stale ones.
  private collect(key: string, lifetimeSeconds: number, all: boolean): Promise<T | undefined> {
    const replicas = this.store.replicaKeys(key);
    const values: Array<T | undefined> = new Array(replicas.length);
    const failed = new Set<number>();
    let pending = replicas.length;
    let absent = 0;
    let failure: unknown;
    let best: T | undefined;
    let bestAt = -1;
    return new Promise<T | undefined>((resolve, reject) => {
      let answered = false;
      let timer: NodeJS.Timeout | undefined;
      const answer = () => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        const quorum = this.options.absentQuorum && !all && absent * 2 > replicas.length;
        if (failure !== undefined && (all || (best === undefined && !quorum))) {
          reject(
            failure instanceof StoreUnavailableError
              ? failure
              : new StoreUnavailableError(`replicated value unreadable: ${String(failure)}`, { cause: failure }),
          );
        } else {
          resolve(best);
        }
      };
      const settle = () => {
        pending--;
        if (pending === 0) {
          answer();
          if (best !== undefined) this.repair(replicas, values, failed, best, bestAt === 0, lifetimeSeconds);
        } else if (
          !all &&
          timer === undefined &&
          (best !== undefined || (this.options.absentQuorum && absent * 2 > replicas.length))
        ) {
          timer = setTimeout(answer, this.options.graceMs);
        }
      };
      replicas.forEach((replica, i) => {
        this.store.get(replica).then(
          (found) => {
            const value = found === undefined ? undefined : this.codec.decode(found.value);
            values[i] = value;
            if (value === undefined) absent++;
            // Between rivals of one rank, the first replica's value is the decided one (see settle).
            const order = value === undefined || best === undefined ? 1 : this.codec.compare(value, best);
            if (value !== undefined && (order > 0 || (order === 0 && i < bestAt))) {
              best = value;
              bestAt = i;
            }
            settle();
          },
          (err: unknown) => {
            failure ??= err;
            failed.add(i);
            settle();
          },
        );
      });
    });
  }

  // Internal: raises, in the background, the replicas found absent or older than `best`.
  private repair(
    replicas: readonly string[],
    values: ReadonlyArray<T | undefined>,
    failed: ReadonlySet<number>,
    best: T,
    decided: boolean,
    lifetimeSeconds: number,
  ) {
    replicas.forEach((replica, i) => {
      const value = values[i];
      // A replica that failed is not written now: its node is down or slow. A rival is replaced only by
      // the first replica's value, which decided between them.
      const order = value === undefined ? -1 : this.codec.compare(value, best);
      if (failed.has(i) || order > 0 || (order === 0 && (!decided || this.codec.equal(value!, best)))) return;
      // A failed repair is tried again by the next read that sees the replica stale.
      this.raiseOne(replica, best, lifetimeSeconds, decided).catch(() => undefined);
    });
  }
}
