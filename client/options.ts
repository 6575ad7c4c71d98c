import { type ChannelCredentials, type ChannelOptions, credentials, status } from "@grpc/grpc-js";

/** Backoff is a jittered exponential backoff: attempt n waits a random time in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))). */
export interface Backoff {
  /** baseDelayMs is the cap of the first wait, in milliseconds. */
  baseDelayMs: number;
  /** maxDelayMs caps every wait, in milliseconds. */
  maxDelayMs: number;
}

/**
 * RetryPolicy says which failed unary calls the SDK tries again. RotateSession is never retried: it is
 * not idempotent (a retry after a lost answer would rotate the already-emptied old id).
 */
export interface RetryPolicy extends Backoff {
  /** attempts bounds the tries of one call, the first included; 1 turns retries off. */
  attempts: number;
  /** codes are the gRPC status codes worth another try. */
  codes: readonly status[];
}

/** TransactionRetry says how `client.transaction` runs a function again after a commit conflict (ABORTED). */
export interface TransactionRetry extends Backoff {
  /** attempts bounds the runs of the function, the first included. */
  attempts: number;
}

/** TlsOptions are PEM buffers or strings for a TLS channel; with `cert` and `key`, the client presents a certificate (mTLS). */
export interface TlsOptions {
  /** ca is the CA that signed the server's certificate. Default: the public roots (Node's). */
  ca?: Buffer | string;
  /** cert is the client certificate (chain) for mTLS. Needs `key`. */
  cert?: Buffer | string;
  /** key is the private key of `cert`. */
  key?: Buffer | string;
}

/** SessionClientOptions configure `createSessionClient`; pass any part of it, the rest keeps its default. */
export interface SessionClientOptions {
  /**
   * credentials secure the channel. Default: from `tls` when given, else `credentials.createInsecure()`
   * (plaintext). When both are given, `credentials` wins.
   */
  credentials: ChannelCredentials;
  /** tls makes a TLS channel (mTLS with `cert` and `key`) from PEM buffers or strings. Default: none. */
  tls: TlsOptions;
  /**
   * token is the bearer token sent on every call as `authorization: Bearer <token>`: a string, or a function
   * called for each call (for short-lived tokens). Default: none. Send tokens over TLS only.
   */
  token: string | (() => string);
  /**
   * timeoutMs is the default deadline, in milliseconds from the start of a call: a unary call with its
   * retries, one page of listSessions, or a whole `client.transaction` run with its attempts.
   * `Infinity` means no deadline. Default: 10000.
   */
  timeoutMs: number;
  /**
   * retry is the unary retry policy. Default: 3 attempts on UNAVAILABLE (storage or server down) and ABORTED
   * (the server's compare-and-swap lost too often under contention; nothing was written), waiting a random
   * time below 50, then 100 ms (capped at 1000).
   */
  retry: Partial<RetryPolicy>;
  /** transactionRetry is the conflict retry of `client.transaction`. Default: 10 attempts, waits below 5, 10, 20... ms (capped at 500). */
  transactionRetry: Partial<TransactionRetry>;
  /** channelOptions go to the grpc-js channel as they are, e.g. `{"grpc.keepalive_time_ms": 30000}`. Default: none. */
  channelOptions: ChannelOptions;
}

/** CallOptions bound one call: every SDK call takes them as its last argument. */
export interface CallOptions {
  /** signal cancels the call (code CANCELLED); a transaction's stream is cancelled and the server discards it. */
  signal?: AbortSignal;
  /** deadline is the absolute time the call must end by (code DEADLINE_EXCEEDED). Wins over timeoutMs. */
  deadline?: Date;
  /** timeoutMs overrides the client's default timeout for this call, in milliseconds. */
  timeoutMs?: number;
}

/** TransactionOptions bound one `client.transaction` run. */
export interface TransactionOptions extends CallOptions {
  /** attempts bounds the runs of the function on conflicts, the first included. Default: the client's transactionRetry.attempts (10). */
  attempts?: number;
}

/** ListOptions page through `listSessions`; a deadline applies to the whole listing, timeoutMs to each page. */
export interface ListOptions extends CallOptions {
  /** pageSize is how many sessions to ask for per call. Default: the server's (100). */
  pageSize?: number;
}

/** ClientSettings are the settings a client runs with, every option resolved. */
export interface ClientSettings {
  credentials: ChannelCredentials;
  token: (() => string) | undefined;
  timeoutMs: number;
  retry: RetryPolicy;
  transactionRetry: TransactionRetry;
  channelOptions: ChannelOptions;
}

/** resolveSettings merges options over the documented defaults (internal). */
export function resolveSettings(options: Partial<SessionClientOptions>): ClientSettings {
  return {
    credentials: options.credentials ?? (options.tls === undefined ? credentials.createInsecure() : tlsCredentials(options.tls)),
    token: typeof options.token === "string" ? constant(options.token) : options.token,
    timeoutMs: options.timeoutMs ?? 10_000,
    retry: { attempts: 3, codes: [status.UNAVAILABLE, status.ABORTED], baseDelayMs: 50, maxDelayMs: 1000, ...options.retry },
    transactionRetry: { attempts: 10, baseDelayMs: 5, maxDelayMs: 500, ...options.transactionRetry },
    channelOptions: options.channelOptions ?? {},
  };
}

function tlsCredentials(tls: TlsOptions): ChannelCredentials {
  const pem = (value: Buffer | string | undefined) => (value === undefined ? null : Buffer.from(value));
  return credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
}

function constant(token: string): () => string {
  return () => token;
}

/** deadlineOf turns call options into the absolute deadline of a call, or undefined for none (internal). */
export function deadlineOf(options: CallOptions, defaultTimeoutMs: number): Date | undefined {
  if (options.deadline !== undefined) return options.deadline;
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  return Number.isFinite(timeoutMs) ? new Date(Date.now() + timeoutMs) : undefined;
}
