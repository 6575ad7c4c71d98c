import { type Store, StoreUnavailableError } from "../store/store.js";

/** RegisterCodec turns a register's value into bytes and back, and orders values. Internal to the core. */
export interface RegisterCodec<T> {
  encode(value: T): Uint8Array;
  /** decode returns undefined for bytes that are not a value (they count as absent). */
  decode(bytes: Uint8Array): T | undefined;
  /** compare orders values: negative when a < b, 0 when equal, positive when a > b. */
  compare(a: T, b: T): number;
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
      this.store.replicaKeys(key).map((replica) => this.raiseOne(replica, value, lifetimeSeconds)),
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

  private async raiseOne(replica: string, value: T, lifetimeSeconds: number): Promise<void> {
    const bytes = this.codec.encode(value);
    for (let attempt = 0; attempt < this.options.attempts; attempt++) {
      const found = await this.store.get(replica);
      const current = found === undefined ? undefined : this.codec.decode(found.value);
      if (current !== undefined && this.codec.compare(current, value) >= 0) return;
      const written =
        found === undefined
          ? await this.store.add(replica, bytes, lifetimeSeconds)
          : await this.store.cas(replica, bytes, found.version, lifetimeSeconds);
      if (written) return;
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
          if (best !== undefined) this.repair(replicas, values, failed, best, lifetimeSeconds);
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
            if (value !== undefined && (best === undefined || this.codec.compare(value, best) > 0)) best = value;
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
    lifetimeSeconds: number,
  ) {
    replicas.forEach((replica, i) => {
      const value = values[i];
      // A replica that failed is not written now: its node is down or slow.
      if (failed.has(i) || (value !== undefined && this.codec.compare(value, best) >= 0)) return;
      // A failed repair is tried again by the next read that sees the replica stale.
      this.raiseOne(replica, best, lifetimeSeconds).catch(() => undefined);
    });
  }
}
