import { createServer } from "node:net";

/**
 * sleep resolves after `ms` of wall-clock time. Unit-level specs sleep at most 500 ms (and prefer
 * `eventually` or a fake clock); a process-level spec that must wait longer for a real timer says why.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** EventuallyOptions bound `eventually`: give up after `timeoutMs` (default 5000), poll every `intervalMs` (10). */
export interface EventuallyOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * eventually polls `check` until it neither returns (or resolves to) false nor throws: a predicate or an assertion,
 * for at most `timeoutMs`; then it fails with an error naming `what` it waited for and the last failure.
 * It resolves as soon as the condition holds: a bounded wait, never a timing claim.
 */
export async function eventually(
  what: string,
  check: () => unknown,
  { timeoutMs = 5000, intervalMs = 10 }: EventuallyOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "it never held";
  for (;;) {
    try {
      if ((await check()) !== false) return;
      last = "the check answered false";
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() >= deadline) throw new Error(`waited ${timeoutMs} ms for ${what}: ${last}`);
    await sleep(intervalMs);
  }
}

/**
 * freePort finds a TCP port free on `host` (default 127.0.0.1) by binding port 0 and closing again.
 * Caveat: another program may take it before the caller binds it; callers that can bind port 0 should.
 */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** FakeClock is a clock in Unix ms that moves only when told: give `now` to CoreOptions, then `advance`. */
export interface FakeClock {
  /** now reads the clock (Unix ms). */
  readonly now: () => number;
  /** advance moves the clock forward by `ms`. */
  advance(ms: number): void;
}

/** fakeClock starts a FakeClock at `startMs` (default: the wall clock now, so stored times look real). */
export function fakeClock(startMs = Date.now()): FakeClock {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    advance(ms) {
      nowMs += ms;
    },
  };
}
