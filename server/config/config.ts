import { parseArgs } from "node:util";
import type { AccessSettings } from "../access/access-control.js";
import { parseAccess } from "../access/access-rules.js";
import { parseTokens } from "../access/tokens.js";
import { KEY_PREFIX_PATTERN } from "../core/keys.js";
import { MAX_LIFETIME_RULE, MIN_ITEM_BYTES, RESOLUTION_RULE, type Rule, TIMEOUT_RULE } from "../core/options.js";
import { DataKeyError, readDataKeyFile } from "../store/data-keys.js";
import { type ConfigFile, readConfigFile } from "./config-file.js";
import { ConfigError, FLAG_SETTINGS } from "./settings.js";

export { ConfigError };

/** NamespaceConfig is one namespace's expiry from the config file; what it omits follows the defaults. */
export interface NamespaceConfig {
  timeoutSeconds?: number;
  resolutionSeconds?: number;
  maxLifetimeSeconds?: number;
}

/**
 * Config is everything `sessiond serve` needs, each field resolved from its flag, else its environment
 * variable, else the config file, else its default: settings.ts lists the names, and each row takes its
 * default from the options it sets (defaultCoreOptions, defaultSessionServerOptions...).
 */
export interface Config {
  /** configFile is the config file read, if any. Flag --config, env SESSIOND_CONFIG. */
  configFile: string | undefined;
  /** listen is the HOST:PORT to serve on. */
  listen: string;
  /** memcached lists HOST:PORT servers; empty means the in-process memory store. */
  memcached: string[];
  /** timeoutSeconds is the session idle timeout of namespaces without their own. */
  timeoutSeconds: number;
  /** resolutionSeconds is the read-refresh resolution; undefined: the core's defaultResolutionSeconds. */
  resolutionSeconds: number | undefined;
  /** maxLifetimeSeconds is the absolute lifetime of a session (0: none). */
  maxLifetimeSeconds: number;
  /** namespaces are per-namespace timeouts, resolutions and max lifetimes (config file only). */
  namespaces: Record<string, NamespaceConfig>;
  /** logLevel is pino's level. */
  logLevel: string;
  /** maxMessageBytes bounds gRPC messages both ways. */
  maxMessageBytes: number;
  /** maxTransactions bounds open transactions per process (0: none). */
  maxTransactions: number;
  /** idleTimeoutSeconds discards a transaction idle this long (0: never). */
  idleTimeoutSeconds: number;
  /** keepaliveSeconds is the keepalive ping interval. */
  keepaliveSeconds: number;
  /** keepaliveTimeoutSeconds is how long a keepalive ping may go unanswered. */
  keepaliveTimeoutSeconds: number;
  /** graceSeconds is the shutdown grace period before calls in flight are cancelled. */
  graceSeconds: number;
  /** maxItemBytes is memcached's item size limit. */
  maxItemBytes: number;
  /** keyPrefix starts every memcached key. */
  keyPrefix: string;
  /** memcachedTimeoutMs bounds one memcached command. */
  memcachedTimeoutMs: number;
  /** healthIntervalSeconds is how often health pings the store. */
  healthIntervalSeconds: number;
  /** indexShards is the shard count of each namespace's session index. */
  indexShards: number;
  /** replicas is the number of copies of a namespace's generation on one (proxy) server. */
  replicas: number;
  /** workers is the number of cluster workers (1: no cluster). */
  workers: number;
  /** metrics is the HOST:PORT serving Prometheus metrics at /metrics. Default undefined: off. */
  metrics: string | undefined;
  /** dataKeysFile is the data key file that seals memcached records (checked readable here); none: clear. */
  dataKeysFile: string | undefined;
  /** tlsCert is the PEM certificate file to serve TLS with. Default none: plaintext. */
  tlsCert: string | undefined;
  /** tlsKey is the PEM private key file of tlsCert. Default none. */
  tlsKey: string | undefined;
  /** tlsClientCa is the CA file client certificates must be signed by (mTLS). Default none. */
  tlsClientCa: string | undefined;
  /** reflection serves gRPC server reflection. Default true. */
  reflection: boolean;
  /** access are the config file's `tokens` and `access` sections (SIGHUP reads them again). Default none. */
  access: AccessSettings;
  /** openAccess: without an `access` section, answer every caller, not only loopback ones. Default false. */
  openAccess: boolean;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * loadConfig resolves flags over environment variables over the config file over defaults.
 * An empty environment variable counts as unset. Throws ConfigError naming the setting and where it came from.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: Object.fromEntries(
      FLAG_SETTINGS.map((s) => [s.name, { type: s.switch ? ("boolean" as const) : ("string" as const) }]),
    ),
  });
  const fromEnv = (name: string) => {
    const value = env[FLAG_SETTINGS.find((s) => s.name === name)!.env];
    return value === "" ? undefined : value;
  };
  const configFile = (values.config as string | undefined) ?? fromEnv("config");
  const file = configFile === undefined ? { settings: {}, namespaces: {} } : readConfigFile(configFile);

  /** Internal: the first of flag, env, file that is set, with a label naming where it came from. */
  const pick = (name: string): { value: unknown; from: string } | undefined => {
    const s = FLAG_SETTINGS.find((x) => x.name === name)!;
    if (values[name] !== undefined) return { value: values[name], from: `--${name}` };
    if (fromEnv(name) !== undefined) return { value: fromEnv(name), from: s.env };
    if (file.settings[name] !== undefined) return { value: file.settings[name], from: `${name} in ${configFile}` };
    return undefined;
  };
  /** Internal: the setting's value, parsed, else its row's fallback. */
  const get = <T>(name: string, parse: (value: unknown, from: string) => T): T => {
    const found = pick(name);
    // A copy, so no Config can change a row's default (e.g. push to the memcached list).
    if (found === undefined) return structuredClone(FLAG_SETTINGS.find((x) => x.name === name)!.fallback) as T;
    return parse(found.value, found.from);
  };

  return {
    configFile,
    listen: get("listen", hostPort),
    memcached: get("memcached", hostPortList),
    timeoutSeconds: get("timeout", ruled(TIMEOUT_RULE)),
    resolutionSeconds: get<number | undefined>("resolution", ruled(RESOLUTION_RULE)),
    maxLifetimeSeconds: get("max-lifetime", ruled(MAX_LIFETIME_RULE)),
    namespaces: file.namespaces,
    logLevel: get("log-level", logLevel),
    maxMessageBytes: get("max-message-bytes", integer(1024)),
    maxTransactions: get("max-transactions", integer(0)),
    idleTimeoutSeconds: get("idle-timeout", secondsOrZero),
    keepaliveSeconds: get("keepalive", seconds),
    keepaliveTimeoutSeconds: get("keepalive-timeout", seconds),
    graceSeconds: get("grace", secondsOrZero),
    maxItemBytes: get("max-item-bytes", integer(MIN_ITEM_BYTES)),
    keyPrefix: get("key-prefix", keyPrefix),
    memcachedTimeoutMs: get("memcached-timeout", integer(1)),
    healthIntervalSeconds: get("health-interval", seconds),
    indexShards: get("index-shards", integer(1)),
    replicas: get("replicas", integer(1)),
    workers: get("workers", integer(1)),
    metrics: get<string | undefined>("metrics", hostPort),
    dataKeysFile: get("data-keys", dataKeyFile),
    ...tls(
      get<string | undefined>("tls-cert", path),
      get<string | undefined>("tls-key", path),
      get<string | undefined>("tls-client-ca", path),
    ),
    reflection: get("reflection", boolean),
    access: accessSettings(file, configFile),
    openAccess: get("open-access", boolean),
  };
}

