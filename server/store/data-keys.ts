import { createSecretKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";

/** DataKey is one key of a data key file: its id, stored in clear beside every record it seals, and its secret. */
export interface DataKey {
  /** id is 1..16 of [A-Za-z0-9_-]; it names the key, it is not secret. */
  readonly id: string;
  /** secret is the AES-256 key (32 bytes). */
  readonly secret: KeyObject;
}

/** DataKeys is a parsed key file: the first key seals every record written, every key opens records. */
export interface DataKeys {
  /** sealing is the first key of the file. */
  readonly sealing: DataKey;
  /** ids lists every key id, in the file's order (for logs: ids are not secret). */
  readonly ids: readonly string[];
  /** byId returns the key with that id, or undefined when the file does not list it. */
  byId(id: string): DataKey | undefined;
}

/** DataKeySource hands out the keys in use now; a reload replaces them (SIGHUP), so read `current` per use. */
export interface DataKeySource {
  readonly current: DataKeys;
}

/** DataKeyError says a key file cannot be used, naming the file and line; the secret is never quoted. */
export class DataKeyError extends Error {
  override name = "DataKeyError";
}

/** KEY_ID_PATTERN is what a key id may be: 1..16 of [A-Za-z0-9_-]. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,16}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const KEY_BYTES = 32;

/**
 * parseDataKeys parses a key file's text: one key per line as `ID:BASE64` (BASE64 decodes to 32 bytes, as
 * `openssl rand -base64 32` prints), lines starting with `#` and blank lines ignored. Throws DataKeyError
 * for a malformed line, a repeated id, or a file without keys; `source` names the file in messages.
 */
export function parseDataKeys(text: string, source: string): DataKeys {
  const keys = new Map<string, DataKey>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const where = `${source} line ${index + 1}`;
    const colon = line.indexOf(":");
    const id = colon < 0 ? "" : line.slice(0, colon);
    if (!KEY_ID_PATTERN.test(id)) {
      throw new DataKeyError(`${where}: want ID:BASE64 with an ID of 1..16 characters of [A-Za-z0-9_-]`);
    }
    const encoded = line.slice(colon + 1).trim();
    const secret = BASE64.test(encoded) ? Buffer.from(encoded, "base64") : Buffer.alloc(0);
    if (secret.length !== KEY_BYTES) {
      throw new DataKeyError(`${where}: key ${id} is not ${KEY_BYTES} bytes in base64 (make one with: openssl rand -base64 32)`);
    }
    if (keys.has(id)) throw new DataKeyError(`${where}: key id ${id} is listed twice`);
    keys.set(id, { id, secret: createSecretKey(secret) });
  });
  const sealing = keys.values().next().value;
  if (sealing === undefined) throw new DataKeyError(`${source}: no key (want lines of ID:BASE64)`);
  return { sealing, ids: [...keys.keys()], byId: (id) => keys.get(id) };
}

/** readDataKeyFile reads and parses a key file; throws DataKeyError when it cannot be read or parsed. */
export function readDataKeyFile(path: string): DataKeys {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new DataKeyError(`cannot read data key file ${path}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
  return parseDataKeys(text, `data key file ${path}`);
}

/** DataKeyFile is a DataKeySource read from a file, which `reload` reads again. */
export interface DataKeyFile extends DataKeySource {
  /** path is the file's path, as given. */
  readonly path: string;
  /**
   * reload reads the file again and uses its keys from now on. On a bad file it throws DataKeyError and
   * keeps the keys it had, so a typo during a rotation never stops sealing or opening.
   */
  reload(): DataKeys;
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
      current = readDataKeyFile(path);
      return current;
    },
  };
}
