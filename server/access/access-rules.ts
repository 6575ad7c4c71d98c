import { ConfigError } from "../config/config-error.js";
import { PERMISSIONS, type Permission } from "./permissions.js";
import { IDENTITY } from "./tokens.js";

/** AccessRule is one `access` entry of the config file. */
export interface AccessRule {
  /** identity is an exact identity, "*" (any authenticated caller) or "anonymous". */
  readonly identity: string;
  /** namespaces are exact names, or prefixes ending in "*" ("*" alone: every namespace). */
  readonly namespaces: readonly string[];
  /** allow lists the permissions the rule grants. */
  readonly allow: readonly Permission[];
}

const PATTERN = /^[A-Za-z0-9._-]{0,128}\*?$/;

/**
 * parseAccess validates the config file's `access` section: a list of `{identity, namespaces, allow}`.
 * Absent (undefined) means no section: every caller may do everything. Throws ConfigError naming the entry.
 */
export function parseAccess(value: unknown, where: string): AccessRule[] | undefined {
  if (value === undefined) return undefined;
  if (value === null) return [];
  if (!Array.isArray(value)) throw new ConfigError(`access in ${where} must be a list of {identity, namespaces, allow}`);
  return value.map((entry, i) => {
    const at = `access[${i}] in ${where}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new ConfigError(`${at} must be a mapping {identity, namespaces, allow}`);
    }
    const { identity, namespaces, allow, ...rest } = entry as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) {
      throw new ConfigError(`${at}: unknown key ${JSON.stringify(unknown[0])}; known: identity, namespaces, allow`);
    }
    if (typeof identity !== "string" || !IDENTITY.test(identity)) {
      throw new ConfigError(`${at}: identity must be an identity, "*" or "anonymous"`);
    }
    const patterns = list(namespaces, `${at}: namespaces`);
    for (const p of patterns) {
      if (p === "" || !PATTERN.test(p)) {
        throw new ConfigError(`${at}: namespace ${JSON.stringify(p)} is neither a namespace nor a prefix ending in "*"`);
      }
    }
    const permissions = list(allow, `${at}: allow`);
    for (const p of permissions) {
      if (!PERMISSIONS.includes(p as Permission)) {
        throw new ConfigError(`${at}: permission ${JSON.stringify(p)} is not one of ${PERMISSIONS.join(", ")}`);
      }
    }
    return { identity, namespaces: patterns, allow: permissions as Permission[] };
  });
}

function list(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
    throw new ConfigError(`${what} must be a list of strings`);
  return value as string[];
}

/**
 * allows says whether a rule grants `permission` on `namespace` to `identity`: a rule's identity matches
 * exactly, or "*" matches every identity but "anonymous"; a pattern matches its exact name, or, ending in
 * "*", every namespace starting with what precedes the "*".
 */
export function allows(rules: readonly AccessRule[], identity: string, permission: Permission, namespace: string): boolean {
  return rules.some(
    (rule) =>
      (rule.identity === identity || (rule.identity === "*" && identity !== "anonymous")) &&
      rule.allow.includes(permission) &&
      rule.namespaces.some((p) => (p.endsWith("*") ? namespace.startsWith(p.slice(0, -1)) : p === namespace)),
  );
}
