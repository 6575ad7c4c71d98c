// node:timers keeps the real setImmediate whatever the globals became: it lets every pending microtask run.
import { setImmediate as realSetImmediate } from "node:timers";

/** VirtualTimer is what the virtual setTimeout answers: enough of Node's Timeout for the core's use. */
export interface VirtualTimer {
  readonly id: number;
  ref(): VirtualTimer;
  unref(): VirtualTimer;
  hasRef(): boolean;
  refresh(): VirtualTimer;
  [Symbol.toPrimitive](): number;
}

// Internal: one event of the queue, run at `atMs`; ties run in the order they were scheduled.
interface Event {
  atMs: number;
  seq: number;
  run: () => void;
  cancelled: boolean;
}

/**
 * Scheduler is the simulation's one source of time: a virtual clock and a queue of events (storage
 * messages, the core's timers) run one at a time in time order. Between two events every microtask runs
 * (promise continuations of the core), so what happens between events is fixed by the code, and the order
 * of events is fixed by the seed that chose their delays: a seed replays exactly.
 */
export class Scheduler {
  private nowMs: number;
  private readonly heap: Event[] = [];
  private seq = 0;
  private readonly byTimer = new Map<number, Event>();
  /** events counts the events run so far. */
  events = 0;

  constructor(startMs: number) {
    this.nowMs = startMs;
  }

  /** now answers the virtual time in ms. */
  now(): number {
    return this.nowMs;
  }

  /** at runs `run` `delayMs` from now (at least the next event: ties keep scheduling order). */
  after(delayMs: number, run: () => void): { cancel(): void } {
    const event: Event = { atMs: this.nowMs + Math.max(0, delayMs), seq: this.seq++, run, cancelled: false };
    this.push(event);
    return {
      cancel: () => {
        event.cancelled = true;
      },
    };
  }

  /** timer is the virtual setTimeout: `run` after `delayMs`, cancellable with `clearTimer`. */
  timer(delayMs: number, run: () => void): VirtualTimer {
    const id = this.seq;
    const event: Event = {
      atMs: this.nowMs + Math.max(0, Number.isFinite(delayMs) ? delayMs : 0),
      seq: this.seq++,
      run: () => {
        this.byTimer.delete(id);
        run();
      },
      cancelled: false,
    };
    this.byTimer.set(id, event);
    this.push(event);
    const timer: VirtualTimer = {
      id,
      ref: () => timer,
      unref: () => timer,
      hasRef: () => true,
      refresh: () => timer,
      [Symbol.toPrimitive]: () => id,
    };
    return timer;
  }

  /** clearTimer cancels a timer from `timer` (or its id); anything else is ignored, as clearTimeout does. */
  clearTimer(timer: unknown): void {
    const id = typeof timer === "number" ? timer : (timer as VirtualTimer | undefined)?.id;
    if (id === undefined) return;
    const event = this.byTimer.get(id);
    if (event !== undefined) event.cancelled = true;
    this.byTimer.delete(id);
  }

  /**
   * runUntil runs events until `done()` holds, letting microtasks settle after each. It answers false when
   * the queue ran dry or a bound was passed first (nothing can happen any more: the run is stuck).
   */
  async runUntil(done: () => boolean, limits: { maxEvents: number; maxMs: number }): Promise<boolean> {
    await settle();
    while (!done()) {
      const event = this.pop();
      if (event === undefined || this.events >= limits.maxEvents || event.atMs > limits.maxMs) return false;
      if (event.cancelled) continue;
      this.nowMs = Math.max(this.nowMs, event.atMs);
      this.events++;
      event.run();
      await settle();
    }
    return true;
  }

  private push(event: Event): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Event | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

/** settle resolves once every pending microtask (and process.nextTick) has run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve));
}
