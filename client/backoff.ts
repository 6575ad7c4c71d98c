import { status } from "@grpc/grpc-js";
import { ClientError, cancelledError } from "./client-error.js";
import type { Backoff } from "./options.js";

/**
 * backoffDelayMs (internal) is the wait before try `attempt + 1` after `attempt` failed: "full jitter",
 * a uniform random time below min(maxDelayMs, baseDelayMs * 2^(attempt-1)). Randomness keeps writers that
 * collided from colliding again in lockstep.
 */
export function backoffDelayMs(backoff: Backoff, attempt: number): number {
  const cap = Math.min(backoff.maxDelayMs, backoff.baseDelayMs * 2 ** (attempt - 1));
  return Math.random() * cap;
}

/**
 * sleepBeforeRetry (internal) waits `delayMs`, but never past the deadline: when the deadline comes first it
 * throws DEADLINE_EXCEEDED (naming the error that made the call retry). A signal ends the wait with CANCELLED.
 */
export async function sleepBeforeRetry(
  method: string,
  delayMs: number,
  deadline: Date | undefined,
  signal: AbortSignal | undefined,
  lastError: ClientError,
): Promise<void> {
  if (deadline !== undefined && Date.now() + delayMs >= deadline.getTime()) {
    throw new ClientError(method, status.DEADLINE_EXCEEDED, `deadline passed while retrying after: ${lastError.details}`, {
      cause: lastError,
    });
  }
  if (signal?.aborted) throw cancelledError(method, signal);
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelledError(method, signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
