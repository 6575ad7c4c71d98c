import { type DataKey, type DataKeys, KEY_ID_PATTERN } from "./data-keys.js";
import { drawNonce } from "./nonce-pool.js";
import { GCM_NONCE_BYTES, openGcmChunk } from "./seal-gcm.js";
import { FORMAT_GCM, FORMAT_XCHACHA, headerBytes, readAssociatedData, TAG_BYTES, writeHeader } from "./seal-header.js";
import { sodium, XCHACHA_NONCE_BYTES } from "./sodium.js";

/**
 * SEAL_OVERHEAD_BYTES is the most a chunk adds to its plaintext (with a 16-character key id, the header,
 * a 24-byte nonce and the tag; see `seal-header.ts`): 67 bytes, well within the room the core keeps free
 * beside a record (RECORD_OVERHEAD_BYTES, 512).
 */
export const SEAL_OVERHEAD_BYTES = headerBytes(16) + XCHACHA_NONCE_BYTES + TAG_BYTES;

/**
 * sealChunk encrypts `plaintext` for `storeKey` with `key`: XChaCha20-Poly1305 (libsodium), a random
 * 192-bit nonce, the header and the memcached key as associated data (format 2, see `seal-header.ts`).
 * With 192 random bits, nonces do not repeat however many records one key seals. `expiresAt` is the
 * item's expiry in Unix seconds (0: none), kept so that a reader can re-seal the value with a newer key
 * without changing its lifetime.
 */
export function sealChunk(key: DataKey, storeKey: string, plaintext: Uint8Array, expiresAt: number): Buffer {
  // A wiped key is all zeros: sealing with it would write records nobody can open. Keys are wiped only
  // once replaced or at exit, so reaching this is a bug.
  if (key.wiped) throw new Error(`internal: data key ${key.id} was wiped, yet asked to seal`);
  const size = headerBytes(key.id.length);
  const aad = writeHeader(FORMAT_XCHACHA, key.id, expiresAt, plaintext.byteLength, storeKey);
  const out = Buffer.allocUnsafe(size + XCHACHA_NONCE_BYTES + plaintext.byteLength + TAG_BYTES);
  aad.copy(out, 0, 0, size);
  const nonce = out.subarray(size, size + XCHACHA_NONCE_BYTES);
  drawNonce(nonce);
  // libsodium writes the ciphertext and its tag straight into the chunk: no copy.
  sodium().crypto_aead_xchacha20poly1305_ietf_encrypt(
    out.subarray(size + XCHACHA_NONCE_BYTES),
    plaintext,
    aad,
    null,
    nonce,
    key.secret,
  );
  return out;
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
  /**
   * stale tells that some chunk was sealed with a key other than today's sealing key, or with AES-256-GCM
   * (format 1): either way the value is due to be sealed again.
   */
  readonly stale: boolean;
}

/** Unopened says why a value does not open; `keyId` is the offending chunk's key id when it is well formed. */
export interface Unopened {
  readonly ok: false;
  readonly reason: "not sealed" | "truncated" | "unknown key" | "does not authenticate";
  readonly keyId?: string;
}

/**
 * openValue opens every chunk of a stored value read under `storeKey`, whichever format each was sealed
 * in (a value appended to across an upgrade holds both). Any chunk that is malformed, truncated, sealed
 * with a key not in `keys`, or fails authentication (tampered, moved from another key, wrong key) makes
 * the whole value unopened: the caller treats it as absent.
 */
export function openValue(keys: DataKeys, storeKey: string, value: Uint8Array): Opened | Unopened {
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const parts: Buffer[] = [];
  let stale = false;
  let offset = 0;
  do {
    const format = bytes[offset];
    if (bytes.length - offset < 3 || (format !== FORMAT_XCHACHA && format !== FORMAT_GCM)) {
      return { ok: false, reason: "not sealed" };
    }
    const nonceBytes = format === FORMAT_XCHACHA ? XCHACHA_NONCE_BYTES : GCM_NONCE_BYTES;
    const idLength = bytes[offset + 2]!;
    const size = headerBytes(idLength);
    if (bytes.length - offset < size + nonceBytes + TAG_BYTES) return { ok: false, reason: "truncated" };
    const keyId = bytes.toString("latin1", offset + 3, offset + 3 + idLength);
    if (!KEY_ID_PATTERN.test(keyId)) return { ok: false, reason: "not sealed" };
    const length = bytes.readUInt32BE(offset + 7 + idLength);
    const nonceAt = offset + size;
    const end = nonceAt + nonceBytes + length + TAG_BYTES;
    if (end > bytes.length) return { ok: false, reason: "truncated", keyId };
    const key = keys.byId(keyId);
    if (key === undefined) return { ok: false, reason: "unknown key", keyId };
    if (key.wiped) throw new Error(`internal: data key ${key.id} was wiped, yet asked to open`);
    const aad = readAssociatedData(bytes, offset, storeKey);
    const nonce = bytes.subarray(nonceAt, nonceAt + nonceBytes);
    const plaintext =
      format === FORMAT_XCHACHA
        ? openXChaCha(key, nonce, bytes.subarray(nonceAt + nonceBytes, end), aad, length)
        : openGcmChunk(
            key,
            nonce,
            bytes.subarray(nonceAt + nonceBytes, end - TAG_BYTES),
            bytes.subarray(end - TAG_BYTES, end),
            aad,
          );
    if (plaintext === undefined) return { ok: false, reason: "does not authenticate", keyId };
    parts.push(plaintext);
    if (key !== keys.sealing || format !== FORMAT_XCHACHA) stale = true;
    offset = end;
  } while (offset < bytes.length);
  const expiresAt = bytes.readUInt32BE(3 + bytes[2]!);
  const plaintext = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return { ok: true, plaintext, expiresAt, chunks: parts.length, stale };
}

// openXChaCha opens a format 2 chunk's ciphertext and tag: the plaintext, or undefined when it does not
// authenticate (libsodium throws then, and has written nothing we keep).
function openXChaCha(key: DataKey, nonce: Buffer, sealed: Buffer, aad: Buffer, length: number): Buffer | undefined {
  const plaintext = Buffer.allocUnsafe(length);
  try {
    sodium().crypto_aead_xchacha20poly1305_ietf_decrypt(plaintext, null, sealed, aad, nonce, key.secret);
    return plaintext;
  } catch {
    return undefined;
  }
}
