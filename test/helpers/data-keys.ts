import { randomBytes } from "node:crypto";
import { type DataKeys, parseDataKeys } from "../../server/store/data-keys.js";

/** keyLine makes one line of a data key file with a fresh random key, as `openssl rand -base64 32` would. */
export function keyLine(id: string): string {
  return `${id}:${randomBytes(32).toString("base64")}`;
}

/** MutableKeys is a DataKeySource whose keys a test replaces, as a SIGHUP reload would. */
export interface MutableKeys {
  current: DataKeys;
}

/** keysOf parses key file lines into a source (the first line seals). */
export function keysOf(...lines: string[]): MutableKeys {
  return { current: parseDataKeys(lines.join("\n"), "test keys") };
}

/** LoggedLine is one line a RecordingLogger received. */
export interface LoggedLine {
  level: "warn" | "error" | "info";
  obj: Record<string, unknown>;
  msg: string;
}

/** RecordingLogger keeps what it is given, so tests can count and read warn lines. */
export interface RecordingLogger {
  lines: LoggedLine[];
  warn(obj: object, msg: string): void;
  /** warnings are the warn lines so far. */
  readonly warnings: LoggedLine[];
}

/** recordingLogger returns an empty RecordingLogger. */
export function recordingLogger(): RecordingLogger {
  const lines: LoggedLine[] = [];
  return {
    lines,
    warn: (obj, msg) => lines.push({ level: "warn", obj: obj as Record<string, unknown>, msg }),
    get warnings() {
      return lines.filter((l) => l.level === "warn");
    },
  };
}