/**
 * loadAccessSettings reads the `tokens` and `access` sections of a config file again (SIGHUP); no file means
 * open access. Throws ConfigError when the file or a section is wrong (the old settings then stay).
 */
export function loadAccessSettings(configFile: string | undefined): AccessSettings {
  return configFile === undefined ? accessSettings({}, undefined) : accessSettings(readConfigFile(configFile), configFile);
}

function accessSettings(file: Pick<ConfigFile, "tokens" | "access">, where: string | undefined): AccessSettings {
  return { tokens: parseTokens(file.tokens, where ?? "config"), access: parseAccess(file.access, where ?? "config") };
}

function tls(tlsCert: string | undefined, tlsKey: string | undefined, tlsClientCa: string | undefined) {
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw new ConfigError("--tls-cert and --tls-key go together: set both or neither");
  if (tlsClientCa !== undefined && tlsCert === undefined) {
    throw new ConfigError("--tls-client-ca needs --tls-cert and --tls-key: mTLS is TLS with client certificates");
  }
  return { tlsCert, tlsKey, tlsClientCa };
}

function path(value: unknown, from: string): string {
  if (typeof value !== "string" || value.trim() === "")
    throw new ConfigError(`${from} ${JSON.stringify(value)} is not a file name`);
  return value;
}

function boolean(value: unknown, from: string): boolean {
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  throw new ConfigError(`${from} ${JSON.stringify(value)} is not true or false`);
}

function hostPort(value: unknown, from: string): string {
  const text = String(value).trim();
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(text) || Number(text.split(":").pop()) > 65535) {
    throw new ConfigError(`${from} ${JSON.stringify(value)} is not HOST:PORT`);
  }
  return text;
}

function hostPortList(value: unknown, from: string): string[] {
  const items = Array.isArray(value) ? value.map(String) : String(value).split(",");
  return items
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => hostPort(s, from));
}

function number(value: unknown, from: string, what: string, ok: (n: number) => boolean): number {
  const n = typeof value === "number" ? value : String(value).trim() === "" ? NaN : Number(value);
  if (!Number.isFinite(n) || !ok(n)) throw new ConfigError(`${from} ${JSON.stringify(value)} is not ${what}`);
  return n;
}

function seconds(value: unknown, from: string): number {
  return number(value, from, "a positive number of seconds", (n) => n > 0);
}

function secondsOrZero(value: unknown, from: string): number {
  return number(value, from, "a number of seconds >= 0", (n) => n >= 0);
}

function integer(min: number) {
  return (value: unknown, from: string) =>
    number(value, from, `an integer >= ${min}`, (n) => Number.isSafeInteger(n) && n >= min);
}

function ruled(rule: Rule) {
  return (value: unknown, from: string) => number(value, from, rule.text, rule.ok);
}

function logLevel(value: unknown, from: string): string {
  const level = String(value).trim().toLowerCase();
  if (!LOG_LEVELS.includes(level))
    throw new ConfigError(`${from} ${JSON.stringify(value)} is not one of ${LOG_LEVELS.join(", ")}`);
  return level;
}

function keyPrefix(value: unknown, from: string): string {
  const prefix = String(value);
  if (!KEY_PREFIX_PATTERN.test(prefix)) {
    throw new ConfigError(`${from} ${JSON.stringify(value)} is not 1..8 characters of [A-Za-z0-9._-]`);
  }
  return prefix;
}

// dataKeyFile checks the key file at start, so a bad one exits 2 before anything listens.
function dataKeyFile(value: unknown, from: string): string {
  const path = String(value);
  try {
    readDataKeyFile(path).wipe(); // only checked here: sessiond reads the file again to use it
  } catch (err) {
    if (err instanceof DataKeyError) throw new ConfigError(`${from}: ${err.message}`);
    throw err;
  }
  return path;
}
