import type { Client } from "@grpc/grpc-js";
import { backoffDelayMs, sleepBeforeRetry } from "./backoff.js";
import { ConflictError, cancelledError, deadlineError } from "./client-error.js";
import { openOpStream, TRANSACTION_PATH } from "./op-stream.js";
import { type ClientSettings, deadlineOf, type TransactionOptions } from "./options.js";
import { createTransaction, type TransactionOps } from "./transaction.js";

/**
 * TransactionFunction is the body of `client.transaction`: it reads and writes through `tx` and returns a
 * result. Caution: it runs again from the start after a commit conflict, so it must not have effects
 * outside `tx` that cannot be repeated (send mails after the transaction, not inside).
 */
export type TransactionFunction<T> = (tx: TransactionOps) => Promise<T> | T;

const noop = () => undefined;

/**
 * runTransaction (internal) runs `fn` in a transaction on one stream: begin, `fn`, commit. If `fn` throws,
 * the transaction is aborted and the error rethrown. On a commit conflict it waits a jittered backoff and
 * runs `fn` again on the same stream, up to `attempts` runs, then throws ConflictError. The deadline
 * and the signal bound the whole run; when the signal fires the stream is cancelled and the server
 * discards the open transaction.
 */
export async function runTransaction<T>(
  client: Client,
  settings: ClientSettings,
  namespace: string,
  sessionId: string,
  fn: TransactionFunction<T>,
  options: TransactionOptions,
): Promise<T> {
  if (options.signal?.aborted) throw cancelledError(TRANSACTION_PATH, options.signal);
  const attempts = Math.max(1, options.attempts ?? settings.transactionRetry.attempts);
  const deadline = deadlineOf(options, settings.timeoutMs);
  if (deadline !== undefined && deadline.getTime() <= Date.now()) throw deadlineError(TRANSACTION_PATH, deadline);
  const stream = openOpStream(client, deadline, options.signal);
  try {
    for (let attempt = 1; ; attempt++) {
      const tx = createTransaction(stream, namespace, sessionId, noop);
      let result: T;
      try {
        result = await fn(tx);
      } catch (err) {
        await tx.abort();
        throw err;
      }
      try {
        await tx.commit();
        return result;
      } catch (err) {
        // Closed already after most commit failures; open after RESOURCE_EXHAUSTED, which we do not retry.
        await tx.abort();
        if (!(err instanceof ConflictError)) throw err;
        if (attempt >= attempts) throw new ConflictError(err.method, err.details, attempt);
        const delayMs = backoffDelayMs(settings.transactionRetry, attempt);
        await sleepBeforeRetry(TRANSACTION_PATH, delayMs, deadline, options.signal, err);
      }
    }
  } finally {
    stream.end();
  }
}
