import { readFileSync } from "node:fs";
import { DataKeyError } from "./data-key-error.js";
import { parseKeyLine } from "./key-line.js";
import { sodium } from "./sodium.js";

export { DataKeyError } from "./data-key-error.js";

/** DataKey is one key of a data key file: its id, stored in clear beside every record it seals, and its secret. */
export interface DataKey {
  /** id is 1..16 of [A-Za-z0-9_-]; it names the key, it is not secret. */
  readonly id: string;
  /** secret is the 32-byte key, in libsodium's guarded memory (`sodium_malloc`): never in an ordinary buffer. */
  readonly secret: Buffer;
  /** wiped is true once the secret was zeroed (rotated out, or the process stopping): it seals and opens nothing. */
  readonly wiped: boolean;
}

/** DataKeys is a parsed key file: the first key seals every record written, every key opens records. */
export interface DataKeys {
  /** sealing is the first key of the file. */
  readonly sealing: DataKey;
  /** ids lists every key id, in the file's order (for logs: ids are not secret). */
  readonly ids: readonly string[];
  /** byId returns the key with that id, or undefined when the file does not list it. */
  byId(id: string): DataKey | undefined;
  /** wipe zeroes every secret (`sodium_memzero`); the keys are unusable afterwards. Calling it again does nothing. */
  wipe(): void;
}

/** DataKeySource hands out the keys in use now; a reload replaces them (SIGHUP), so read `current` per use. */
export interface DataKeySource {
  readonly current: DataKeys;
}

/** KEY_ID_PATTERN is what a key id may be: 1..16 of [A-Za-z0-9_-]. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,16}$/;
/** KEY_BYTES is the size of a data key: 256 bits, for XChaCha20-Poly1305 (and AES-256-GCM, opening old records). */
export const KEY_BYTES = 32;

/**
 * parseDataKeys parses a key file: one key per line as `ID:BASE64` (BASE64 decodes to 32 bytes, as `openssl
 * rand -base64 32` prints), lines starting with `#` and blank lines ignored. Each secret is decoded straight
 * into guarded memory, never through a string; a Buffer given is wiped once read (a string cannot be: tests
 * only). Throws DataKeyError for a malformed line, a repeated id, a file without keys, or a platform where
 * libsodium does not load; `source` names the file in messages.
 */
export function parseDataKeys(text: string | Buffer, source: string): DataKeys {
  const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  const lib = sodium();
  const keys = new Map<string, DataKey & { wiped: boolean }>();
  try {
    let lineStart = 0;
    for (let line = 1; lineStart <= bytes.length; line++) {
      const newline = bytes.indexOf(0x0a, lineStart);
      const lineEnd = newline < 0 ? bytes.length : newline;
      const where = `${source} line ${line}`;
      const parsed = parseKeyLine(bytes.subarray(lineStart, lineEnd), where, () => lib.sodium_malloc(KEY_BYTES));
      lineStart = lineEnd + 1;
      if (parsed === undefined) continue; // a comment or a blank line
      if (keys.has(parsed.id)) {
        lib.sodium_memzero(parsed.secret);
        throw new DataKeyError(`${where}: key id ${parsed.id} is listed twice`);
      }
      keys.set(parsed.id, { ...parsed, wiped: false });
    }
  } catch (err) {
    for (const key of keys.values()) lib.sodium_memzero(key.secret);
    throw err;
  } finally {
    if (typeof text !== "string") lib.sodium_memzero(bytes);
  }
  const sealing = keys.values().next().value;
  if (sealing === undefined) throw new DataKeyError(`${source}: no key (want lines of ID:BASE64)`);
  return {
    sealing,
    ids: [...keys.keys()],
    byId: (id) => keys.get(id),
    wipe() {
      for (const key of keys.values()) {
        if (key.wiped) continue;
        lib.sodium_memzero(key.secret);
        key.wiped = true;
      }
    },
  };
}

/** readDataKeyFile reads and parses a key file; throws DataKeyError when it cannot be read or parsed. */
export function readDataKeyFile(path: string): DataKeys {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new DataKeyError(`cannot read data key file ${path}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
  return parseDataKeys(bytes, `data key file ${path}`);
}

/** DataKeyFile is a DataKeySource read from a file, which `reload` reads again. */
export interface DataKeyFile extends DataKeySource {
  /** path is the file's path, as given. */
  readonly path: string;
  /**
   * reload reads the file again and uses its keys from now on, wiping the secrets it replaces. On a bad
   * file it throws DataKeyError and keeps the keys it had, so a typo during a rotation never stops sealing
   * or opening.
   */
  reload(): DataKeys;
  /** close wipes the keys in use (at exit); the file seals and opens nothing afterwards. */
  close(): void;
}

/** openDataKeyFile reads a key file (throws DataKeyError when it is bad) and returns it as a reloadable source. */
export function openDataKeyFile(path: string): DataKeyFile {
  let current = readDataKeyFile(path);
  return {
    path,
    get current() {
      return current;
    },
    reload() {
      const previous = current;
      current = readDataKeyFile(path);
      // Sealing and opening are synchronous and read `current` each time, so nothing still holds the
      // previous keys for a seal or an open under way: they can go at once.
      previous.wipe();
      return current;
    },
    close() {
      current.wipe();
    },
  };
}
