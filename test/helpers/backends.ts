import { startMemcached } from "./memcached.js";
import { startTwemproxy } from "./twemproxy.js";

/** StartedBackend is a running memcached set-up: the servers sessiond is given, and how to stop it. */
export interface StartedBackend {
  readonly servers: string[];
  stop(): Promise<void>;
}

/** Backend is one way to run sessiond's storage, for specs that must pass on each. */
export interface Backend {
  /** name reads well in a describe title: "over one memcached". */
  readonly name: string;
  start(): Promise<StartedBackend>;
}

/**
 * BACKENDS are the storage set-ups a parametrized spec runs over: one memcached, and twemproxy
 * (nutcracker, md5 ketama) in front of three memcached, given to sessiond as its one server (only
 * commands twemproxy forwards are used; the namespace generation then has `replicas` copies that the
 * proxy spreads over its pool).
 */
export const BACKENDS: readonly Backend[] = [
  {
    name: "over one memcached",
    async start() {
      const memcached = await startMemcached();
      return { servers: [memcached.address], stop: () => memcached.stop() };
    },
  },
  {
    name: "through twemproxy in front of three memcached",
    async start() {
      const proxy = await startTwemproxy(3);
      return { servers: [proxy.address], stop: () => proxy.stop() };
    },
  },
];

/**
 * describeOverBackends declares one describe block per backend, titled `${title}, ${backend.name}`, whose
 * body receives the backend (mocha's `this` is the block's suite, as in `describe`).
 */
export function describeOverBackends(title: string, body: (this: Mocha.Suite, backend: Backend) => void): void {
  for (const backend of BACKENDS) {
    describe(`${title}, ${backend.name}`, function () {
      body.call(this, backend);
    });
  }
}
