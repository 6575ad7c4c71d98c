import type { MultiCasRetrievalResponse } from "memcache-client";
import { MemcacheClient } from "memcache-client";
import { createCircuitBreaker } from "./circuit-breaker.js";
import { createGetBatcher } from "./get-batcher.js";
import type { Store, Versioned } from "./store.js";
import { StoreUnavailableError } from "./store.js";
import { checkDelta, checkLifetimeSeconds, checkStoreKey, checkValue, counterBytes } from "./store-arguments.js";
import type { StoreObserver } from "./store-observer.js";
import { createWriteCoalescer } from "./write-coalescer.js";

/** StoreLogger receives memcache-client's warnings and errors (e.g. a malformed reply), prefixed by server. */
export interface StoreLogger {
  warn(message: string): void;
  error(message: string): void;
}

/** MemcachedServerOptions configures the connection to one memcached; `createMemcachedStore` documents the defaults. */
export interface MemcachedServerOptions {
  cmdTimeoutMs: number;
  connectTimeoutMs: number;
  maxConnections: number;
  /** breakMs is how long commands fail fast after a timeout, between probes (see `createCircuitBreaker`). */
  breakMs: number;
  logger: StoreLogger | undefined;
  /** observer is told of every command (metrics, traces); none by default. */
  observer?: StoreObserver | undefined;
}

// memcached replies that are answers, not failures: each method lists those that mean `false`.
type Refusal = "NOT_STORED" | "EXISTS" | "NOT_FOUND";

// Node's error codes (net, dns, libuv) for a server that cannot be reached or a connection that broke.
const TRANSPORT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EADDRNOTAVAIL",
]);

/**
 * createMemcachedServer returns a Store over one memcached server ("host:port") through one
 * memcache-client `MemcacheClient` (never several servers per client: it picks one at random per command).
 * Values are written as Buffers with memcache-client's binary flag (8) and never compressed, so they
 * round-trip byte-exact. Connection failures and timeouts throw StoreUnavailableError naming the server;
 * the next command connects again, so a restarted memcached is used with no restart of the store.
 * Internal to server/store: use `createMemcachedStore`.
 */
