import { Code, SessionError } from "../core/errors.js";
import type { TransactionStream } from "./transaction-stream.js";

/**
 * StreamRegistry is one server's record of its transaction streams: which are active (to drain them on
 * shutdown) and how many transactions are open (bounded by maxOpenTransactions).
 */
export class StreamRegistry {
  /** streams are the active Transaction streams. */
  readonly streams = new Set<TransactionStream>();
  private open = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    /** maxOpenTransactions bounds open transactions in this process; 0 = no bound. */
    readonly maxOpenTransactions: number,
    /** idleTimeoutMs discards a transaction with no op for this long; 0 = never. */
    readonly idleTimeoutMs: number,
  ) {}

  /**
   * add records an active stream. While streams are active, one unref'd timer sweeps them every quarter of
   * the idle timeout (at most every second) and ends those whose open transaction has been idle too long:
   * one timer for all streams, none re-armed per op.
   */
  add(stream: TransactionStream): void {
    this.streams.add(stream);
    if (this.sweeper !== undefined || this.idleTimeoutMs <= 0) return;
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, this.idleTimeoutMs / 4));
    this.sweeper.unref();
  }

  /** delete forgets a stream that ended. */
  delete(stream: TransactionStream): void {
    this.streams.delete(stream);
    if (this.streams.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private sweep(): void {
    const idleBefore = Date.now() - this.idleTimeoutMs;
    for (const stream of [...this.streams]) {
      if (stream.hasOpenTransaction && stream.idleSinceMs <= idleBefore) stream.closeIdle(this.idleTimeoutMs);
    }
  }

  /** openTransactions is how many transactions are open now. */
  get openTransactions(): number {
    return this.open;
  }

  /** reserve counts a transaction about to open; RESOURCE_EXHAUSTED at the bound. */
  reserve(): void {
    if (this.maxOpenTransactions > 0 && this.open >= this.maxOpenTransactions) {
      throw new SessionError(
        Code.RESOURCE_EXHAUSTED,
        `this sessiond already has ${this.open} open transactions (--max-transactions): retry shortly or raise the bound`,
      );
    }
    this.open++;
  }

  /** release counts a transaction closed (committed, aborted, discarded). */
  release(): void {
    this.open--;
  }
}
