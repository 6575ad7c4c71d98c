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
  // Two tokens of one counter are rivals (two instances proposed them at once): settle keeps the first.
  compare: (a, b) => a.counter - b.counter,
  equal: (a, b) => a.id === b.id,
};

/**
 * Verdict is what the copy of the generation read beside a session says of the generation the session was
 * read under: `undefined` when it is the namespace's generation (the read stands), else the generation to
 * read again under.
 */
export type Verdict = string | undefined;

/**
 * Generations knows each namespace's generation, part of every session and index key of the namespace.
 * InvalidateAll raises it, which makes all old keys unreachable at once (O(1), no flush_all); the old items
 * expire by themselves.
 *
 * The generation is a ReplicatedRegister: a copy on every node of the pool, so losing, freezing or
 * restarting one node neither loses the namespace's sessions nor blocks its calls.
 *
 * No instance trusts a cached generation. It keeps the last one it saw only as a guess of which key to
 * read: every read of a session also reads the generation's copy on the session's own node (`copyKey`), in
 * the same memcached request, and `check` says whether the guess stands. InvalidateAll answers only once
 * every copy holds the new generation, so from its answer on, every instance's next read sees it, whatever
 * it guessed. A namespace's first generation and a new one (`renew`) are settled first writer wins (see
 * `ReplicatedRegister.settle`): instances racing there all answer and use one generation.
 */
export class Generations {
  private readonly guesses = new Map<string, Generation>();
  private readonly loading = new Map<string, Promise<string>>();
  private readonly register: ReplicatedRegister<Generation>;

  constructor(
    store: Store,
    private readonly keys: Keys,
  ) {
    this.register = new ReplicatedRegister(store, codec);
  }

  /** guess returns the generation id this instance saw last for the namespace, if any: a key to try, no more. */
  guess(namespace: string): string | undefined {
    return this.guesses.get(namespace)?.id;
  }

  /** copyKey is the key of the generation's copy on the node of `near` (a session's key). */
  copyKey(namespace: string, near: string): string {
    return this.register.nearKey(this.keys.generation(namespace), near);
  }

  /**
   * check judges `guessed`, the generation a session was read under, by the bytes of the copy read beside
   * it (`copyKey`, in the same request). A copy that is absent (its node restarted empty) or older than the
   * guess (a renew on its way there) is not enough: the register is read whole then (`current`).
   */
  async check(namespace: string, guessed: string, copy: Uint8Array | undefined): Promise<Verdict> {
    const found = this.register.decode(copy);
    if (found !== undefined && found.id === guessed) return undefined;
    // A copy newer than the guess is a generation settled on the first copy already: read under it.
    if (found !== undefined && found.counter > counterOf(guessed)) {
      this.remember(namespace, found);
      return found.id;
    }
    const current = await this.current(namespace);
    return current === guessed ? undefined : current;
  }

  /**
   * current reads the namespace's generation from its copies (the register's read: the highest copy of
   * those that answer); a namespace seen for the first time gets generation 0, settled first writer wins.
   * One read per namespace at a time on this instance.
   */
  current(namespace: string): Promise<string> {
    let running = this.loading.get(namespace);
    if (running === undefined) {
      running = this.load(namespace).finally(() => this.loading.delete(namespace));
      this.loading.set(namespace, running);
    }
    return running;
  }

  /**
   * renew gives the namespace a new generation on every node, making all its sessions unreachable. Racing
   * renews of one generation settle on one new generation before any of them answers.
   */
  async renew(namespace: string): Promise<void> {
    const key = this.keys.generation(namespace);
    const current = await this.register.readAll(key, 0);
    this.remember(namespace, await this.register.settle(key, newGeneration((current?.counter ?? 0) + 1), 0));
  }

  private async load(namespace: string): Promise<string> {
    const key = this.keys.generation(namespace);
    const generation = (await this.register.read(key, 0)) ?? (await this.register.settle(key, newGeneration(0), 0));
    this.remember(namespace, generation);
    // A higher generation seen meanwhile (a renew reached this session's node first) is newer than the read.
    return this.guesses.get(namespace)!.id;
  }

  // remember keeps the highest generation seen as the next guess: a slower read must not step it back.
  private remember(namespace: string, generation: Generation): void {
    const guess = this.guesses.get(namespace);
    if (guess === undefined || codec.compare(generation, guess) > 0 || guess.counter === generation.counter) {
      this.guesses.set(namespace, generation);
    }
  }
}

// counterOf reads the counter of a generation id ("<counter>.<token>").
function counterOf(id: string): number {
  return Number.parseInt(id, 10);
}

function newGeneration(counter: number): Generation {
  const token = randomBytes(8).toString("hex");
  return { counter, token, id: `${counter}.${token}` };
}
