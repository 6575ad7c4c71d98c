/**
 * Random is a seeded pseudo-random source (sfc32, seeded through splitmix32): the same seed gives the same
 * sequence on every machine, which is what makes a simulation seed replayable.
 */
export interface Random {
  /** next answers a float in [0, 1), like Math.random. */
  next(): number;
  /** int answers an integer in [0, n). */
  int(n: number): number;
  /** between answers a float in [low, high). */
  between(low: number, high: number): number;
  /** chance is true with probability p. */
  chance(p: number): boolean;
  /** pick answers one element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** weighted answers a key of `weights` with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K;
  /** fill writes random bytes into `bytes` (for a seeded randomBytes). */
  fill(bytes: Uint8Array): void;
}

/** createRandom makes a Random from a seed (any integer; a string is hashed). */
export function createRandom(seed: number | string): Random {
  let s = typeof seed === "number" ? seed >>> 0 : hashString(seed);
  const split = () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  const u32 = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) u32(); // sfc32 wants a few rounds before its output is well mixed
  const next = () => u32() / 4294967296;
  return {
    next,
    int: (n) => Math.floor(next() * n),
    between: (low, high) => low + next() * (high - low),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    weighted(weights) {
      const entries = Object.entries(weights) as Array<[keyof typeof weights, number]>;
      let r = next() * entries.reduce((sum, [, w]) => sum + w, 0);
      for (const [key, w] of entries) {
        r -= w;
        if (r < 0) return key;
      }
      return entries.at(-1)![0];
    },
    fill(bytes) {
      for (let i = 0; i < bytes.length; i += 4) {
        const word = u32();
        for (let j = 0; j < 4 && i + j < bytes.length; j++) bytes[i + j] = (word >>> (8 * j)) & 0xff;
      }
    },
  };
}

/** hashString is FNV-1a over a string's UTF-16 code units (a seed from a name, a history's fingerprint). */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
