import type { JsonObject } from "@bufbuild/protobuf";

/**
 * Snapshot is a session as a request read it: the JSON text of each top-level key. Text, not objects,
 * because the framework hands `set` the very objects the request mutated in place (`cart.push(...)`).
 */
export type Snapshot = ReadonlyMap<string, string>;

/** SessionChanges are what a request did to its session since its snapshot (internal). */
export interface SessionChanges {
  /** changed holds every top-level key whose value differs from the snapshot (or is new), with its value. */
  changed: JsonObject;
  /** removed lists the keys of the snapshot that the session no longer has. */
  removed: string[];
  /** current is the session as it is now: the snapshot to keep once the changes are written. */
  current: Snapshot;
}

// Non-enumerable and a symbol: JSON, for..in and Object.keys never see it, so it is never stored.
const SNAPSHOT = Symbol("sessiond.snapshot");

/** takeSnapshot records a session's top-level keys as JSON text (internal). */
export function takeSnapshot(session: object): Map<string, string> {
  const snapshot = new Map<string, string>();
  for (const [key, value] of Object.entries(session)) {
    // JSON.stringify calls toJSON (the frameworks' Cookie has one) and answers undefined for functions.
    const text = JSON.stringify(value);
    if (text !== undefined) snapshot.set(key, text);
  }
  return snapshot;
}

/** attachSnapshot keeps `snapshot` on the session object itself, hidden from JSON and enumeration (internal). */
export function attachSnapshot(session: object, snapshot: Snapshot): void {
  Object.defineProperty(session, SNAPSHOT, { value: snapshot, enumerable: false, configurable: true, writable: true });
}

/** attachedSnapshot answers the snapshot kept on a session object, if any (internal). */
export function attachedSnapshot(session: object): Snapshot | undefined {
  return (session as { [SNAPSHOT]?: Snapshot })[SNAPSHOT];
}

/**
 * changesSince compares a session with the snapshot its request read (internal). Without a snapshot (a new
 * session, or one `get` never read) every key counts as changed and none as removed.
 */
export function changesSince(session: object, snapshot: Snapshot | undefined): SessionChanges {
  const current = takeSnapshot(session);
  const changed: JsonObject = {};
  for (const [key, text] of current) {
    if (snapshot?.get(key) !== text) changed[key] = JSON.parse(text);
  }
  const removed = snapshot === undefined ? [] : [...snapshot.keys()].filter((key) => !current.has(key));
  return { changed, removed, current };
}

/**
 * distance counts the top-level keys on which a session differs from a snapshot: the fewest for the
 * snapshot its own request read, unless that request changed exactly what others committed since (internal).
 */
export function distance(current: Snapshot, snapshot: Snapshot): number {
  let differing = 0;
  for (const [key, text] of current) if (snapshot.get(key) !== text) differing++;
  for (const key of snapshot.keys()) if (!current.has(key)) differing++;
  return differing;
}
