import type { JsonObject } from "@bufbuild/protobuf";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type SessionRecord, SessionRecordSchema } from "../../gen/sessiond/record/v1/record_pb.js";
import { Code, SessionError } from "./errors.js";
import type { NamespaceSettings } from "./options.js";

/**
 * RECORD_FORMAT is the layout version this build writes (SessionRecord.format): 2 keeps the packages as
 * one JSON document. It also reads format 1 (packages as Structs), so records written before stay readable.
 */
export const RECORD_FORMAT = 2;
const STRUCT_FORMAT = 1;

/** Packages is a session's data: package name -> JSON object. Treated as immutable: copy, never mutate. */
export type Packages = Record<string, JsonObject>;

/** decodeRecord reads a stored record; a format this build does not know is an error, not empty data. */
export function decodeRecord(bytes: Uint8Array, key: string): SessionRecord {
  const record = fromBinary(SessionRecordSchema, bytes);
  if (record.format === RECORD_FORMAT) {
    const json = record.packagesJson;
    record.packages =
      json.byteLength === 0 ? {} : JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString());
    record.packagesJson = EMPTY;
  } else if (record.format !== STRUCT_FORMAT) {
    throw new SessionError(
      Code.FAILED_PRECONDITION,
      `session record ${key} has format ${record.format}, this sessiond reads formats ${STRUCT_FORMAT} and ${RECORD_FORMAT}: upgrade sessiond`,
    );
  }
  return record;
}

const EMPTY = new Uint8Array(0);

/**
 * isLive says whether a record is a session that has not expired, idle or absolutely (see `expiresAtMs`),
 * and is not a tombstone. A revoked principal's stamp is checked elsewhere (it needs a read).
 */
export function isLive(record: SessionRecord, nowMs: number, settings: NamespaceSettings): boolean {
  return !record.deleted && nowMs <= expiresAtMs(record, settings);
}

/**
 * expiresAtMs is when a record's session is gone unless accessed: the earlier of its idle expiry
 * (last access + timeout) and its absolute expiry (creation + max lifetime, when the namespace has one).
 */
export function expiresAtMs(record: SessionRecord, settings: NamespaceSettings): number {
  const idle = Number(record.lastAccessedMs) + settings.timeoutSeconds * 1000;
  if (settings.maxLifetimeSeconds === 0) return idle;
  return Math.min(idle, Number(record.createdAtMs) + settings.maxLifetimeSeconds * 1000);
}

/** Binding is a session's principal and attributes, and when it was bound (0 when unbound). */
export interface Binding {
  principal: string;
  attributes: Record<string, string>;
  boundAtMs: number;
}

/** UNBOUND is the binding of a session with no principal. */
export const UNBOUND: Binding = Object.freeze({ principal: "", attributes: Object.freeze({}), boundAtMs: 0 });

/** bindingOf reads a record's binding. */
export function bindingOf(record: SessionRecord): Binding {
  return { principal: record.principal, attributes: record.attributes, boundAtMs: Number(record.boundAtMs) };
}

/** RecordFields are what a write puts in a record. */
export interface RecordFields {
  sessionId: string;
  createdAtMs: number;
  lastAccessedMs: number;
  packages: Packages;
  deleted?: boolean;
  /** handle names the session in listings; fixed for its life. Default "" (tombstones). */
  handle?: string;
  /** binding is the session's principal. Default unbound. */
  binding?: Binding;
}

/** encodeRecord encodes a record; throws RESOURCE_EXHAUSTED when it would exceed maxBytes. */
export function encodeRecord(fields: RecordFields, maxBytes: number): Uint8Array {
  const bytes = toBinary(
    SessionRecordSchema,
    create(SessionRecordSchema, {
      format: RECORD_FORMAT,
      sessionId: fields.sessionId,
      createdAtMs: BigInt(fields.createdAtMs),
      lastAccessedMs: BigInt(fields.lastAccessedMs),
      packagesJson: Buffer.from(JSON.stringify(fields.packages)),
      deleted: fields.deleted ?? false,
      handle: fields.handle ?? "",
      principal: fields.binding?.principal ?? "",
      attributes: fields.binding?.attributes ?? {},
      boundAtMs: BigInt(fields.binding?.boundAtMs ?? 0),
    }),
  );
  if (bytes.byteLength > maxBytes) {
    throw new SessionError(
      Code.RESOURCE_EXHAUSTED,
      `session would take ${bytes.byteLength} bytes, over the limit of ${maxBytes} bytes ` +
        `(memcached's item size): store less in it, or raise memcached's -I and sessiond's --max-item-bytes`,
    );
  }
  return bytes;
}

/**
 * copyPackages makes a shallow copy of packages with no prototype, so that a package named "__proto__" is
 * just a package. Package objects themselves are never mutated (a write makes a new one): copies and
 * savepoints share them.
 */
export function copyPackages(packages: Packages | undefined): Packages {
  return Object.assign(Object.create(null) as Packages, packages);
}

/** packageOf returns a package of packages, or undefined: own properties only ("__proto__" is a name). */
export function packageOf(packages: Packages | undefined, pkg: string): JsonObject | undefined {
  return packages !== undefined && Object.hasOwn(packages, pkg) ? packages[pkg] : undefined;
}

/** mergeInto merges data into a package of writable packages (a new package object: old ones may be shared). */
export function mergeInto(packages: Packages, pkg: string, data: JsonObject | undefined): void {
  packages[pkg] = { ...packageOf(packages, pkg), ...data };
}

/** deleteFrom removes keys from a package of writable packages, or the whole package when keys is empty. */
export function deleteFrom(packages: Packages, pkg: string, keys: readonly string[]): void {
  const current = packageOf(packages, pkg);
  if (current === undefined) return;
  if (keys.length === 0) {
    delete packages[pkg];
    return;
  }
  const kept: JsonObject = { ...current };
  for (const key of keys) delete kept[key];
  packages[pkg] = kept;
}
