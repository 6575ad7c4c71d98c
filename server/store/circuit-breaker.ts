import { StoreUnavailableError } from "./store.js";

/**
 * CircuitBreaker keeps one memcached server that stopped answering (frozen, overloaded, cut off) from
 * costing every command a full command timeout. Internal to server/store.
 *
 * - `trip(err)` after a command timed out opens the breaker: `check()` then throws StoreUnavailableError at
 *   once, without sending anything. A refused connection does not trip it: that failure costs no wait, and
 *   a restarted server is used again at once.
 * - While open, the breaker probes the server (memcached `version`) every `breakMs`, in the background:
 *   no caller waits for a probe. The first probe answered closes it.
 * - Only this server's commands fail fast: in a pool, the other servers' keys are served as usual.
 */
export interface CircuitBreaker {
  /** open is true while commands fail fast. */
  readonly open: boolean;
  /** check throws StoreUnavailableError while the breaker is open. */
  check(): void;
  /** trip opens the breaker after `err` (a timeout), and starts probing. */
  trip(err: StoreUnavailableError): void;
  /** stop ends probing for good (the store is closing). */
  stop(): void;
}

/** createCircuitBreaker makes a breaker for `address`; `probe` resolves when the server answers. */
export function createCircuitBreaker(address: string, breakMs: number, probe: () => Promise<unknown>): CircuitBreaker {
  let cause: StoreUnavailableError | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      probe().then(
        () => {
          cause = undefined;
        },
        () => schedule(),
      );
    }, breakMs);
    timer.unref();
  }

  return {
    get open() {
      return cause !== undefined;
    },
    check() {
      if (cause !== undefined) {
        throw new StoreUnavailableError(`${cause.message} (failing fast; probing ${address} every ${breakMs} ms)`, { cause });
      }
    },
    trip(err) {
      if (cause !== undefined || stopped) return;
      cause = err;
      schedule();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
