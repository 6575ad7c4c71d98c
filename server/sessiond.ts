import cluster from "node:cluster";
import { type Logger, pino } from "pino";
import { createAccessControl } from "./access/access-control.js";
import { isLoopbackHost } from "./access/loopback.js";
import { createTlsCredentials } from "./access/tls-credentials.js";
import { type Config, loadAccessSettings } from "./config/config.js";
import { ConfigError } from "./config/settings.js";
import { OptionsError } from "./core/errors.js";
import { createSessionCore, type SessionCore } from "./core/session-core.js";
import { watchStore } from "./grpc/health.js";
import { createSessionServer, type SessionServer } from "./grpc/session-server.js";
import { DataKeyError, type DataKeyFile, openDataKeyFile } from "./store/data-keys.js";
import { createMemcachedStore } from "./store/memcached-store.js";
import { createMemoryStore } from "./store/memory-store.js";
import { createSealedStore } from "./store/sealed-store.js";
import type { Store } from "./store/store.js";
import { createTelemetry, type Telemetry } from "./telemetry/telemetry.js";

/**
 * createLogger makes sessiond's pino logger: JSON lines on stdout with the level's name, ISO time, service
 * and pid. Writes are synchronous, so the last lines before process.exit are neither lost nor reordered.
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: "sessiond", pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 1, sync: true }),
  );
}

/** SessiondExtras are what tests and `serve` add to a Config: a clock and the telemetry; each optional. */
export interface SessiondExtras {
  /** now is the core's clock in Unix ms (tests wind a fake one). Default Date.now. */
  now?: () => number;
  /** telemetry hooks metrics and tracing in (from `createTelemetry`). Default none. */
  telemetry?: Telemetry;
}

/** Sessiond is one sessiond process's service: store, core and gRPC server, built from a Config. */
export interface Sessiond {
  /** server is the gRPC server (its health, registry of transaction streams, grpc-js server). */
  readonly server: SessionServer;
  /** start listens on config.listen and logs one line; resolves to the address bound (HOST:PORT). */
  start(): Promise<string>;
  /**
   * stop drains (see SessionServer.shutdown) within the grace period, closes the store, wipes the data
   * keys, logs one line.
   */
  stop(reason: string): Promise<void>;
  /**
   * reloadDataKeys re-reads the data key file (SIGHUP), wipes the keys it replaces and logs the key ids in
   * use; a bad file keeps the keys in use and logs an error. Without --data-keys it does nothing.
   */
  reloadDataKeys(): void;
  /** wipeDataKeys zeroes the data keys' secrets (at exit; `stop` does it too). Without --data-keys it does nothing. */
  wipeDataKeys(): void;
  /**
   * reloaders are what SIGHUP reads again, in order, each logging what it did; one that fails logs an error
   * and keeps its old state. Today: the TLS files, and the config file's `tokens` and `access`.
   */
  readonly reloaders: readonly Reloader[];
}

/** Reloader is one part of sessiond that SIGHUP reads again: its name for the log, and how. */
export interface Reloader {
  readonly name: string;
  reload(): void;
}

/** reload runs every reloader (SIGHUP), logging one line each; a failing one logs an error and keeps its old state. */
export function reload(reloaders: readonly Reloader[], logger: Logger): void {
  for (const r of reloaders) {
    try {
      r.reload();
      logger.info({ reloaded: r.name }, "reloaded on SIGHUP");
    } catch (err) {
      logger.error({ reloaded: r.name, err: (err as Error).message }, "reload failed: the previous settings stay");
    }
  }
}

/**
 * createSessiond assembles sessiond from a Config: the memcached store (or the memory store, with one
 * warning line), sealed with the data keys when `--data-keys` is set (memcached only: the memory store
 * never leaves the process), wrapped so that a call failing UNAVAILABLE checks health at once; the core
 * with the per-namespace expiry (on `extras.now`, default Date.now: tests wind a fake clock); the gRPC
 * server with every bound. `extras.telemetry` (from `createTelemetry`; default none) hooks metrics and
 * tracing into the store and the server, and serves /metrics on start. Impossible settings (the core's
 * OptionsError, a bad data key file) throw ConfigError.
 */
