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
 * `<prefix>:<namespace>:<generation>:s:<hash of id>` and the session index's items under
 * `...:<generation>:i:<period>:<shard>` (plus `.<segment>` past the first segment, see `AppendLog`).
 * Changing the generation (InvalidateAll) makes every key of the old one unreachable at once.
 * A principal appears only as a hash too: its not-before stamp is `<prefix>:<namespace>:p:<hash>:nb`
 * (outside the generation, replicated like it), its list of sessions `...:<generation>:p:<hash>:<n>` and the
 * count of handles in that list `...:<generation>:p:<hash>:n`.
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
    return this.sessionByHash(namespace, generation, hashOf(sessionId));
  }

  /** sessionHash is the part of a session's key that stands for its id (sha256, base64url: 43 characters). */
  sessionHash(sessionId: string): string {
    return hashOf(sessionId);
  }

  /** sessionByHash is the key of a session's record from its id's hash (a principal's list holds hashes). */
  sessionByHash(namespace: string, generation: string, hash: string): string {
    return `${this.prefix}:${namespace}:${generation}:s:${hash}`;
  }

  /** principalStamp is the key of a principal's not-before stamp (a replicated register). */
  principalStamp(namespace: string, principal: string): string {
    return `${this.prefix}:${namespace}:p:${hashOf(principal)}:nb`;
  }

  /** principalList is the key of one shard of a principal's list of sessions. */
  principalList(namespace: string, generation: string, principal: string, shard: number): string {
    return `${this.prefix}:${namespace}:${generation}:p:${hashOf(principal)}:${shard}`;
  }

  /** principalCount is the key of the count of handles in a principal's list (a memcached counter). */
  principalCount(namespace: string, generation: string, principal: string): string {
    return `${this.prefix}:${namespace}:${generation}:p:${hashOf(principal)}:n`;
  }

  /** indexItem is the key of one item of a namespace's session index: one shard of one period. */
  indexItem(namespace: string, generation: string, period: number, shard: number): string {
    return `${this.prefix}:${namespace}:${generation}:i:${period}:${shard}`;
  }
}

// Internal: sha256, base64url.
function hashOf(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}
