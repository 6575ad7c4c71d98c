import { createRequire } from "node:module";
import { DataKeyError } from "./data-key-error.js";

/**
 * Sodium is the slice of libsodium (through sodium-native 5.x) that sealed storage uses. Each function
 * takes Buffers and writes its result into `out`, as sodium-native's do.
 */
export interface Sodium {
  /** crypto_aead_xchacha20poly1305_ietf_encrypt seals `message` into `out` (message + 16 bytes of tag). */
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    out: Uint8Array,
    message: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    nonce: Uint8Array,
    key: Uint8Array,
  ): number;
  /** crypto_aead_xchacha20poly1305_ietf_decrypt opens `ciphertext` into `out`; throws when it does not authenticate. */
  crypto_aead_xchacha20poly1305_ietf_decrypt(
    out: Uint8Array,
    nsec: null,
    ciphertext: Uint8Array,
    ad: Uint8Array | null,
    nonce: Uint8Array,
    key: Uint8Array,
  ): number;
  /** sodium_malloc returns a guarded buffer: locked in memory, kept out of core dumps, fenced by guard pages. */
  sodium_malloc(size: number): Buffer & { secure?: boolean };
  /** sodium_memzero wipes a buffer in a way the compiler cannot optimise away. */
  sodium_memzero(buffer: Uint8Array): void;
  /** randombytes_buf fills a buffer from libsodium's CSPRNG (getrandom). */
  randombytes_buf(buffer: Uint8Array): void;
}

/** XCHACHA_NONCE_BYTES is XChaCha20-Poly1305's nonce size: 192 bits, safe to draw at random for any number of seals. */
export const XCHACHA_NONCE_BYTES = 24;
/** XCHACHA_TAG_BYTES is the size of the Poly1305 tag libsodium appends to every ciphertext. */
export const XCHACHA_TAG_BYTES = 16;

let loaded: Sodium | undefined;

/**
 * sodium returns libsodium, loaded on first use (see loadSodium; a failure is not remembered, so each use
 * throws again). sessiond loads it only with `--data-keys`, so that a platform without a sodium-native
 * binary still serves without keys.
 */
export function sodium(): Sodium {
  loaded ??= loadSodium(createRequire(import.meta.url));
  return loaded;
}

/**
 * loadSodium loads sodium-native with `load` (node's `require`; tests pass one that fails). Where it
 * cannot load, it throws a DataKeyError naming the platform (a configuration error: exit 2): keys are
 * never used without libsodium, and never with a weaker cipher in its place.
 */
export function loadSodium(load: (name: string) => unknown): Sodium {
  let candidate: Sodium;
  try {
    candidate = load("sodium-native") as Sodium;
  } catch (err) {
    throw new DataKeyError(
      `libsodium (the sodium-native package) cannot load on ${platformName()} (${firstLine(err)}), and data keys are used ` +
        "only with it: run sessiond where sodium-native ships a binary (linux-x64 or linux-arm64 with glibc, macOS, Windows), or without --data-keys",
    );
  }
  if (typeof candidate?.crypto_aead_xchacha20poly1305_ietf_encrypt !== "function") {
    throw new DataKeyError(`sodium-native on ${platformName()} lacks XChaCha20-Poly1305, and data keys are used only with it`);
  }
  return candidate;
}

/**
 * platformName names this platform as sodium-native's prebuilds do, with the C library: e.g.
 * "linux-x64 (glibc 2.36)" or "linux-x64 (musl)", since its Linux binaries need glibc.
 */
export function platformName(): string {
  const platform = `${process.platform}-${process.arch}`;
  if (process.platform !== "linux") return platform;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime === undefined ? `${platform} (musl)` : `${platform} (glibc ${header.glibcVersionRuntime})`;
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split("\n")[0]!;
}