export function createSessiond(config: Config, logger: Logger, extras: SessiondExtras = {}): Sessiond {
  const { telemetry } = extras;
  let server: SessionServer | undefined;
  const memory = config.memcached.length === 0;
  const dataKeys = memory || config.dataKeysFile === undefined ? undefined : dataKeyFile(config.dataKeysFile);
  let base: Store = memory
    ? createMemoryStore()
    : createMemcachedStore({
        servers: config.memcached,
        cmdTimeoutMs: config.memcachedTimeoutMs,
        replicas: config.replicas,
        logger,
        ...(telemetry?.storeObserver ? { observer: telemetry.storeObserver } : {}),
      });
  if (dataKeys !== undefined) base = createSealedStore(base, dataKeys, logger);
  const store = watchStore(base, () => void server?.health.check());
  let core: SessionCore;
  try {
    core = createSessionCore(
      store,
      {
        timeoutSeconds: config.timeoutSeconds,
        ...(config.resolutionSeconds === undefined ? {} : { resolutionSeconds: config.resolutionSeconds }),
        maxLifetimeSeconds: config.maxLifetimeSeconds,
        namespaces: config.namespaces,
        maxItemBytes: config.maxItemBytes,
        keyPrefix: config.keyPrefix,
        ...(extras.now === undefined ? {} : { now: extras.now }),
        indexShards: config.indexShards,
      },
      logger,
    );
  } catch (err) {
    // The core names the impossible setting (e.g. a resolution over its timeout): a configuration mistake.
    // Anything else thrown here is a bug and must not pass for one.
    if (err instanceof OptionsError) throw new ConfigError(err.message, { cause: err });
    throw err;
  }
  const access = createAccessControl(config.access, logger, { openAccess: config.openAccess });
  const tls =
    config.tlsCert === undefined || config.tlsKey === undefined
      ? undefined
      : createTlsCredentials({ certFile: config.tlsCert, keyFile: config.tlsKey, clientCaFile: config.tlsClientCa });
  const reloaders: Reloader[] = [
    ...(tls === undefined ? [] : [{ name: "tls", reload: () => tls.reload() }]),
    { name: "tokens and access", reload: () => access.update(loadAccessSettings(config.configFile)) },
  ];
  server = createSessionServer(
    core,
    logger,
    {
      maxMessageBytes: config.maxMessageBytes,
      maxOpenTransactions: config.maxTransactions,
      idleTimeoutMs: config.idleTimeoutSeconds * 1000,
      keepaliveMs: config.keepaliveSeconds * 1000,
      keepaliveTimeoutMs: config.keepaliveTimeoutSeconds * 1000,
      healthIntervalMs: config.healthIntervalSeconds * 1000,
      reflection: config.reflection,
      interceptors: telemetry?.interceptors ?? [],
      transactionObserver: telemetry?.transactionObserver,
    },
    { access, ...(tls === undefined ? {} : { credentials: tls.credentials }) },
  );
  const running = server;
  telemetry?.watchOpenTransactions(() => running.registry.openTransactions);

  return {
    server: running,
    reloaders,
    async start() {
      if (memory) {
        logger.warn(
          "using the in-process memory store: sessions live only in this process; pass --memcached HOST:PORT to share them",
        );
      } else if (dataKeys === undefined) {
        logger.warn(
          "memcached records are stored in clear: whoever reaches memcached reads every session id and its data; pass --data-keys FILE to seal them",
        );
      }
      if (access.mode === "open") {
        logger.warn(
          "--open-access and no access section in the config file: every caller, from any address, may read, write and administer every namespace",
        );
      } else if (access.mode === "loopback") {
        logger.warn(
          "no access section in the config file: only loopback callers are answered, each may read, write and administer every namespace; others get PERMISSION_DENIED (add an access section, or --open-access)",
        );
      }
      if (tls === undefined && !isLoopback(config.listen)) {
        logger.warn(
          { address: config.listen },
          "serving plaintext on a non-loopback address: session ids and tokens cross the network in clear; set --tls-cert and --tls-key",
        );
      }
      const port = await running.listen(config.listen);
      const address = config.listen.replace(/:\d+$/, `:${port}`);
      const metrics = await telemetry?.start();
      logger.info(
        {
          address,
          store: memory ? "memory" : { memcached: config.memcached, sealed: dataKeys !== undefined },
          ...(dataKeys === undefined ? {} : { dataKeys: dataKeys.current.ids }),
          health: running.health.status,
          config: config.configFile,
          metrics,
          tracing: telemetry?.tracingEndpoint,
          ...(telemetry?.tracingProtocol === undefined ? {} : { tracingProtocol: telemetry.tracingProtocol }),
          tls: tls === undefined ? false : config.tlsClientCa === undefined ? "tls" : "mtls",
          access: access.mode,
          bounds: {
            maxMessageBytes: config.maxMessageBytes,
            maxTransactions: config.maxTransactions,
            idleTimeoutSeconds: config.idleTimeoutSeconds,
            keepaliveSeconds: config.keepaliveSeconds,
          },
        },
        "sessiond started",
      );
      return address;
    },
    async stop(reason) {
      const started = performance.now();
      const openTransactions = running.registry.openTransactions;
      logger.info({ reason, openTransactions, graceSeconds: config.graceSeconds }, "sessiond stopping");
      await running.shutdown(config.graceSeconds * 1000);
      await store.close();
      dataKeys?.close(); // nothing seals or opens once the store is closed: wipe the secrets
      await telemetry?.close();
      logger.info({ reason, ms: Math.round(performance.now() - started) }, "sessiond stopped");
    },
    wipeDataKeys() {
      dataKeys?.close();
    },
    reloadDataKeys() {
      if (dataKeys === undefined) return;
      try {
        logger.info({ dataKeys: dataKeys.reload().ids }, "data keys reloaded");
      } catch (err) {
        logger.error(
          { err: (err as Error).message, dataKeys: dataKeys.current.ids },
          "data keys not reloaded: keeping the keys in use",
        );
      }
    },
  };
}

