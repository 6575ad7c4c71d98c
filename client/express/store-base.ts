import { EventEmitter } from "node:events";
import { createRequire } from "node:module";

/**
 * StoreBase is what SessiondStore inherits: express-session's `Store` when express-session is installed
 * (so `session({ store })` accepts it, with `regenerate`, `load` and `createSession`), else a plain
 * EventEmitter, which is all @fastify/session asks of a store. express-session is an optional peer
 * dependency: an app on @fastify/session alone does not install it.
 */
export interface StoreBase extends EventEmitter {
  /** regenerate destroys the request's session and makes a new one (express-session's own). */
  regenerate(req: unknown, callback: (err?: unknown) => void): void;
  /** load reads a session and builds the request's Session from it (express-session's own). */
  load<S extends object = object>(sid: string, callback: (err: unknown, session?: S) => void): void;
  /**
   * createSession builds the request's Session from what `get` answered (express-session's own). Generic
   * in its result so that express-session's own types (`Session & SessionData`) accept the store.
   */
  createSession<R extends object = object>(req: unknown, data: object): R;
}

/** StoreBaseConstructor is the class SessiondStore extends (see StoreBase). */
export type StoreBaseConstructor = new () => StoreBase;

// express-session is CommonJS; require finds it from this package, as an import would, without making
// it a dependency: its absence is not an error.
function loadStoreBase(): StoreBaseConstructor {
  const require = createRequire(import.meta.url);
  try {
    return (require("express-session") as { Store: StoreBaseConstructor }).Store;
  } catch (err) {
    if ((err as { code?: string }).code !== "MODULE_NOT_FOUND") throw err;
    return EventEmitter as unknown as StoreBaseConstructor;
  }
}

/** storeBase is express-session's Store, or EventEmitter when express-session is not installed (internal). */
export const storeBase: StoreBaseConstructor = loadStoreBase();
