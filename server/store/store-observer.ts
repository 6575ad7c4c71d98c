/**
 * CommandDone is called once when a memcached command has ended: with no argument when it answered (a
 * refusal such as NOT_STORED or EXISTS is an answer), with the error the store throws when it failed.
 */
export type CommandDone = (failure?: Error) => void;

/**
 * StoreObserver is told of every command a memcached store sends, for metrics and traces (server/telemetry
 * implements it). `command` runs as the command is sent, in the caller's async context, and returns the
 * function to call when it ends. It must be cheap and must not throw: it sits on every command's path.
 * - `server` is the memcached's "host:port" as configured;
 * - `command` is memcached's command word: `gets`, `cas`, `add`, `set`, `touch`, `delete`, `version`...;
 * - `keys` is the number of keys the command carries (a batched `gets` carries several, others one).
 */
export interface StoreObserver {
  command(server: string, command: string, keys: number): CommandDone;
}
