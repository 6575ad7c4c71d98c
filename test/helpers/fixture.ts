import { createSessionClient, type SessionClient } from "../../client/index.js";
import type { Backend, StartedBackend } from "./backends.js";
import { type MemcachedOptions, type MemcachedProcess, startMemcached } from "./memcached.js";
import { type RunningSessiond, startSessiond } from "./sessiond.js";

/** Fixture is what `useSessiond` sets up for a describe block; read it inside hooks and tests. */
export interface Fixture {
  /** memcached is the one memcached started (not with a `backend` option). */
  readonly memcached: MemcachedProcess;
  /** servers are the memcached servers sessiond was given (one memcached, or a proxy). */
  readonly servers: string[];
  readonly sessiond: RunningSessiond;
  /** client is an SDK client of `sessiond`. */
  readonly client: SessionClient;
}

/**
 * useSessiond registers mocha hooks on the enclosing describe: before all, a real memcached on a free
 * port, a sessiond over it (in this process, on a free port) and an SDK client of it; after all, each is
 * stopped again. Options go to `startSessiond` (core and server options) and `startMemcached`; with
 * `backend` (see BACKENDS), that set-up is started instead of one memcached.
 */
export function useSessiond(
  options: { memcached?: Partial<MemcachedOptions>; backend?: Backend } & Omit<
    Parameters<typeof startSessiond>[0] & object,
    "memcached"
  > = {},
): Fixture {
  let memcached: MemcachedProcess | undefined;
  let backend: StartedBackend | undefined;
  let servers: string[] | undefined;
  let sessiond: RunningSessiond | undefined;
  let client: SessionClient | undefined;
  before(async () => {
    if (options.backend !== undefined) {
      backend = await options.backend.start();
      servers = backend.servers;
    } else {
      memcached = await startMemcached(options.memcached);
      servers = [memcached.address];
    }
    sessiond = await startSessiond({ ...options, memcached: servers });
    client = createSessionClient(sessiond.address);
  });
  after(async () => {
    client?.close();
    await sessiond?.stop();
    await memcached?.stop();
    await backend?.stop();
  });
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not started: use the fixture inside hooks and tests`);
    return value;
  };
  return {
    get memcached() {
      return ready(memcached, "memcached");
    },
    get servers() {
      return ready(servers, "the servers");
    },
    get sessiond() {
      return ready(sessiond, "sessiond");
    },
    get client() {
      return ready(client, "the client");
    },
  };
}
