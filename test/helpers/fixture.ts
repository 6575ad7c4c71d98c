import { createSessionClient, type SessionClient } from "../../client/index.js";
import { type MemcachedOptions, type MemcachedProcess, startMemcached } from "./memcached.js";
import { type RunningSessiond, startSessiond } from "./sessiond.js";

/** Fixture is what `useSessiond` sets up for a describe block; read it inside hooks and tests. */
export interface Fixture {
  readonly memcached: MemcachedProcess;
  readonly sessiond: RunningSessiond;
  /** client is an SDK client of `sessiond`. */
  readonly client: SessionClient;
}

/**
 * useSessiond registers mocha hooks on the enclosing describe: before all, a real memcached on a free
 * port, a sessiond over it (in this process, on a free port) and an SDK client of it; after all, each is
 * stopped again. Options go to `startSessiond` (core and server options) and `startMemcached`.
 */
export function useSessiond(
  options: { memcached?: Partial<MemcachedOptions> } & Omit<Parameters<typeof startSessiond>[0] & object, "memcached"> = {},
): Fixture {
  let memcached: MemcachedProcess | undefined;
  let sessiond: RunningSessiond | undefined;
  let client: SessionClient | undefined;
  before(async () => {
    memcached = await startMemcached(options.memcached);
    sessiond = await startSessiond({ ...options, memcached: [memcached.address] });
    client = createSessionClient(sessiond.address);
  });
  after(async () => {
    client?.close();
    await sessiond?.stop();
    await memcached?.stop();
  });
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not started: use the fixture inside hooks and tests`);
    return value;
  };
  return {
    get memcached() {
      return ready(memcached, "memcached");
    },
    get sessiond() {
      return ready(sessiond, "sessiond");
    },
    get client() {
      return ready(client, "the client");
    },
  };
}
