import { createCipheriv, createDecipheriv, randomFillSync } from "node:crypto";
import { type DataKey, type DataKeys, KEY_ID_PATTERN } from "./data-keys.js";

/**
 * The sealed format of one chunk (a value is one chunk, or several when appended to):
 *
 *   offset  size  field
 *   0       1     format, 1
 *   1       1     flags, 0 (reserved)
 *   2       1     L, the key id's length (1..16)
 *   3       L     key id, ASCII, in clear so that a reader knows which key opens the chunk
 *   3+L     4     expiry the writer gave the item, Unix seconds, big-endian; 0: none (and in appended chunks)
 *   7+L     4     N, the ciphertext's length, big-endian: chunks are self-delimiting
 *   11+L    12    nonce, random per chunk
 *   23+L    N     AES-256-GCM ciphertext
 *   23+L+N  16    GCM tag
 *
 * The associated data is the header (bytes 0 to 11+L) followed by the record's memcached key, so a chunk
 * opens only under the key it was written to, with the expiry and length it was written with.
 */
const FORMAT = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * SEAL_OVERHEAD_BYTES is the most a chunk adds to its plaintext (with a 16-character key id): 55 bytes,
 * well within the room the core keeps free beside a record (RECORD_OVERHEAD_BYTES).
 */
export const SEAL_OVERHEAD_BYTES = 3 + 16 + 8 + NONCE_BYTES + TAG_BYTES;

/**
 * sealChunk encrypts `plaintext` for `storeKey` with `key` (AES-256-GCM, a random 12-byte nonce).
 * `expiresAt` is the item's expiry in Unix seconds (0: none), kept so that a reader can re-seal the value
 * with a newer key without changing its lifetime.
 */
export function sealChunk(key: DataKey, storeKey: string, plaintext: Uint8Array, expiresAt: number): Buffer {
  const idLength = key.id.length;
  const headerBytes = 11 + idLength;
  // The associated data, the header then the memcached key, is written once in a reused buffer and given
  // in one piece; the header is then copied in front of the ciphertext.
  const aad = associatedData(headerBytes, storeKey);
  aad[0] = FORMAT;
  aad[1] = 0;
  aad[2] = idLength;
  aad.write(key.id, 3, "latin1");
  aad.writeUInt32BE(expiresAt, 3 + idLength);
  aad.writeUInt32BE(plaintext.byteLength, 7 + idLength);
  const out = Buffer.allocUnsafe(headerBytes + NONCE_BYTES + plaintext.byteLength + TAG_BYTES);
  aad.copy(out, 0, 0, headerBytes);
  const nonce = nextNonce();
  nonce.copy(out, headerBytes);
  const cipher = createCipheriv("aes-256-gcm", key.secret, nonce);
  cipher.setAAD(aad);
  const ciphertext = cipher.update(plaintext);
  cipher.final();
  ciphertext.copy(out, headerBytes + NONCE_BYTES);
  cipher.getAuthTag().copy(out, headerBytes + NONCE_BYTES + plaintext.byteLength);
  return out;
}

// Internal: the buffer associatedData reuses, grown to the longest (header + memcached key) seen. Sealing
// and opening are synchronous, so one buffer serves them all; OpenSSL copies nothing of it past setAAD.
let aadScratch = Buffer.allocUnsafe(512);

// associatedData returns the reused buffer, sized to a header of `headerBytes` followed by `storeKey`
// (written in it); the caller writes the header in front.
function associatedData(headerBytes: number, storeKey: string): Buffer {
  const size = headerBytes + storeKey.length;
  if (aadScratch.length < size) aadScratch = Buffer.allocUnsafe(Math.max(size, 2 * aadScratch.length));
  aadScratch.write(storeKey, headerBytes, "latin1");
  return aadScratch.subarray(0, size);
}

// Nonces come from a pool of CSPRNG bytes refilled 1,024 nonces at a time: one system call per 1,024
// seals instead of one each. Each nonce is used once (96 random bits, the number GCM is designed for).
const NONCE_POOL = Buffer.alloc(NONCE_BYTES * 1024);
let nonceOffset = NONCE_POOL.length;

function nextNonce(): Buffer {
  if (nonceOffset === NONCE_POOL.length) {
    randomFillSync(NONCE_POOL);
    nonceOffset = 0;
  }
  nonceOffset += NONCE_BYTES;
  return NONCE_POOL.subarray(nonceOffset - NONCE_BYTES, nonceOffset);
}

/** Opened is a value whose every chunk opened. */
export interface Opened {
  readonly ok: true;
  /** plaintext is the chunks' plaintexts, concatenated. */
  readonly plaintext: Buffer;
  /** expiresAt is the item's expiry as its writer gave it, Unix seconds (0: none): the first chunk's. */
  readonly expiresAt: number;
  /** chunks is how many chunks the value holds (more than one once appended to). */
  readonly chunks: number;
  /** stale tells that some chunk was sealed with a key other than today's sealing key. */
  readonly stale: boolean;
}

/** Unopened says why a value does not open; `keyId` is the offending chunk's key id when it is well formed. */
export interface Unopened {
  readonly ok: false;
  readonly reason: "not sealed" | "truncated" | "unknown key" | "does not authenticate";
  readonly keyId?: string;
}

/**
 * openValue opens every chunk of a stored value read under `storeKey`. Any chunk that is malformed,
 * truncated, sealed with a key not in `keys`, or fails authentication (tampered, moved from another key,
 * wrong key) makes the whole value unopened: the caller treats it as absent.
 */
export function openValue(keys: DataKeys, storeKey: string, value: Uint8Array): Opened | Unopened {
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const parts: Buffer[] = [];
  let stale = false;
  let offset = 0;
  do {
    if (bytes.length - offset < 3 || bytes[offset] !== FORMAT) return { ok: false, reason: "not sealed" };
    const idLength = bytes[offset + 2]!;
    const headerBytes = 11 + idLength;
    if (bytes.length - offset < headerBytes + NONCE_BYTES + TAG_BYTES) return { ok: false, reason: "truncated" };
    const keyId = bytes.toString("latin1", offset + 3, offset + 3 + idLength);
    if (!KEY_ID_PATTERN.test(keyId)) return { ok: false, reason: "not sealed" };
    const length = bytes.readUInt32BE(offset + 7 + idLength);
    const end = offset + headerBytes + NONCE_BYTES + length + TAG_BYTES;
    if (end > bytes.length) return { ok: false, reason: "truncated", keyId };
    const key = keys.byId(keyId);
    if (key === undefined) return { ok: false, reason: "unknown key", keyId };
    const nonceAt = offset + headerBytes;
    const decipher = createDecipheriv("aes-256-gcm", key.secret, bytes.subarray(nonceAt, nonceAt + NONCE_BYTES));
    const aad = associatedData(headerBytes, storeKey);
    bytes.copy(aad, 0, offset, nonceAt);
    decipher.setAAD(aad);
    decipher.setAuthTag(bytes.subarray(end - TAG_BYTES, end));
    try {
      parts.push(decipher.update(bytes.subarray(nonceAt + NONCE_BYTES, end - TAG_BYTES)));
      decipher.final();
    } catch {
      return { ok: false, reason: "does not authenticate", keyId };
    }
    if (key !== keys.sealing) stale = true;
    offset = end;
  } while (offset < bytes.length);
  const expiresAt = bytes.readUInt32BE(3 + bytes[2]!);
  const plaintext = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return { ok: true, plaintext, expiresAt, chunks: parts.length, stale };
}