export function createMemcachedServer(address: string, options: MemcachedServerOptions): Store {
  const client = new MemcacheClient({
    server: { server: address, maxConnections: options.maxConnections },
    cmdTimeout: options.cmdTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    // Small commands must not wait for delayed ACKs behind Nagle's algorithm.
    noDelay: true,
    logger: clientLogger(address, options.logger),
  });
  let closed = false;
  const breaker = createCircuitBreaker(address, options.breakMs, () => client.version());

  // send runs one memcache-client call (memcached's `command` carrying `keys` keys), turning the replies
  // listed in `refusals` into `false` and any other failure into a StoreUnavailableError (transport) or an
  // Error naming the server (a reply). The observer hears of each command and its outcome.
  async function send<T>(
    command: string,
    run: () => Promise<T>,
    refusals: readonly Refusal[] = [],
    keys = 1,
  ): Promise<T | false> {
    if (closed) throw new StoreUnavailableError(`memcached ${address}: store is closed`);
    // A server whose breaker is open is not sent the command: it fails here, uncounted (nothing was sent).
    breaker.check();
    const started = performance.now();
    const done = options.observer?.command(address, command, keys);
    try {
      const result = await run();
      done?.();
      return result;
    } catch (err) {
      const reply = replyOf(err);
      if (reply !== undefined && (refusals as readonly string[]).includes(reply)) {
        done?.();
        return false;
      }
      const elapsedMs = performance.now() - started;
      const failure = translate(address, options, elapsedMs, err);
      done?.(failure);
      // A server that does not answer would cost every command the timeout: fail fast until it answers.
      if (failure instanceof StoreUnavailableError && isTimeout(err, elapsedMs, options)) breaker.trip(failure);
      throw failure;
    }
  }

  async function getMany(keys: readonly string[]): Promise<Map<string, Versioned>> {
    for (const key of keys) checkStoreKey(key);
    const found = new Map<string, Versioned>();
    if (keys.length === 0) return found;
    const unique = [...new Set(keys)];
    const command = `gets ${unique.join(" ")}\r\n`;
    const results = await send(
      "gets",
      () => client.send<MultiCasRetrievalResponse>(coalescer.writer(command)),
      [],
      unique.length,
    );
    if (results === false) return found;
    for (const key of keys) {
      const result = Object.hasOwn(results, key) ? results[key] : undefined;
      if (result === undefined) continue;
      const { value, casUniq } = result;
      if (!Buffer.isBuffer(value)) {
        // Only a writer other than sessiond stores without the binary flag; its bytes may not survive decoding.
        throw new Error(`memcached ${address}: ${key} holds a value not written as binary (flags other than 8)`);
      }
      found.set(key, { value, version: String(casUniq) });
    }
    return found;
  }

  const batcher = createGetBatcher(getMany);
  const coalescer = createWriteCoalescer();

  // storage builds a storage command as memcache-client would (flags 8: binary), checking its arguments first;
  // the returned function sends it through the coalescer.
  function storage(
    command: "cas" | "add" | "set" | "append",
    key: string,
    value: Uint8Array,
    lifetimeSeconds: number,
    casUniq = "",
  ) {
    const { data, lifetime } = write(key, value, lifetimeSeconds);
    const header = `${command} ${key} ${BINARY_FLAG} ${lifetime} ${data.byteLength}${casUniq === "" ? "" : ` ${casUniq}`}\r\n`;
    const bytes = Buffer.concat([Buffer.from(header, "latin1"), data, CRLF]);
    return () => client.send<string[]>(coalescer.writer(bytes));
  }

  function write(key: string, value: Uint8Array, lifetimeSeconds: number): { data: Buffer; lifetime: number } {
    checkStoreKey(key);
    checkValue(value);
    checkLifetimeSeconds(lifetimeSeconds);
    // A Uint8Array that is not a Buffer would be sent as JSON by memcache-client: wrap it (no copy).
    return { data: Buffer.from(value.buffer, value.byteOffset, value.byteLength), lifetime: lifetimeSeconds };
  }

  return {
    get: (key) => batcher.get(key),
    getMany,
    async cas(key, value, version, lifetimeSeconds) {
      // memcached's cas unique is an unsigned 64-bit decimal: anything else cannot match, so it is a stale
      // version (memcached itself would answer CLIENT_ERROR bad command line format).
      const command = storage("cas", key, value, lifetimeSeconds, version);
      if (!isCasUnique(version)) return false;
      return (await send("cas", command, ["EXISTS", "NOT_FOUND"])) !== false;
    },
    async add(key, value, lifetimeSeconds) {
      return (await send("add", storage("add", key, value, lifetimeSeconds), ["NOT_STORED"])) !== false;
    },
    async set(key, value, lifetimeSeconds) {
      await send("set", storage("set", key, value, lifetimeSeconds));
    },
    async append(key, value) {
      // NOT_STORED: the key is absent, or the result would exceed the item size (the value is unchanged).
      return (await send("append", storage("append", key, value, 0), ["NOT_STORED"])) !== false;
    },
    async touch(key, lifetimeSeconds) {
      checkStoreKey(key);
      checkLifetimeSeconds(lifetimeSeconds);
      return (await send("touch", () => client.touch(key, lifetimeSeconds), ["NOT_FOUND"])) !== false;
    },
    async delete(key) {
      checkStoreKey(key);
      return (await send("delete", () => client.delete(key), ["NOT_FOUND"])) !== false;
    },
    async counter(key, delta, create) {
      checkStoreKey(key);
      checkDelta(delta);
      const step = () =>
        delta < 0
          ? send("decr", () => client.decr(key, -delta), ["NOT_FOUND"])
          : send("incr", () => client.incr(key, delta), ["NOT_FOUND"]);
      let reply = await step();
      if (reply === false && create) {
        const initial = Math.max(delta, 0);
        if ((await send("add", storage("add", key, counterBytes(initial), 0), ["NOT_STORED"])) !== false) return initial;
        reply = await step(); // added meanwhile by another writer
      }
      return reply === false ? undefined : Number(reply);
    },
    replicaKeys: (key) => [key],
    replicaKeyNear: (key) => key,
    async ping() {
      const reply = await send("version", () => client.version());
      if (reply === false || reply[0] !== "VERSION") {
        throw new StoreUnavailableError(`memcached ${address} answered version with ${String(reply)}`);
      }
    },
    async close() {
      closed = true;
      breaker.stop();
      client.shutdown();
    },
  };
}

