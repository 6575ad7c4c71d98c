import type { Versioned } from "./store.js";

/**
 * GetBatcher gathers the single-key reads issued while the event loop handles one round of I/O and sends
 * them as one multi-key `gets` (in setImmediate, after that round). Under load many requests arrive in one
 * round: one command and one socket write then serve them all, where each `gets` would cost a system call.
 * The same key asked twice in a round is read once. Internal to server/store.
 */
export interface GetBatcher {
  /** get reads one key in the next batch. */
  get(key: string): Promise<Versioned | undefined>;
}

interface Waiter {
  resolve(value: Versioned | undefined): void;
  reject(err: unknown): void;
}

/** createGetBatcher batches `get`s over `getMany`. */
export function createGetBatcher(getMany: (keys: readonly string[]) => Promise<Map<string, Versioned>>): GetBatcher {
  let pending: Map<string, Waiter[]> | undefined;

  function flush(): void {
    const batch = pending!;
    pending = undefined;
    getMany([...batch.keys()]).then(
      (found) => {
        for (const [key, waiters] of batch) for (const w of waiters) w.resolve(found.get(key));
      },
      (err: unknown) => {
        for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
      },
    );
  }

  return {
    get(key) {
      if (pending === undefined) {
        pending = new Map();
        setImmediate(flush);
      }
      return new Promise((resolve, reject) => {
        const waiters = pending!.get(key);
        if (waiters === undefined) pending!.set(key, [{ resolve, reject }]);
        else waiters.push({ resolve, reject });
      });
    },
  };
}
