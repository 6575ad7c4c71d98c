import { randomBytes } from "node:crypto";
import type { Store } from "../store/store.js";
import type { Keys } from "./keys.js";
import { type RegisterCodec, ReplicatedRegister } from "./replicated-register.js";

/**
 * Generation is a namespace's generation: a counter that InvalidateAll raises, and a random token drawn
 * with it so that a namespace whose every copy was lost never reuses an old generation's keys.
 * `id` ("<counter>.<token>") is what session and index keys carry.
 */
interface Generation {
  counter: number;
  token: string;
  id: string;
}

const codec: RegisterCodec<Generation> = {
  encode: (g) => Buffer.from(g.id, "latin1"),
  decode(bytes) {
    const id = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
    const match = /^(\d{1,15})\.([0-9a-f]{16})$/.exec(id);
    return match ? { counter: Number(match[1]), token: match[2]!, id } : undefined;
  },
  compare: (a, b) => a.counter - b.counter || (a.token < b.token ? -1 : a.token > b.token ? 1 : 0),
};

/**
 * Generations knows each namespace's current generation, part of every session and index key of the
 * namespace. InvalidateAll raises it, which makes all old keys unreachable at once (O(1), no flush_all);
 * the old items expire by themselves.
 *
 * The generation is a ReplicatedRegister: a copy on every node of the pool, so losing, freezing or
 * restarting one node neither loses the namespace's sessions nor blocks its calls. `renew` succeeds only
 * when every copy holds the new generation (else UNAVAILABLE: retry), so a succeeded InvalidateAll is never
 * undone by a node that comes back. A namespace seen for the first time starts at counter 0 with a random
 * token; two instances racing there both converge on the larger token.
 *
 * Each instance caches a namespace's generation for `cacheMs` (another instance sees an InvalidateAll
 * within that time; this one at once), and refreshes it in the background from half that age, so calls do
 * not wait for the read.
 */
export class Generations {
  private readonly cache = new Map<string, { generation: Generation; readAtMs: number }>();
  private readonly refreshing = new Map<string, Promise<string>>();
  private readonly register: ReplicatedRegister<Generation>;

  constructor(
    store: Store,
    private readonly keys: Keys,
    private readonly cacheMs: number,
    private readonly now: () => number,
  ) {
    this.register = new ReplicatedRegister(store, codec);
  }

  /** current returns the namespace's generation id, from cache when fresh. */
  async current(namespace: string): Promise<string> {
    const cached = this.cache.get(namespace);
    if (cached !== undefined) {
      const age = this.now() - cached.readAtMs;
      if (age < this.cacheMs) {
        if (age >= this.cacheMs / 2) this.refresh(namespace).catch(() => undefined); // the next call retries
        return cached.generation.id;
      }
    }
    return this.refresh(namespace);
  }

  /** renew gives the namespace a new generation on every node, making all its sessions unreachable. */
  async renew(namespace: string): Promise<void> {
    const key = this.keys.generation(namespace);
    const current = await this.register.readAll(key, 0);
    const next = newGeneration((current?.counter ?? 0) + 1);
    await this.register.raise(key, next, 0);
    this.remember(namespace, next);
  }

  // Internal: one read of the register per namespace at a time; a namespace never seen starts at 0.
  private refresh(namespace: string): Promise<string> {
    let running = this.refreshing.get(namespace);
    if (running === undefined) {
      running = this.load(namespace).finally(() => this.refreshing.delete(namespace));
      this.refreshing.set(namespace, running);
    }
    return running;
  }

  private async load(namespace: string): Promise<string> {
    const key = this.keys.generation(namespace);
    const readAtMs = this.now();
    let generation = await this.register.read(key, 0);
    if (generation === undefined) {
      await this.register.raise(key, newGeneration(0), 0);
      generation = await this.register.read(key, 0);
      if (generation === undefined) throw new Error(`generation of namespace ${namespace} vanished right after it was written`);
    }
    const cached = this.cache.get(namespace);
    // Never step back: a slower read must not replace a newer generation (e.g. one this instance renewed).
    if (cached !== undefined && codec.compare(cached.generation, generation) > 0) generation = cached.generation;
    this.cache.set(namespace, { generation, readAtMs });
    return generation.id;
  }

  private remember(namespace: string, generation: Generation): void {
    this.cache.set(namespace, { generation, readAtMs: this.now() });
  }
}

function newGeneration(counter: number): Generation {
  const token = randomBytes(8).toString("hex");
  return { counter, token, id: `${counter}.${token}` };
}