// isTimeout says a failure was a wait that ran out (no connection, or no answer in time), not a refusal:
// by kind, as `translate` classifies (a transport code along the cause chain is a refusal or a reset).
function isTimeout(err: unknown, elapsedMs: number, options: MemcachedServerOptions): boolean {
  for (let cause: unknown = err, depth = 0; cause instanceof Error && depth < 8; cause = cause.cause, depth++) {
    if (typeof (cause as { code?: unknown }).code === "string") return false;
  }
  return (err as { connecting?: unknown } | null)?.connecting === true || elapsedMs >= options.cmdTimeoutMs;
}
// memcache-client's flag for a Buffer value (value-flags.js): it hands such values back as Buffers.
const BINARY_FLAG = 8;
const CRLF = Buffer.of(0x0d, 0x0a);

function isCasUnique(version: string): boolean {
  return /^\d{1,20}$/.test(version) && BigInt(version) <= 0xffff_ffff_ffff_ffffn;
}

// replyOf returns memcached's reply word (NOT_FOUND, SERVER_ERROR...) when err is a reply, not a failure.
function replyOf(err: unknown): string | undefined {
  const tokens = (err as { cmdTokens?: unknown } | null)?.cmdTokens;
  return Array.isArray(tokens) && typeof tokens[0] === "string" ? tokens[0] : undefined;
}

/**
 * translate turns a failure of memcache-client into an Error by its kind, never by its message text (as
 * connect-node's node-error.ts does):
 * - a reply (memcache-client sets `cmdTokens`, e.g. SERVER_ERROR): an Error naming the server;
 * - a node error code along the cause chain (ECONNREFUSED, ECONNRESET, ETIMEDOUT...): unavailable;
 * - `connecting: true` without a code: memcache-client's connect timeout, unavailable;
 * - an instance of plain `Error` (no subclass): memcache-client 1.0.5 fails every command queued on a
 *   connection it shuts down (socket end, close or error, command timeout) with `new Error(reason)`
 *   (connection.js `_shutdown`): unavailable, a timeout when it took cmdTimeoutMs;
 * - anything else (TypeError, RangeError...) is a bug and stays one.
 */
function translate(address: string, options: MemcachedServerOptions, elapsedMs: number, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  if (replyOf(err) !== undefined) {
    return new Error(`memcached ${address} refused the command: ${message}`, { cause: err });
  }
  const unavailable = (reason: string) =>
    new StoreUnavailableError(`memcached ${address} unreachable: ${reason}`, { cause: err });
  for (let cause: unknown = err, depth = 0; cause instanceof Error && depth < 8; cause = cause.cause, depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && TRANSPORT_CODES.has(code)) return unavailable(code);
    if ((cause as { connecting?: unknown }).connecting === true) {
      return unavailable(`no connection within ${options.connectTimeoutMs} ms`);
    }
  }
  if (err instanceof Error && Object.getPrototypeOf(err) === Error.prototype) {
    // memcache-client's timer checks every cmdTimeout/4 at most, so a timed-out command took at least cmdTimeoutMs.
    if (elapsedMs >= options.cmdTimeoutMs) return unavailable(`no answer within ${options.cmdTimeoutMs} ms`);
    return unavailable(`connection lost (${message})`);
  }
  return new Error(`memcached ${address}: unexpected failure: ${message}`, { cause: err });
}

// clientLogger silences memcache-client's debug/info (it logs every command at debug level) and forwards
// warnings and errors. memcache-client's default logger would write to the console.
function clientLogger(address: string, logger: StoreLogger | undefined) {
  const ignore = (): void => undefined;
  return {
    debug: ignore,
    info: ignore,
    warn: (message: unknown) => logger?.warn(`memcached ${address}: ${String(message)}`),
    error: (message: unknown) => logger?.error(`memcached ${address}: ${String(message)}`),
  };
}
