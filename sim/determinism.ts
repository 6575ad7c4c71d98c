import { createRequire, syncBuiltinESMExports } from "node:module";
import { createRandom, type Random } from "./random.js";
import type { Scheduler } from "./scheduler.js";

/** World is what the patched globals answer from while one seed runs: its clock and its random source. */
export interface World {
  scheduler: Scheduler;
  random: Random;
}

let world: World | undefined;
// Draws made outside a seed's run (a module's tag when it is first imported) come from a fixed seed.
const outside = createRandom("outside any seed");

function current(): World {
  if (world === undefined) throw new Error("simulation: a timer or random draw outside of a seed's run");
  return world;
}

/**
 * installDeterminism replaces, for the whole process, what the core draws its time and randomness from:
 * setTimeout/setImmediate/setInterval (and their clear*) run on the current seed's virtual clock,
 * Math.random and node:crypto's randomBytes draw from its seeded source (session ids, handles,
 * generation tokens, backoff jitter). node:crypto is patched through its CommonJS exports and
 * `syncBuiltinESMExports`, which moves the live bindings of `import { randomBytes } from "node:crypto"` too,
 * so the core runs unchanged. Only for the simulation's own process: never inside mocha.
 */
export function installDeterminism(): void {
  const timers = globalThis as unknown as Record<string, unknown>;
  timers.setTimeout = (run: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) =>
    current().scheduler.timer(ms ?? 0, () => run(...args));
  timers.clearTimeout = (timer: unknown) => world?.scheduler.clearTimer(timer);
  timers.setImmediate = (run: (...args: unknown[]) => void, ...args: unknown[]) =>
    current().scheduler.timer(0, () => run(...args));
  timers.clearImmediate = timers.clearTimeout;
  timers.setInterval = (run: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    // One id for the whole interval: each tick schedules the next under a timer cleared by id.
    const scheduler = current().scheduler;
    const handle = { timer: scheduler.timer(ms ?? 0, tick) };
    function tick() {
      handle.timer = scheduler.timer(ms ?? 0, tick);
      run(...args);
    }
    return { unref: () => undefined, ref: () => undefined, clear: () => scheduler.clearTimer(handle.timer) };
  };
  timers.clearInterval = (interval: { clear?: () => void } | undefined) => interval?.clear?.();
  const random = () => world?.random ?? outside;
  Math.random = () => random().next();

  const crypto = createRequire(import.meta.url)("node:crypto") as { randomBytes: unknown };
  crypto.randomBytes = (size: number, callback?: (err: Error | null, buf: Buffer) => void) => {
    const bytes = Buffer.alloc(size);
    random().fill(bytes);
    if (callback === undefined) return bytes;
    current().scheduler.timer(0, () => callback(null, bytes));
    return undefined;
  };
  syncBuiltinESMExports();
}

/** enterWorld makes `next` the world the patched globals answer from (one seed's run). */
export function enterWorld(next: World | undefined): void {
  world = next;
}
