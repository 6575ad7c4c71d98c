/**
 * sessiond/express is the session store of express-session and @fastify/session, kept in sessiond:
 * `SessiondStore`. Both frameworks are optional peer dependencies; `sessiond/client` loads neither.
 */
export { SessiondStore, type SessiondStoreOptions, type SessionObject, type StoreCallback } from "./sessiond-store.js";
