import { randomBytes } from "node:crypto";
import type { Store } from "../store/store.js";
import type { Keys } from "./keys.js";

/**
 * Generations knows each namespace's current generation: a random token that is part of every session and
 * index key of the namespace. InvalidateAll writes a new token, which makes all old keys unreachable at once
 * (O(1), no flush_all); the old items expire by themselves.
 *
 * Each instance caches a namespace's token for `cacheMs`, so another sessiond instance sees an
 * InvalidateAll within that time; this instance sees it at once. If memcached evicts or loses the token,
 * a new random one is made: sessions are then lost, never resurrected.
 */
export class Generations {
  private readonly cache = new Map<string, { token: string; readAtMs: number }>();

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly cacheMs: number,
    private readonly now: () => number,
  ) {}

  /** current returns the namespace's generation token, from cache when fresh. */
  async current(namespace: string): Promise<string> {
    const cached = this.cache.get(namespace);
    if (cached && this.now() - cached.readAtMs < this.cacheMs) return cached.token;
    const key = this.keys.generation(namespace);
    for (;;) {
      const found = await this.store.get(key);
      if (found) return this.remember(namespace, Buffer.from(found.value).toString("latin1"));
      const token = newToken();
      // add, not set: when two instances race, both end up with the winner's token.
      if (await this.store.add(key, Buffer.from(token, "latin1"), 0)) return this.remember(namespace, token);
    }
  }

  /** renew gives the namespace a new generation, making all its sessions unreachable. */
  async renew(namespace: string): Promise<void> {
    const token = newToken();
    await this.store.set(this.keys.generation(namespace), Buffer.from(token, "latin1"), 0);
    this.remember(namespace, token);
  }

  private remember(namespace: string, token: string): string {
    this.cache.set(namespace, { token, readAtMs: this.now() });
    return token;
  }
}

function newToken(): string {
  return randomBytes(8).toString("hex");
}
