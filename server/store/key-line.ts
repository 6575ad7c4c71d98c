import { DataKeyError } from "./data-key-error.js";

// Internal: what a key file line may hold. Kept to the bytes of one line so that a secret never becomes a
// JavaScript string, which could not be wiped.
const KEY_ID = /^[A-Za-z0-9_-]{1,16}$/;
const KEY_BYTES = 32;
// 32 bytes are 43 base64 characters, then up to two "=" (openssl prints one).
const KEY_CHARACTERS = 43;

/** KeyLine is one parsed line of a data key file: the key's id and its secret, in the buffer `allocate` gave. */
export interface KeyLine {
  readonly id: string;
  readonly secret: Buffer;
}

/**
 * parseKeyLine reads one line of a data key file, `ID:BASE64`, given as bytes (without its newline; spaces,
 * tabs and a carriage return around it are ignored). It answers undefined for a blank line or a `#`
 * comment. The line is checked whole before `allocate` is called for the 32-byte secret, which is decoded
 * straight into it (guarded memory, in sessiond). Throws DataKeyError naming `where`, never quoting the secret.
 */
export function parseKeyLine(line: Uint8Array, where: string, allocate: () => Buffer): KeyLine | undefined {
  let start = 0;
  let end = line.length;
  while (start < end && isBlank(line[start]!)) start++;
  while (end > start && isBlank(line[end - 1]!)) end--;
  if (start === end || line[start] === 0x23 /* # */) return undefined;
  const colon = line.indexOf(0x3a /* : */, start);
  const id = colon < 0 || colon >= end ? "" : Buffer.from(line.buffer, line.byteOffset + start, colon - start).toString("latin1");
  if (!KEY_ID.test(id)) throw new DataKeyError(`${where}: want ID:BASE64 with an ID of 1..16 characters of [A-Za-z0-9_-]`);
  let from = colon + 1;
  while (from < end && isBlank(line[from]!)) from++;
  let padding = 0;
  while (end - padding > from && line[end - padding - 1] === 0x3d /* = */) padding++;
  let valid = end - padding - from === KEY_CHARACTERS && padding <= 2;
  for (let i = from; valid && i < end - padding; i++) valid = sextet(line[i]!) >= 0;
  if (!valid) {
    throw new DataKeyError(`${where}: key ${id} is not ${KEY_BYTES} bytes in base64 (make one with: openssl rand -base64 32)`);
  }
  const secret = allocate();
  let bits = 0;
  let held = 0;
  let written = 0;
  for (let i = from; i < end - padding; i++) {
    bits = ((bits << 6) | sextet(line[i]!)) & 0xffffff;
    held += 6;
    if (held >= 8) {
      held -= 8;
      secret[written++] = (bits >> held) & 0xff;
    }
  }
  return { id, secret };
}

// isBlank: a space, a tab or a carriage return (a file written on Windows).
function isBlank(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d;
}

// sextet is the value of one base64 character (standard alphabet), or -1.
function sextet(c: number): number {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41; // A-Z
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26; // a-z
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52; // 0-9
  if (c === 0x2b) return 62; // +
  if (c === 0x2f) return 63; // /
  return -1;
}
