import { createHash, timingSafeEqual } from "node:crypto";
import { ConfigError } from "../config/config-error.js";

/** TokenEntry is one `tokens` entry of the config file: an identity and the sha256 of one of its tokens. */
export interface TokenEntry {
  /** identity is the caller name the token stands for, e.g. "cart-service". */
  readonly identity: string;
  /** sha256 is the token's SHA-256 digest (32 bytes); the token itself is never stored. */
  readonly sha256: Buffer;
}

/** IDENTITY is the form of an identity in the config file: 1..256 printable ASCII characters. */
export const IDENTITY = /^[\x21-\x7e]{1,256}$/;

/**
 * parseTokens validates the config file's `tokens` section: a list of `{identity, sha256}` where sha256
 * is 64 hex digits. An identity may have several entries (so its tokens can be rotated). Throws
 * ConfigError naming the entry.
 */
export function parseTokens(value: unknown, where: string): TokenEntry[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ConfigError(`tokens in ${where} must be a list of {identity, sha256}`);
  return value.map((entry, i) => {
    const at = `tokens[${i}] in ${where}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new ConfigError(`${at} must be a mapping {identity, sha256}`);
    }
    const { identity, sha256, ...rest } = entry as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) throw new ConfigError(`${at}: unknown key ${JSON.stringify(unknown[0])}; known: identity, sha256`);
    if (typeof identity !== "string" || !IDENTITY.test(identity) || identity === "*" || identity === "anonymous") {
      throw new ConfigError(`${at}: identity must be 1..256 printable ASCII characters, not "*" or "anonymous"`);
    }
    if (typeof sha256 !== "string" || !/^[0-9a-fA-F]{64}$/.test(sha256)) {
      throw new ConfigError(`${at}: sha256 must be the 64 hex digits of the token's SHA-256 (e.g. from \`sha256sum\`)`);
    }
    return { identity, sha256: Buffer.from(sha256, "hex") };
  });
}

/**
 * identifyToken returns the identity whose entry matches the token's SHA-256, or undefined. Every entry is
 * compared, each in constant time, so the time taken tells nothing about which digest came close.
 */
export function identifyToken(entries: readonly TokenEntry[], token: string): string | undefined {
  const digest = createHash("sha256").update(token, "utf8").digest();
  let found: string | undefined;
  for (const entry of entries) {
    if (timingSafeEqual(entry.sha256, digest) && found === undefined) found = entry.identity;
  }
  return found;
}
