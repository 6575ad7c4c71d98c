import type { Server, ServerWritableStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { HealthImplementation, type ServingStatus } from "grpc-health-check";
import type { Logger } from "pino";
import { type Store, StoreUnavailableError } from "../store/store.js";

/** HEALTH_SERVICES are the names health answers for: "" (the whole server) and the session service. */
export const HEALTH_SERVICES = ["", "sessiond.v1.SessionService"] as const;

/**
 * HealthMonitor serves grpc.health.v1.Health for sessiond: SERVING while the store answers a ping,
 * NOT_SERVING while it does not. It pings every `intervalMs` (an unref'd timer) and at once when asked
 * (`check`, e.g. after a call failed UNAVAILABLE), so a load balancer hears of an outage within one call.
 */
export interface HealthMonitor {
  /** status is the last status served. Caution: NOT_SERVING until the first check has passed. */
  readonly status: ServingStatus;
  /** check pings the store now and serves the outcome; concurrent checks share one ping. */
  check(): Promise<ServingStatus>;
  /** start checks once now and then every intervalMs; resolves after the first check. */
  start(): Promise<void>;
  /** stop ends the polling, serves NOT_SERVING (the server drains) and ends open Watch streams with OK. */
  stop(): void;
  /** addToServer registers grpc.health.v1.Health (Check, Watch, List) on a grpc-js server. */
  addToServer(server: Server): void;
}

/** createHealthMonitor makes a HealthMonitor over `ping` (the core's), polling every intervalMs. */
export function createHealthMonitor(ping: () => Promise<void>, intervalMs: number, logger: Logger): HealthMonitor {
  const implementation = new HealthImplementation();
  const watches = new Set<ServerWritableStream<unknown, unknown>>();
  let status: ServingStatus = "NOT_SERVING";
  let inFlight: Promise<ServingStatus> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let checked = false;

  // serve publishes a status; Watch streams hear of changes only.
  function serve(next: ServingStatus, err?: unknown): void {
    // A first check that passes is told by the start line; a failing one, and every change after, get a line.
    if (checked ? next !== status : next === "NOT_SERVING") {
      if (next === "SERVING") logger.info("store answers: health SERVING");
      else logger.warn({ err: (err as Error | undefined)?.message }, "store does not answer: health NOT_SERVING");
    }
    checked = true;
    if (next === status) return;
    status = next;
    for (const service of HEALTH_SERVICES) implementation.setStatus(service, next);
  }
  for (const service of HEALTH_SERVICES) implementation.setStatus(service, status);

  function check(): Promise<ServingStatus> {
    inFlight ??= ping()
      .then(
        () => ({ next: "SERVING" as ServingStatus, err: undefined as unknown }),
        (err: unknown) => ({ next: "NOT_SERVING" as ServingStatus, err }),
      )
      .then(({ next, err }) => {
        inFlight = undefined;
        if (!stopped) serve(next, err);
        return status;
      });
    return inFlight;
  }

  return {
    get status() {
      return status;
    },
    check,
    async start() {
      await check();
      if (stopped) return;
      timer = setInterval(() => void check(), intervalMs);
      timer.unref();
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      status = "NOT_SERVING";
      for (const service of HEALTH_SERVICES) implementation.setStatus(service, "NOT_SERVING");
      // A Watch stream lasts until the client leaves: end it, or it would hold the drain up to the grace period.
      for (const call of watches) call.end();
      watches.clear();
    },
    addToServer(server) {
      implementation.addToServer({
        addService(definition, handlers: UntypedServiceImplementation) {
          const watch = handlers.watch as (call: ServerWritableStream<unknown, unknown>) => void;
          server.addService(definition, {
            ...handlers,
            watch(call: ServerWritableStream<unknown, unknown>) {
              watches.add(call);
              call.on("cancelled", () => watches.delete(call));
              watch(call);
            },
          });
        },
      } as Server);
    },
  };
}

// Every asynchronous Store method: a method added to Store and not listed here fails to compile.
const WATCHED_METHODS = ["get", "getMany", "cas", "add", "set", "append", "touch", "delete", "counter", "ping", "close"] as const;
const everyMethodWatched: Exclude<keyof Store, (typeof WATCHED_METHODS)[number] | "replicaKeys" | "replicaKeyNear"> extends never
  ? true
  : never = true;
void everyMethodWatched;

/**
 * watchStore wraps a store so that every call failing with StoreUnavailableError also calls
 * `onUnavailable` (sessiond: an immediate health check). Everything else passes through unchanged.
 */
export function watchStore(store: Store, onUnavailable: () => void): Store {
  const watched = {
    replicaKeys: (key: string) => store.replicaKeys(key),
    replicaKeyNear: (key: string, near: string) => store.replicaKeyNear(key, near),
  } as Record<string, unknown>;
  for (const name of WATCHED_METHODS) {
    const method = store[name] as (...args: unknown[]) => Promise<unknown>;
    watched[name] = (...args: unknown[]) =>
      method.apply(store, args).catch((err: unknown) => {
        if (err instanceof StoreUnavailableError) onUnavailable();
        throw err;
      });
  }
  return watched as unknown as Store;
}
