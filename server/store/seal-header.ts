/**
 * The sealed format of one chunk (a value is one chunk, or several when appended to):
 *
 *   offset  size  field
 *   0       1     format: 2 XChaCha20-Poly1305 (written today), 1 AES-256-GCM (opened only, from older versions)
 *   1       1     flags, 0 (reserved)
 *   2       1     L, the key id's length (1..16)
 *   3       L     key id, ASCII, in clear so that a reader knows which key opens the chunk
 *   3+L     4     expiry the writer gave the item, Unix seconds, big-endian; 0: none (and in appended chunks)
 *   7+L     4     N, the plaintext's (and ciphertext's) length, big-endian: chunks are self-delimiting
 *   11+L    V     nonce, random per chunk: V = 24 bytes for format 2, 12 for format 1
 *   11+L+V  N     ciphertext
 *   11+L+V+N 16   tag (Poly1305 for format 2, GCM for format 1)
 *
 * The associated data is the header (bytes 0 to 11+L) followed by the record's memcached key, so a chunk
 * opens only under the key it was written to, with the format, expiry and length it was written with.
 * Both formats share everything but the cipher and the nonce's size.
 */

/** FORMAT_XCHACHA is the format byte of chunks sealed with XChaCha20-Poly1305 (192-bit nonces). */
export const FORMAT_XCHACHA = 2;
/** FORMAT_GCM is the format byte of chunks sealed with AES-256-GCM by sessiond before XChaCha20-Poly1305. */
export const FORMAT_GCM = 1;
/** TAG_BYTES is the authentication tag's size in both formats. */
export const TAG_BYTES = 16;

/** headerBytes is the size of a chunk's header for a key id of `idLength` characters. */
export function headerBytes(idLength: number): number {
  return 11 + idLength;
}

/**
 * writeHeader builds a chunk's associated data in a reused buffer (valid until the next call): the header
 * of `format`, `keyId`, `expiresAt` and `length`, then `storeKey`. The caller copies the header (its first
 * `headerBytes(keyId.length)` bytes) in front of the nonce.
 */
export function writeHeader(format: number, keyId: string, expiresAt: number, length: number, storeKey: string): Buffer {
  const size = headerBytes(keyId.length);
  const aad = associatedData(size, storeKey);
  aad[0] = format;
  aad[1] = 0;
  aad[2] = keyId.length;
  aad.write(keyId, 3, "latin1");
  aad.writeUInt32BE(expiresAt, 3 + keyId.length);
  aad.writeUInt32BE(length, 7 + keyId.length);
  return aad;
}

/**
 * readAssociatedData builds, in the same reused buffer, the associated data of a stored chunk whose header
 * starts at `offset`.
 */
export function readAssociatedData(bytes: Buffer, offset: number, storeKey: string): Buffer {
  const size = headerBytes(bytes[offset + 2]!);
  const aad = associatedData(size, storeKey);
  bytes.copy(aad, 0, offset, offset + size);
  return aad;
}

// Internal: the buffer associatedData reuses, grown to the longest (header + memcached key) seen. Sealing
// and opening are synchronous, and neither libsodium nor OpenSSL keeps the associated data past the call,
// so one buffer serves them all.
let aadScratch = Buffer.allocUnsafe(512);

function associatedData(size: number, storeKey: string): Buffer {
  const total = size + storeKey.length;
  if (aadScratch.length < total) aadScratch = Buffer.allocUnsafe(Math.max(total, 2 * aadScratch.length));
  aadScratch.write(storeKey, size, "latin1");
  return aadScratch.subarray(0, total);
}
