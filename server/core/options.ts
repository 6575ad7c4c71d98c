import { MAX_LIFETIME_SECONDS } from "../store/store.js";
import { OptionsError } from "./errors.js";

/** NamespaceSettings are the expiry settings of one namespace. */
export interface NamespaceSettings {
  /** timeoutSeconds: a session idle this long is gone. Default `defaultCoreOptions.timeoutSeconds`. */
  timeoutSeconds: number;
  /**
   * resolutionSeconds: a pure read refreshes the session's last-access time only when the last refresh
   * is older than this (zope.session's resolution), to spare writes. Default `defaultResolutionSeconds`.
   */
  resolutionSeconds: number;
  /**
   * maxLifetimeSeconds: a session older than this since its creation is gone however active it is
   * (OWASP's absolute timeout); rotation keeps the creation time. 0 = none. Default 0.
   */
  maxLifetimeSeconds: number;
}

/** CoreOptions configure the session core; each default lives in `defaultCoreOptions`, with its unit. */
export interface CoreOptions {
  /** timeoutSeconds is the default idle timeout of every namespace, in seconds. */
  timeoutSeconds: number;
  /** resolutionSeconds is the default refresh resolution; when absent, `defaultResolutionSeconds(timeout)`. */
  resolutionSeconds?: number;
  /** maxLifetimeSeconds is the default absolute lifetime of a session, in seconds (0 = none). */
  maxLifetimeSeconds: number;
  /** namespaces holds per-namespace overrides of timeout, resolution and max lifetime. */
  namespaces: Record<string, Partial<NamespaceSettings>>;
  /** maxItemBytes is memcached's item size limit (`-I`); records must fit with the key. */
  maxItemBytes: number;
  /** keyPrefix starts every memcached key, to share a memcached with other users (see `KEY_PREFIX_PATTERN`). */
  keyPrefix: string;
  /**
   * indexShards is how many shards each namespace's session index has in each index period (see
   * SessionIndex). Each holds up to 16 items of memcached's item size: about 2 million 32-character ids per
   * period at 1 MiB before a second item is used, 32 million before ids go unlisted (loudly). Default 64.
   */
  indexShards: number;
  /** casAttempts bounds the compare-and-swap retries of unary writes before ABORTED. */
  casAttempts: number;
  /** now is the clock in Unix ms (tests wind it forward instead of sleeping). */
  now: () => number;
}

/**
 * defaultCoreOptions are the defaults behind createSessionCore's Partial<CoreOptions>: the one home of each
 * default (`sessiond serve --help` and the config fallbacks are derived from here).
 */
export const defaultCoreOptions: CoreOptions = {
  timeoutSeconds: 3600, // seconds: one hour idle
  maxLifetimeSeconds: 0, // seconds; 0: no absolute lifetime
  namespaces: {}, // none: every namespace follows timeoutSeconds
  maxItemBytes: 1024 * 1024, // bytes: memcached's default -I (1 MiB)
  keyPrefix: "sd1",
  indexShards: 64, // shards per namespace index
  casAttempts: 20, // attempts
  now: Date.now, // Unix ms
};

/** RESOLUTION_CAP_SECONDS caps the default resolution (seconds): `defaultResolutionSeconds`. */
export const RESOLUTION_CAP_SECONDS = 60;

/** defaultResolutionSeconds is a namespace's resolution when none is set: min(60, timeout / 4), in seconds. */
export function defaultResolutionSeconds(timeoutSeconds: number): number {
  return Math.min(RESOLUTION_CAP_SECONDS, timeoutSeconds / 4);
}

/** DEFAULT_RESOLUTION_TEXT is `defaultResolutionSeconds` as people read it (help text, README). */
export const DEFAULT_RESOLUTION_TEXT = `min(${RESOLUTION_CAP_SECONDS}, timeout/4)`;

/**
 * MAX_TIMEOUT_SECONDS is the longest idle timeout (seconds): memcached's largest relative expiry (30 days)
 * less a minute, since a record lives a little longer than its timeout (`lifetimeSeconds`).
 */
export const MAX_TIMEOUT_SECONDS = MAX_LIFETIME_SECONDS - 60;

/** MIN_ITEM_BYTES is the smallest memcached item size limit sessiond accepts (bytes). */
export const MIN_ITEM_BYTES = 4096;

/**
 * Rule is one range a number must be in: `ok` tests it, `text` says it to people ("a number of seconds...").
 * Config files and flags are checked with the same rules as the core's options.
 */
export interface Rule {
  readonly text: string;
  ok(n: number): boolean;
}

