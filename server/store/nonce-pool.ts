import { randomFillSync } from "node:crypto";

// Internal: a pool of CSPRNG bytes refilled 24 KiB at a time, so that sealing makes one system call per
// ~1,000 nonces instead of one each. Every byte is handed out once, then the pool is drawn afresh.
const POOL = Buffer.alloc(24 * 1024);
let offset = POOL.length;

/**
 * drawNonce fills `into` with fresh random bytes (a nonce, used for one seal only). The bytes come from
 * the operating system's CSPRNG (getrandom), drawn ahead in bulk: a nonce is never handed out twice.
 */
export function drawNonce(into: Uint8Array): void {
  if (POOL.length - offset < into.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  POOL.copy(into, 0, offset, offset + into.length);
  offset += into.length;
}
