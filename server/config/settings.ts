import { DEFAULT_RESOLUTION_TEXT, defaultCoreOptions } from "../core/options.js";
import { defaultSessionServerOptions } from "../grpc/session-server.js";
import { defaultMemcachedStoreOptions } from "../store/memcached-store.js";

/**
 * Setting describes one setting of `sessiond serve`: its flag (`--name`), its environment variable and its
 * config-file key (the flag's name), the placeholder of its value, its default, and what it does.
 * `--help`, the README's settings table and the config's fallbacks are made from the same row.
 */
export interface Setting {
  /** name is the flag without dashes and the key in the config file, e.g. "max-message-bytes". */
  readonly name: string;
  /** env is the environment variable, e.g. "SESSIOND_MAX_MESSAGE_BYTES". */
  readonly env: string;
  /** arg names the value in usage text, e.g. "BYTES". */
  readonly arg: string;
  /**
   * fallback is the value the config takes when neither flag, variable nor file sets it (undefined: none),
   * in the setting's own unit. Where an options object has the default, the row reads it from there.
   */
  readonly fallback: unknown;
  /** defaultText is the default as people read it: the fallback, unless the row says it in words. */
  readonly defaultText: string;
  /** help says what the setting does and what happens when its bound is hit. */
  readonly help: string;
  /** fileOnly: false for every setting that has a flag; the config file alone has `namespaces`. */
  readonly fileOnly?: boolean;
  /** switch: a flag given alone (`--open-access`), meaning true; its variable and file key take true or false. */
  readonly switch?: boolean;
}

export { ConfigError } from "./config-error.js";

/**
 * setting makes a row: `fallback` is the default value (undefined: none), `shown` the default in words when
 * its plain text would not do.
 */
function setting(name: string, arg: string, fallback: unknown, help: string, shown?: string): Setting {
  const defaultText = shown ?? (fallback === undefined ? "none" : String(fallback));
  return { name, env: `SESSIOND_${name.toUpperCase().replaceAll("-", "_")}`, arg, fallback, defaultText, help };
}

const core = defaultCoreOptions;
const server = defaultSessionServerOptions;

