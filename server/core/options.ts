import { MAX_LIFETIME_SECONDS } from "../store/store.js";

/** NamespaceSettings are the expiry settings of one namespace. */
export interface NamespaceSettings {
  /** timeoutSeconds: a session idle this long is gone. Default 3600. */
  timeoutSeconds: number;
  /**
   * resolutionSeconds: a pure read refreshes the session's last-access time only when the last refresh
   * is older than this (zope.session's resolution), to spare writes. Default min(60, timeout / 4).
   */
  resolutionSeconds: number;
  /**
   * maxLifetimeSeconds: a session older than this since its creation is gone however active it is
   * (OWASP's absolute timeout); rotation keeps the creation time. 0 = none. Default 0.
   */
  maxLifetimeSeconds: number;
}

/** CoreOptions configure the session core; every field has a documented default. */
export interface CoreOptions {
  /** timeoutSeconds is the default idle timeout of every namespace, in seconds. Default 3600. */
  timeoutSeconds: number;
  /** resolutionSeconds is the default refresh resolution; default min(60, timeoutSeconds / 4). */
  resolutionSeconds?: number;
  /** maxLifetimeSeconds is the default absolute lifetime of a session, in seconds (0 = none). Default 0. */
  maxLifetimeSeconds: number;
  /** namespaces holds per-namespace overrides of timeout, resolution and max lifetime. Default none. */
  namespaces: Record<string, Partial<NamespaceSettings>>;
  /** maxItemBytes is memcached's item size limit (`-I`); records must fit with the key. Default 1 MiB. */
  maxItemBytes: number;
  /** keyPrefix starts every memcached key, to share a memcached with other users. Default "sd1". */
  keyPrefix: string;
  /** indexShards is how many shards each namespace's session index has. Default 64. */
  indexShards: number;
  /**
   * generationCacheMs is how long an instance trusts its cached namespace generation, so how long other
   * instances may still see sessions after an InvalidateAll. Default 1000 ms.
   */
  generationCacheMs: number;
  /**
   * stampCacheMs is how long an instance trusts a principal's cached not-before stamp, so how long other
   * instances may still see sessions after a RevokeSessions (the revoking instance sees it at once).
   * Default 800 ms: with the read that refreshes it, others see a revocation within 1 s.
   */
  stampCacheMs: number;
  /** casAttempts bounds the compare-and-swap retries of unary writes before ABORTED. Default 20. */
  casAttempts: number;
  /** now is the clock in Unix ms (for tests). Default Date.now. */
  now: () => number;
}

/** defaultCoreOptions are the defaults behind createSessionCore's Partial<CoreOptions>. */
export const defaultCoreOptions: CoreOptions = {
  timeoutSeconds: 3600,
  maxLifetimeSeconds: 0,
  namespaces: {},
  maxItemBytes: 1024 * 1024,
  keyPrefix: "sd1",
  indexShards: 64,
  generationCacheMs: 1000,
  stampCacheMs: 800,
  casAttempts: 20,
  now: Date.now,
};

/**
 * STAMP_SKEW_SECONDS is how far apart the clocks of sessiond instances may be: a principal's not-before
 * stamp (one instance's clock) lives this much longer than the sessions it revokes (others' clocks).
 */
export const STAMP_SKEW_SECONDS = 60;

/** RECORD_OVERHEAD_BYTES is what memcached needs beside the value in an item (key, header): kept free. */
export const RECORD_OVERHEAD_BYTES = 512;

/**
 * namespaceSettings resolves the timeout, resolution and max lifetime of a namespace from the options.
 * Throws a plain Error for impossible settings: those are configuration mistakes, found at start.
 */
export function namespaceSettings(options: CoreOptions, namespace: string): NamespaceSettings {
  const override = options.namespaces[namespace] ?? {};
  const timeoutSeconds = override.timeoutSeconds ?? options.timeoutSeconds;
  const resolutionSeconds = override.resolutionSeconds ?? options.resolutionSeconds ?? Math.min(60, timeoutSeconds / 4);
  const maxLifetimeSeconds = override.maxLifetimeSeconds ?? options.maxLifetimeSeconds;
  return { timeoutSeconds, resolutionSeconds, maxLifetimeSeconds };
}

/** checkCoreOptions throws when a setting cannot work, naming it. */
export function checkCoreOptions(options: CoreOptions): void {
  for (const ns of ["(default)", ...Object.keys(options.namespaces)]) {
    const s = namespaceSettings(options, ns);
    if (!(s.timeoutSeconds > 0 && s.timeoutSeconds <= MAX_LIFETIME_SECONDS - 60)) {
      throw new Error(`timeout of namespace ${ns} must be > 0 and < 30 days, got ${s.timeoutSeconds}`);
    }
    if (!(s.resolutionSeconds >= 0 && s.resolutionSeconds <= s.timeoutSeconds)) {
      throw new Error(`resolution of namespace ${ns} must be between 0 and its timeout, got ${s.resolutionSeconds}`);
    }
    if (!(s.maxLifetimeSeconds >= 0 && s.maxLifetimeSeconds <= MAX_LIFETIME_SECONDS - 60)) {
      throw new Error(`max lifetime of namespace ${ns} must be >= 0 (0: none) and < 30 days, got ${s.maxLifetimeSeconds}`);
    }
  }
  if (!(options.maxItemBytes >= 4096)) throw new Error(`maxItemBytes must be >= 4096, got ${options.maxItemBytes}`);
  if (!(Number.isInteger(options.indexShards) && options.indexShards >= 1 && options.indexShards <= 4096)) {
    throw new Error(`indexShards must be an integer in 1..4096, got ${options.indexShards}`);
  }
}
