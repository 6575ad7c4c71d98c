import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { MAX_LIFETIME_RULE, RESOLUTION_RULE, TIMEOUT_RULE } from "../core/options.js";
import { NAMESPACE_PATTERN } from "../core/validation.js";
import type { NamespaceConfig } from "./config.js";
import { ConfigError, FLAG_SETTINGS } from "./settings.js";

/** ConfigFile is a parsed config file: settings keyed by flag name, and per-namespace expiry. */
export interface ConfigFile {
  /** settings hold the file's values keyed by flag name (e.g. "max-transactions"), not yet validated. */
  settings: Record<string, unknown>;
  /** namespaces are the validated per-namespace timeouts and resolutions. */
  namespaces: Record<string, NamespaceConfig>;
  /** tokens is the `tokens` section as written (server/access/tokens.ts validates it); undefined when absent. */
  tokens?: unknown;
  /** access is the `access` section as written (server/access/access-rules.ts validates it); undefined when absent. */
  access?: unknown;
}

// Every flag may stand in the file, except --config itself.
const FILE_KEYS = new Set(FLAG_SETTINGS.map((s) => s.name).filter((name) => name !== "config"));
// Sections that are read as they are and validated where they are used (server/access).
const SECTIONS = ["tokens", "access"] as const;

/**
 * readConfigFile reads a JSON (`.json`) or YAML (any other name) config file. Keys are the flag names
 * (`listen`, `max-transactions`, ...) plus `namespaces`:
 * `{"namespaces": {"MemCacheSession": {"timeout": 600, "resolution": 60, "max-lifetime": 86400}}}`.
 * Unknown keys are refused (a typo must not silently fall back to a default): throws ConfigError.
 */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      `config file ${path} is not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${(err as Error).message}`,
    );
  }
  if (parsed === null || parsed === undefined) return { settings: {}, namespaces: {} };
  const top = object(parsed, `config file ${path}`);
  const settings: Record<string, unknown> = {};
  let namespaces: Record<string, NamespaceConfig> = {};
  const sections: Pick<ConfigFile, "tokens" | "access"> = {};
  for (const [key, value] of Object.entries(top)) {
    if ((SECTIONS as readonly string[]).includes(key)) {
      sections[key as (typeof SECTIONS)[number]] = value;
    } else if (key === "namespaces") {
      namespaces = readNamespaces(value, path);
    } else if (FILE_KEYS.has(key)) {
      settings[key] = value;
    } else {
      throw new ConfigError(
        `config file ${path}: unknown key ${JSON.stringify(key)}; known: ${[...FILE_KEYS, "namespaces", ...SECTIONS].join(", ")}`,
      );
    }
  }
  return { settings, namespaces, ...sections };
}

function readNamespaces(value: unknown, path: string): Record<string, NamespaceConfig> {
  const result: Record<string, NamespaceConfig> = {};
  for (const [name, entry] of Object.entries(object(value, `namespaces in ${path}`))) {
    const where = `namespace ${JSON.stringify(name)} in ${path}`;
    if (!NAMESPACE_PATTERN.test(name)) throw new ConfigError(`${where}: a namespace is 1..128 characters of [A-Za-z0-9._-]`);
    const settings: NamespaceConfig = {};
    for (const [key, v] of Object.entries(object(entry, where))) {
      if (key === "timeout") {
        if (!(typeof v === "number" && TIMEOUT_RULE.ok(v)))
          throw new ConfigError(`${where}: timeout must be ${TIMEOUT_RULE.text}, got ${JSON.stringify(v)}`);
        settings.timeoutSeconds = v;
      } else if (key === "resolution") {
        if (!(typeof v === "number" && RESOLUTION_RULE.ok(v)))
          throw new ConfigError(`${where}: resolution must be ${RESOLUTION_RULE.text}, got ${JSON.stringify(v)}`);
        settings.resolutionSeconds = v;
      } else if (key === "max-lifetime") {
        if (!(typeof v === "number" && MAX_LIFETIME_RULE.ok(v)))
          throw new ConfigError(`${where}: max-lifetime must be ${MAX_LIFETIME_RULE.text}, got ${JSON.stringify(v)}`);
        settings.maxLifetimeSeconds = v;
      } else {
        throw new ConfigError(`${where}: unknown key ${JSON.stringify(key)}; known: timeout, resolution, max-lifetime`);
      }
    }
    result[name] = settings;
  }
  return result;
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(`${what} must be a mapping of keys to values`);
  }
  return value as Record<string, unknown>;
}