/** SETTINGS lists every setting of `sessiond serve`, in the order `--help` shows them. */
export const SETTINGS: readonly Setting[] = [
  setting("config", "FILE", undefined, "JSON or YAML file with any of these settings (keys as the flag names) and `namespaces`"),
  setting("listen", "HOST:PORT", "0.0.0.0:50051", "address to serve gRPC on (port 0 picks a free one)"),
  setting(
    "memcached",
    "HOST:PORT[,...]",
    [],
    "memcached servers; keys spread over several by md5 ketama, as twemproxy",
    "none: in-process memory store",
  ),
  setting("timeout", "SECONDS", core.timeoutSeconds, "idle timeout of a session, for namespaces the config file does not name"),
  setting(
    "resolution",
    "SECONDS",
    undefined,
    "a pure read refreshes a session only when its last refresh is older than this",
    DEFAULT_RESOLUTION_TEXT,
  ),
  setting(
    "max-lifetime",
    "SECONDS",
    core.maxLifetimeSeconds,
    "absolute lifetime of a session since its creation, however active (0: none; rotation keeps the creation time)",
  ),
  setting("log-level", "LEVEL", "info", "fatal, error, warn, info, debug (one line per call) or trace"),
  setting(
    "max-message-bytes",
    "BYTES",
    server.maxMessageBytes,
    "largest gRPC message received or sent; larger ones fail RESOURCE_EXHAUSTED (8)",
  ),
  setting(
    "max-transactions",
    "N",
    server.maxOpenTransactions,
    "open transactions per process (0: no bound); past it, begin answers RESOURCE_EXHAUSTED (8)",
  ),
  setting(
    "idle-timeout",
    "SECONDS",
    server.idleTimeoutMs / 1000,
    "an open transaction with no op for this long is discarded, its stream ended DEADLINE_EXCEEDED (4) (0: never)",
  ),
  setting(
    "keepalive",
    "SECONDS",
    server.keepaliveMs / 1000,
    "ping each connection this often, so dead clients are noticed and their transactions discarded",
  ),
  setting(
    "keepalive-timeout",
    "SECONDS",
    server.keepaliveTimeoutMs / 1000,
    "a keepalive ping unanswered this long closes the connection",
  ),
  setting("grace", "SECONDS", 10, "on SIGTERM/SIGINT, calls in flight get this long to finish before they are cancelled"),
  setting(
    "max-item-bytes",
    "BYTES",
    core.maxItemBytes,
    "memcached's item size limit (its -I); a larger session fails RESOURCE_EXHAUSTED (8)",
  ),
  setting("key-prefix", "PREFIX", core.keyPrefix, "starts every memcached key (1..8 of [A-Za-z0-9._-]), to share a memcached"),
  setting(
    "memcached-timeout",
    "MS",
    defaultMemcachedStoreOptions.cmdTimeoutMs,
    "how long a memcached command may take before the call fails UNAVAILABLE (14)",
  ),
  setting(
    "health-interval",
    "SECONDS",
    server.healthIntervalMs / 1000,
    "how often health pings the store (a call failing UNAVAILABLE also checks at once)",
  ),
  setting(
    "index-shards",
    "N",
    core.indexShards,
    "shards of each namespace's session index per period (1..4096); more when millions of sessions are written per period",
  ),
  setting(
    "replicas",
    "N",
    defaultMemcachedStoreOptions.replicas,
    "copies of a namespace's generation when --memcached names one server (a proxy such as twemproxy); a pool keeps one per node",
  ),
  setting(
    "data-keys",
    "FILE",
    undefined,
    "seal every memcached record (XChaCha20-Poly1305, libsodium): lines of ID:BASE64, the first key seals, all open; SIGHUP re-reads",
    "none: records stored in clear",
  ),
  setting("workers", "N", 1, "processes serving one port with node's cluster, connections shared round-robin (1: no cluster)"),
  setting(
    "metrics",
    "HOST:PORT",
    undefined,
    "serve Prometheus metrics at http://HOST:PORT/metrics (with --workers, the sum over all workers)",
    "none: off",
  ),
  setting(
    "tls-cert",
    "FILE",
    undefined,
    "PEM certificate (chain) to serve TLS with; needs --tls-key; re-read when it changes and on SIGHUP",
    "none: plaintext",
  ),
  setting("tls-key", "FILE", undefined, "the PEM private key of --tls-cert"),
  setting(
    "tls-client-ca",
    "FILE",
    undefined,
    "mTLS: every client must present a certificate signed by this CA (never the public roots)",
    "none: no client certificates",
  ),
  setting("reflection", "true|false", server.reflection, "serve gRPC server reflection (v1 and v1alpha)"),
  {
    ...setting(
      "open-access",
      "",
      false,
      "without an access section, answer callers from any address, on purpose (one warning at start); else others get PERMISSION_DENIED",
      "false: loopback callers only",
    ),
    switch: true,
  },
  {
    name: "namespaces",
    env: "",
    arg: "",
    fallback: undefined,
    defaultText: "none",
    help: 'config file only: per-namespace {"timeout": SECONDS, "resolution": SECONDS, "max-lifetime": SECONDS}',
    fileOnly: true,
  },
  {
    name: "tokens",
    env: "",
    arg: "",
    fallback: undefined,
    defaultText: "none",
    help: "config file only: bearer tokens, [{identity, sha256}] (hex sha256 of the token); SIGHUP re-reads them",
    fileOnly: true,
  },
  {
    name: "access",
    env: "",
    arg: "",
    fallback: undefined,
    defaultText: "none: loopback callers only",
    help: 'config file only: [{identity, namespaces, allow}], identity exact, "*" or "anonymous"; allow of read, write, admin; SIGHUP re-reads it',
    fileOnly: true,
  },
];

/** FLAG_SETTINGS are the settings that have a flag and an environment variable. */
export const FLAG_SETTINGS: readonly Setting[] = SETTINGS.filter((s) => !s.fileOnly);

/** usage is the text of `sessiond serve --help`: every setting with its flag, variable and default. */
export function usage(): string {
  const rows = FLAG_SETTINGS.map((s) => [`  --${s.name} ${s.arg}`, s.env, s.defaultText, s.help]);
  const width = (i: number) => Math.max(...rows.map((r) => r[i]!.length));
  const lines = rows.map((r) => `${r[0]!.padEnd(width(0))}  ${r[1]!.padEnd(width(1))}  ${r[3]} (default: ${r[2]})`);
  return [
    "usage: sessiond serve [flags]",
    "",
    "Serves sessiond.v1.SessionService, grpc.health.v1.Health and server reflection over gRPC.",
    "Each setting comes from its flag, else its environment variable, else the config file, else its default.",
    "",
    "flags (environment variable, what it does, default):",
    ...lines,
    `${"  --help".padEnd(width(0))}  ${"".padEnd(width(1))}  this text`,
    "",
    "config file (--config): the flag names as keys, plus per-namespace expiry, e.g.",
    '  {"memcached": "127.0.0.1:11211", "namespaces": {"MemCacheSession": {"timeout": 600, "resolution": 60}}}',
    "and access control: `tokens` [{identity, sha256}] and `access` [{identity, namespaces, allow}] (see the README).",
    "",
    "signals: SIGTERM or SIGINT drain (open transactions end UNAVAILABLE, nothing of them written), then exit 0;",
    "SIGHUP re-reads the data key file, the TLS files and the config file's tokens and access (a bad file keeps what is in use and logs an error).",
  ].join("\n");
}