// dataKeyFile opens the key file; a bad one is a configuration error (exit 2).
function dataKeyFile(path: string): DataKeyFile {
  try {
    return openDataKeyFile(path);
  } catch (err) {
    if (err instanceof DataKeyError) throw new ConfigError(err.message);
    throw err;
  }
}

/**
 * serve runs sessiond in this process until SIGTERM or SIGINT, then drains and exits 0. A second signal
 * while draining is ignored (the grace period bounds the drain). Unexpected errors are logged and exit 1.
 * SIGHUP runs every reloader (the data key file, then the TLS files and the config file's tokens and
 * access); each logs its own outcome and never throws.
 */
export async function serve(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  process.on("uncaughtException", (err) => {
    logger.fatal({ err }, "uncaught exception: exiting");
    process.exit(1);
  });
  const telemetry = await createTelemetry({ metrics: config.metrics, clusterWorker: cluster.isWorker, env: process.env }, logger);
  const sessiond = createSessiond(config, logger, { telemetry });
  // Whichever way the process ends (a drain, a fatal error), the data keys' secrets are zeroed first.
  process.on("exit", () => sessiond.wipeDataKeys());
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    sessiond.stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  const reloaders: Array<() => void> = [() => sessiond.reloadDataKeys(), () => reload(sessiond.reloaders, logger)];
  process.on("SIGHUP", () => {
    for (const reload of reloaders) reload();
  });
  await sessiond.start();
}

/** isLoopback says whether a HOST:PORT listens on loopback only (127.0.0.0/8, ::1, localhost). */
export function isLoopback(address: string): boolean {
  return isLoopbackHost(address.replace(/:\d+$/, ""));
}
