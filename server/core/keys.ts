import { createHash } from "node:crypto";
import { OptionsError } from "./errors.js";

/** KEY_PREFIX_PATTERN is the rule of `--key-prefix`: 1..8 characters of [A-Za-z0-9._-] (keys stay short and printable). */
export const KEY_PREFIX_PATTERN = /^[A-Za-z0-9._-]{1,8}$/;

/**
 * Keys derives every memcached key sessiond uses. No caller string reaches memcached raw: a session id is
 * hashed (sha256, base64url) and a namespace is already limited to [A-Za-z0-9._-]{1,128}, so keys are
 * printable, space-free and at most 8 + 128 + 1 + 16 + 3 + 43 ≈ 200 bytes (memcached allows 250).
 *
 * Layout: `<prefix>:<namespace>:gen` names the namespace's generation, whose copies live under the store's
 * `replicaKeys` of it (`...:gen~<n>`, one per node); sessions live under
 * `<prefix>:<namespace>:<generation>:s:<hash of id>` and index shards under `...:<generation>:i:<n>`.
 * Changing the generation (InvalidateAll) makes every key of the old one unreachable at once.
 */
export class Keys {
  constructor(private readonly prefix: string) {
    if (!KEY_PREFIX_PATTERN.test(prefix)) {
      throw new OptionsError(`key prefix ${JSON.stringify(prefix)} is invalid: use 1..8 characters of [A-Za-z0-9._-]`);
    }
  }

  /** generation is the key of a namespace's generation value. */
  generation(namespace: string): string {
    return `${this.prefix}:${namespace}:gen`;
  }

  /** session is the key of one session's record. */
  session(namespace: string, generation: string, sessionId: string): string {
    const hash = createHash("sha256").update(sessionId).digest("base64url");
    return `${this.prefix}:${namespace}:${generation}:s:${hash}`;
  }

  /** indexShard is the key of one shard of a namespace's session index. */
  indexShard(namespace: string, generation: string, shard: number): string {
    return `${this.prefix}:${namespace}:${generation}:i:${shard}`;
  }
}