/** TIMEOUT_RULE is the range of an idle timeout: seconds > 0 and at most MAX_TIMEOUT_SECONDS (30 days). */
export const TIMEOUT_RULE: Rule = {
  text: `a number of seconds > 0 and at most ${MAX_TIMEOUT_SECONDS} (30 days less a minute)`,
  ok: (n) => n > 0 && n <= MAX_TIMEOUT_SECONDS,
};

/** RESOLUTION_RULE is the range of a resolution: seconds >= 0 (and, checked per namespace, at most its timeout). */
export const RESOLUTION_RULE: Rule = {
  text: "a number of seconds >= 0, at most the timeout",
  ok: (n) => n >= 0 && n <= MAX_TIMEOUT_SECONDS,
};

/** MAX_LIFETIME_RULE is the range of an absolute lifetime: seconds >= 0 (0: none), at most MAX_TIMEOUT_SECONDS. */
export const MAX_LIFETIME_RULE: Rule = {
  text: `a number of seconds >= 0 (0: none) and at most ${MAX_TIMEOUT_SECONDS} (30 days less a minute)`,
  ok: (n) => n >= 0 && n <= MAX_TIMEOUT_SECONDS,
};

/**
 * STAMP_SKEW_SECONDS is how far apart the clocks of sessiond instances may be: a principal's not-before
 * stamp (one instance's clock) lives this much longer than the sessions it revokes (others' clocks).
 */
export const STAMP_SKEW_SECONDS = 60;

/**
 * STAMP_SKEW_MS is STAMP_SKEW_SECONDS in ms: how far ahead of the revoking instance's clock a revocation's
 * stamp is set. Every session bound before the revocation, on any instance, is then bound before the stamp;
 * sessions bound after it answered are bound past the stamp (they read it first), whatever their
 * instance's clock says.
 */
export const STAMP_SKEW_MS = STAMP_SKEW_SECONDS * 1000;

/**
 * RECORD_OVERHEAD_BYTES is what memcached needs beside the value in an item, kept free under maxItemBytes by
 * every record sessiond writes (sessions and index shards). memcached 1.6 counts an item as its header
 * (48 bytes on 64-bit) + the CAS value (8) + the key and its NUL (at most 251) + the flags suffix (4) + the
 * value's trailing CRLF (2): at most 313 bytes (items.c item_make_header, slabs_clsid). 512 covers that with
 * room; 1024 (once used for the index) only wasted space.
 */
export const RECORD_OVERHEAD_BYTES = 512;

/**
 * namespaceSettings resolves the timeout and resolution of a namespace from the options (the namespace's
 * own, else the options' defaults, else `defaultResolutionSeconds`).
 */
export function namespaceSettings(options: CoreOptions, namespace: string): NamespaceSettings {
  const override = options.namespaces[namespace] ?? {};
  const timeoutSeconds = override.timeoutSeconds ?? options.timeoutSeconds;
  const resolutionSeconds = override.resolutionSeconds ?? options.resolutionSeconds ?? defaultResolutionSeconds(timeoutSeconds);
  const maxLifetimeSeconds = override.maxLifetimeSeconds ?? options.maxLifetimeSeconds;
  return { timeoutSeconds, resolutionSeconds, maxLifetimeSeconds };
}

/** checkCoreOptions throws an OptionsError when a setting cannot work, naming it. */
export function checkCoreOptions(options: CoreOptions): void {
  for (const ns of ["(default)", ...Object.keys(options.namespaces)]) {
    const s = namespaceSettings(options, ns);
    if (!TIMEOUT_RULE.ok(s.timeoutSeconds)) {
      throw new OptionsError(`timeout of namespace ${ns} must be ${TIMEOUT_RULE.text}, got ${s.timeoutSeconds}`);
    }
    if (!(RESOLUTION_RULE.ok(s.resolutionSeconds) && s.resolutionSeconds <= s.timeoutSeconds)) {
      throw new OptionsError(`resolution of namespace ${ns} must be ${RESOLUTION_RULE.text}, got ${s.resolutionSeconds}`);
    }
    if (!MAX_LIFETIME_RULE.ok(s.maxLifetimeSeconds)) {
      throw new OptionsError(`max lifetime of namespace ${ns} must be ${MAX_LIFETIME_RULE.text}, got ${s.maxLifetimeSeconds}`);
    }
  }
  if (!(options.maxItemBytes >= MIN_ITEM_BYTES)) {
    throw new OptionsError(`maxItemBytes must be >= ${MIN_ITEM_BYTES}, got ${options.maxItemBytes}`);
  }
  if (!(Number.isInteger(options.indexShards) && options.indexShards >= 1 && options.indexShards <= 4096)) {
    throw new OptionsError(`indexShards must be an integer in 1..4096, got ${options.indexShards}`);
  }
}
