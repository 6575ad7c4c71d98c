import { createCipheriv, createDecipheriv } from "node:crypto";
import type { DataKey } from "./data-keys.js";
import { drawNonce } from "./nonce-pool.js";
import { FORMAT_GCM, headerBytes, TAG_BYTES, writeHeader } from "./seal-header.js";

/**
 * The AES-256-GCM chunks (format 1) that sessiond wrote before XChaCha20-Poly1305: opened so that records
 * written by an older version still read, never written by sessiond again. Random 96-bit GCM nonces cap a
 * key at 2^32 seals (NIST SP 800-38D); a chunk opened from here counts as stale, so it is re-sealed.
 */

/** GCM_NONCE_BYTES is the size of a format 1 chunk's nonce (96 bits). */
export const GCM_NONCE_BYTES = 12;

/**
 * openGcmChunk opens the ciphertext of a format 1 chunk (its nonce, ciphertext and tag as stored, with the
 * associated data from `readAssociatedData`): the plaintext, or undefined when it does not authenticate.
 */
export function openGcmChunk(key: DataKey, nonce: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer | undefined {
  // OpenSSL copies the key into the cipher context and frees it with the context: the guarded buffer
  // stays the only long-lived copy.
  const decipher = createDecipheriv("aes-256-gcm", key.secret, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    const plaintext = decipher.update(ciphertext);
    decipher.final();
    return plaintext;
  } catch {
    return undefined;
  }
}

/**
 * sealGcmChunk seals as sessiond did before XChaCha20-Poly1305 (format 1). Caution: for tests (records left
 * by an older version) and the bench's comparison only; sessiond itself never calls it.
 */
export function sealGcmChunk(key: DataKey, storeKey: string, plaintext: Uint8Array, expiresAt: number): Buffer {
  const size = headerBytes(key.id.length);
  const aad = writeHeader(FORMAT_GCM, key.id, expiresAt, plaintext.byteLength, storeKey);
  const out = Buffer.allocUnsafe(size + GCM_NONCE_BYTES + plaintext.byteLength + TAG_BYTES);
  aad.copy(out, 0, 0, size);
  const nonce = out.subarray(size, size + GCM_NONCE_BYTES);
  drawNonce(nonce);
  const cipher = createCipheriv("aes-256-gcm", key.secret, nonce);
  cipher.setAAD(aad);
  cipher.update(plaintext).copy(out, size + GCM_NONCE_BYTES);
  cipher.final();
  cipher.getAuthTag().copy(out, size + GCM_NONCE_BYTES + plaintext.byteLength);
  return out;
}
