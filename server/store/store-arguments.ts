/**
 * Guards shared by the store implementations. They are not user-input validation (the core validates once,
 * at its edge): they stop a programming error from reaching memcached's text protocol, where a key with a
 * space or a line break would split a command in two, and they make the memory store refuse exactly what
 * the memcached store refuses.
 */

/** MAX_KEY_BYTES is memcached's longest key. */
export const MAX_KEY_BYTES = 250;

// Printable ASCII without space: what memcached's text protocol carries as one token.
const KEY_PATTERN = /^[\x21-\x7e]+$/;

/**
 * checkStoreKey throws a TypeError unless `key` is 1 to 250 printable ASCII characters with no space,
 * the keys memcached accepts (sessiond's keys always are).
 */
export function checkStoreKey(key: string): void {
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_BYTES || !KEY_PATTERN.test(key)) {
    throw new TypeError(
      `invalid store key ${JSON.stringify(key)}: want 1 to ${MAX_KEY_BYTES} printable ASCII characters, no spaces`,
    );
  }
}

/**
 * checkLifetimeSeconds throws a RangeError unless `seconds` is an integer, as memcached's exptime must be.
 * 0 means no expiry; up to 30 days it is relative; larger values are a Unix time; negative values expire
 * the item at once (memcached's rules, which the memory store mirrors).
 */
export function checkLifetimeSeconds(seconds: number): void {
  if (!Number.isSafeInteger(seconds)) {
    throw new RangeError(`invalid lifetime ${seconds}: want a whole number of seconds`);
  }
}

/** checkValue throws a TypeError unless `value` is a Uint8Array (a Buffer is one). */
export function checkValue(value: Uint8Array): void {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`invalid store value: want a Uint8Array, got ${typeof value}`);
  }
}

/** checkDelta throws a RangeError unless `delta` is a safe integer, as memcached's incr/decr amount must be. */
export function checkDelta(delta: number): void {
  if (!Number.isSafeInteger(delta)) throw new RangeError(`invalid counter delta ${delta}: want a whole number`);
}

/** counterBytes is a counter's value as memcached keeps it: decimal digits. */
export function counterBytes(value: number): Buffer {
  return Buffer.from(String(value), "latin1");
}
