import type { CommandDone, StoreObserver } from "../store/store-observer.js";
import type { SessiondMetrics } from "./metrics.js";

/**
 * createStoreMetrics is the StoreObserver that times every memcached command into
 * `sessiond_store_command_seconds{server,command}` and counts failed ones (unreachable, timed out, answered
 * with an error; not refusals such as EXISTS, which are answers) in `sessiond_store_errors_total{server}`.
 * Labels are the configured server addresses and memcached's command words: a bounded set.
 */
export function createStoreMetrics(metrics: SessiondMetrics): StoreObserver {
  return {
    command(server, command): CommandDone {
      const started = performance.now();
      return (failure) => {
        metrics.storeSeconds.observe({ server, command }, (performance.now() - started) / 1000);
        if (failure !== undefined) metrics.storeErrors.inc({ server });
      };
    },
  };
}

/** combineObservers tells every observer given of each command (undefined ones are skipped). */
export function combineObservers(...observers: (StoreObserver | undefined)[]): StoreObserver | undefined {
  const present = observers.filter((o): o is StoreObserver => o !== undefined);
  if (present.length <= 1) return present[0];
  return {
    command(server, command, keys) {
      const done = present.map((o) => o.command(server, command, keys));
      return (failure) => {
        for (const d of done) d(failure);
      };
    },
  };
}
