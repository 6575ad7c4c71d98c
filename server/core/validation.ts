import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { invalidArgument } from "./errors.js";

/** NAMESPACE_PATTERN is the contract's namespace rule: 1..128 characters of [A-Za-z0-9._-] (CONTRACT.md "Concepts"). */
export const NAMESPACE_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

// Internal: the contract's other name rules (CONTRACT.md "Concepts").
const SESSION_ID = /^[\x21-\x7e]{1,256}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const MAX_NAME_CHARS = 256;

/**
 * MAX_VALUE_DEPTH is how deeply values may nest (objects and lists); deeper values are INVALID_ARGUMENT.
 * It sits below protobuf-es's decoding limit (100 messages, about 48 JSON levels), past which grpc-js
 * refuses the request itself as unparseable (INTERNAL, as gRPC specifies), and keeps stored records decodable.
 */
export const MAX_VALUE_DEPTH = 32;

/** checkNamespace throws INVALID_ARGUMENT unless ns is 1..128 chars of [A-Za-z0-9._-]. */
export function checkNamespace(ns: string): void {
  if (!NAMESPACE_PATTERN.test(ns)) {
    throw invalidArgument(`namespace ${quote(ns)} is invalid: use 1..128 characters of A-Z, a-z, 0-9, '.', '_' or '-'`);
  }
}

/** checkSessionId throws INVALID_ARGUMENT unless id is 1..256 printable ASCII chars (0x21..0x7E). */
export function checkSessionId(id: string): void {
  if (!SESSION_ID.test(id)) {
    throw invalidArgument(
      // The id itself is never quoted back: error messages and logs carry no session id.
      `session_id ${id === "" ? '""' : `(${id.length} characters)`} is invalid: use 1..256 printable ASCII characters (no spaces or control characters)`,
    );
  }
}

/** checkName throws INVALID_ARGUMENT unless a package or key name is 1..256 chars without control chars. */
export function checkName(what: "package" | "key", name: string): void {
  if (name.length === 0) throw invalidArgument(`${what} name is empty: use 1..256 characters`);
  // length counts UTF-16 units; count code points only when it could matter.
  if (name.length > MAX_NAME_CHARS && [...name].length > MAX_NAME_CHARS) {
    throw invalidArgument(`${what} name ${quote(name)} is too long: at most 256 characters`);
  }
  if (CONTROL.test(name)) {
    throw invalidArgument(`${what} name ${quote(name)} contains a control character`);
  }
}

/** checkKeys checks each key name of a request's `keys` list. */
export function checkKeys(keys: readonly string[]): void {
  for (const key of keys) checkName("key", key);
}

/** checkDeleteTarget checks a delete: keys of a package, a package (no keys), or the session (neither). */
export function checkDeleteTarget(pkg: string, keys: readonly string[]): void {
  if (pkg === "") {
    if (keys.length > 0) throw invalidArgument("keys given without a package: name the package they belong to");
    return;
  }
  checkName("package", pkg);
  checkKeys(keys);
}

/**
 * checkData checks the data of a set: every top-level key is a valid key name, and every value is a
 * JSON value (numbers are finite, nesting is at most MAX_VALUE_DEPTH deep). A Value with no kind set
 * arrives as null (protobuf-es unboxes Struct to JSON) and is stored as null.
 */
export function checkData(data: JsonObject | undefined): void {
  if (data === undefined) return;
  for (const key in data) {
    checkName("key", key);
    checkValue(key, data[key], 1);
  }
}

function checkValue(key: string, value: JsonValue | undefined, depth: number): void {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw invalidArgument(`value of key ${quote(key)} is ${value}: JSON numbers must be finite`);
    }
  } else if (typeof value === "object" && value !== null) {
    if (depth >= MAX_VALUE_DEPTH) {
      throw invalidArgument(`value of key ${quote(key)} nests deeper than ${MAX_VALUE_DEPTH} levels`);
    }
    if (Array.isArray(value)) {
      for (const inner of value) checkValue(key, inner, depth + 1);
    } else {
      for (const name in value) checkValue(key, value[name], depth + 1);
    }
  }
}

/** quote shows a caller's string in a message, shortened and with control characters escaped. */
export function quote(s: string): string {
  const shown = s.length > 64 ? `${s.slice(0, 64)}…` : s;
  return JSON.stringify(shown);
}

// Internal: the contract's limits on principals, attributes and handles ("Sessions of a principal").
const MAX_ATTRIBUTES = 16;
const MAX_ATTRIBUTE_KEY_CHARS = 64;
const MAX_ATTRIBUTE_VALUE_CHARS = 256;
const HANDLE = /^[A-Za-z0-9_-]{16,64}$/;
/** MAX_HANDLES bounds the handles (and except_handles) of one RevokeSessions. */
export const MAX_HANDLES = 1000;

/** checkPrincipal throws INVALID_ARGUMENT unless p is 1..256 printable ASCII chars ("" too when allowed). */
export function checkPrincipal(p: string, allowEmpty = false): void {
  if (p === "" && allowEmpty) return;
  if (!SESSION_ID.test(p)) {
    throw invalidArgument(
      `principal ${quote(p)} is invalid: use 1..256 printable ASCII characters (no spaces or control characters)`,
    );
  }
}

/** checkAttributes throws INVALID_ARGUMENT unless there are at most 16, keys 1..64 and values 0..256 chars without control chars. */
export function checkAttributes(attributes: Record<string, string>): void {
  const entries = Object.entries(attributes);
  if (entries.length > MAX_ATTRIBUTES) {
    throw invalidArgument(`${entries.length} attributes given: at most ${MAX_ATTRIBUTES}`);
  }
  for (const [key, value] of entries) {
    const keyChars = [...key].length;
    if (keyChars === 0 || keyChars > MAX_ATTRIBUTE_KEY_CHARS || CONTROL.test(key)) {
      throw invalidArgument(`attribute key ${quote(key)} is invalid: use 1..64 characters without control characters`);
    }
    if ([...value].length > MAX_ATTRIBUTE_VALUE_CHARS || CONTROL.test(value)) {
      throw invalidArgument(`attribute ${quote(key)}: its value must be 0..256 characters without control characters`);
    }
  }
}

/** checkHandles throws INVALID_ARGUMENT unless every handle looks like one and there are at most MAX_HANDLES. */
export function checkHandles(what: "handles" | "except_handles", handles: readonly string[]): void {
  if (handles.length > MAX_HANDLES) throw invalidArgument(`${handles.length} ${what} given: at most ${MAX_HANDLES}`);
  for (const handle of handles) {
    if (!HANDLE.test(handle)) {
      throw invalidArgument(`${what}: ${quote(handle)} is not a session handle (as listed by ListPrincipalSessions)`);
    }
  }
}
