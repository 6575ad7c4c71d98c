import { type ChannelOptions, Server, ServerCredentials, type ServerInterceptor, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { SessionService } from "../../gen/sessiond/v1/session_service_pb.js";
import { createServiceDefinition } from "../../rpc/service-definition.js";
import { type AccessControl, defaultAccess } from "../access/access-control.js";
import { credentialsLoaded } from "../access/tls-credentials.js";
import type { SessionCore } from "../core/session-core.js";
import { guardHandlers, type OpGuard } from "./access-guard.js";
import { createHealthMonitor, type HealthMonitor } from "./health.js";
import { addReflection } from "./reflection.js";
import { StreamRegistry } from "./stream-registry.js";
import { type TransactionObserver, TransactionStream } from "./transaction-stream.js";
import { createUnaryHandlers } from "./unary-handlers.js";

/** SessionServerOptions configure the gRPC side of sessiond; each default lives in `defaultSessionServerOptions`. */
export interface SessionServerOptions {
  /** maxMessageBytes bounds received and sent messages; larger ones get RESOURCE_EXHAUSTED. */
  maxMessageBytes: number;
  /** maxOpenTransactions bounds open transactions in the process (RESOURCE_EXHAUSTED past it). */
  maxOpenTransactions: number;
  /** idleTimeoutMs discards an open transaction with no op for this long (0 = never). */
  idleTimeoutMs: number;
  /** keepaliveMs pings idle connections this often to notice dead clients. */
  keepaliveMs: number;
  /** keepaliveTimeoutMs is how long a keepalive ping may go unanswered. */
  keepaliveTimeoutMs: number;
  /** healthIntervalMs is how often health pings the store. */
  healthIntervalMs: number;
  /** interceptors are grpc-js server interceptors, the first nearest the network (metrics, tracing). Default none. */
  interceptors: ServerInterceptor[];
  /** reflection serves gRPC server reflection v1 and v1alpha. Default true. */
  reflection: boolean;
  /** transactionObserver hears of every Transaction stream's messages (metrics). Default none. */
  transactionObserver: TransactionObserver | undefined;
}

/** ServerSecurity is how a SessionServer is reached and who may do what; each part defaults to open. */
export interface ServerSecurity {
  /** credentials to listen with (TLS, mTLS). Default: plaintext. */
  credentials?: ServerCredentials;
  /** access authenticates callers and checks permissions. Default: every loopback caller may do everything, no other caller anything. */
  access?: AccessControl;
}

/**
 * defaultSessionServerOptions are the defaults behind createSessionServer's Partial options: the one home of
 * each (`sessiond serve --help` and the config fallbacks are derived from here).
 */
export const defaultSessionServerOptions: SessionServerOptions = {
  maxMessageBytes: 4 * 1024 * 1024, // bytes (4 MiB)
  maxOpenTransactions: 10_000, // transactions per process
  idleTimeoutMs: 60_000, // ms
  keepaliveMs: 30_000, // ms
  keepaliveTimeoutMs: 10_000, // ms
  healthIntervalMs: 2000, // ms
  interceptors: [], // none
  reflection: true, // serve reflection
  transactionObserver: undefined, // none
};

/** SessionServer is a running-or-ready sessiond gRPC server. */
export interface SessionServer {
  /** server is the grpc-js server, to add more services before `listen`. */
  readonly server: Server;
  /** registry tracks open transaction streams. */
  readonly registry: StreamRegistry;
  /** health serves grpc.health.v1.Health: SERVING while the store answers. */
  readonly health: HealthMonitor;
  /** listen binds `host:port` (port 0 picks a free one), checks the store once, and resolves to the bound port. */
  listen(address: string): Promise<number>;
  /**
   * shutdown drains: serves health NOT_SERVING, stops accepting, ends open transaction streams with
   * UNAVAILABLE (their transactions discarded), lets unary calls in flight finish, and forces the rest after
   * graceMs.
   */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * createSessionServer makes a grpc-js server serving sessiond.v1.SessionService over the core, with
 * grpc.health.v1.Health (pinging the core's store, open to every caller) and server reflection v1 and
 * v1alpha (unless turned off). `security` sets TLS and access control (default: plaintext, loopback callers only).
 */
export function createSessionServer(
  core: SessionCore,
  logger: Logger,
  options: Partial<SessionServerOptions> = {},
  security: ServerSecurity = {},
): SessionServer {
  const opts = { ...defaultSessionServerOptions, ...options };
  const channelOptions: ChannelOptions = {
    "grpc.max_receive_message_length": opts.maxMessageBytes,
    "grpc.max_send_message_length": opts.maxMessageBytes,
    "grpc.keepalive_time_ms": opts.keepaliveMs,
    "grpc.keepalive_timeout_ms": opts.keepaliveTimeoutMs,
    "grpc.keepalive_permit_without_calls": 1,
  };
  const server = new Server({ ...channelOptions, interceptors: opts.interceptors });
  const registry = new StreamRegistry(opts.maxOpenTransactions, opts.idleTimeoutMs);
  const handlers = {
    ...createUnaryHandlers(core, logger),
    transaction: (call: ConstructorParameters<typeof TransactionStream>[0], guard?: OpGuard) => {
      new TransactionStream(call, core, registry, logger, guard, opts.transactionObserver);
    },
  };
  server.addService(createServiceDefinition(SessionService), guardHandlers(handlers, security.access ?? defaultAccess(logger)));
  const health = createHealthMonitor(() => core.ping(), opts.healthIntervalMs, logger);
  health.addToServer(server);
  if (opts.reflection) addReflection(server);

  return {
    server,
    registry,
    health,
    async listen(address) {
      const credentials = security.credentials ?? ServerCredentials.createInsecure();
      const port = await new Promise<number>((resolve, reject) => {
        server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port)));
      });
      await credentialsLoaded(credentials);
      await health.start();
      return port;
    },
    async shutdown(graceMs) {
      health.stop();
      const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      for (const stream of [...registry.streams]) {
        stream.close({
          code: status.UNAVAILABLE,
          details: "sessiond is shutting down: transaction discarded (nothing written); retry on another instance",
        });
      }
      let timer: NodeJS.Timeout | undefined;
      const forced = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          logger.warn({ graceMs }, "grace period over: cancelling calls still in flight");
          server.forceShutdown();
          resolve();
        }, graceMs);
      });
      await Promise.race([drained, forced]);
      clearTimeout(timer);
    },
  };
}
