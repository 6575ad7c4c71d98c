import { createHmac, randomBytes } from "node:crypto";

// Internal: drawn once per process, never logged, so tags correlate one process's lines and nothing more.
const KEY = randomBytes(32);

/**
 * sessionTag is what log lines carry instead of a session id: the first 16 hex digits of HMAC-SHA256 over
 * the id with a random per-process key. Lines about one session share its tag; the tag cannot be turned
 * back into the id, nor checked against a guessed id without the key (OWASP: never log session ids).
 */
export function sessionTag(sessionId: string): string {
  return createHmac("sha256", KEY).update(sessionId, "utf8").digest("hex").slice(0, 16);
}
