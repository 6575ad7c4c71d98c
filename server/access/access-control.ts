import { type Metadata, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { ErrorStatus } from "../grpc/status.js";
import { type AccessRule, allows } from "./access-rules.js";
import { type Caller, identifyCaller, type PeerAuth } from "./identity.js";
import { isLoopbackPeer } from "./loopback.js";
import type { Permission } from "./permissions.js";
import type { TokenEntry } from "./tokens.js";

/** AccessSettings are the config file's `tokens` and `access` sections, parsed. */
export interface AccessSettings {
  /** tokens are the accepted bearer tokens' digests with their identities. Default none. */
  tokens: readonly TokenEntry[];
  /** access are the rules; undefined (no section) lets every caller do everything. */
  access: readonly AccessRule[] | undefined;
}

/** AuditEntry is one audit line: who did (or was refused) what on which namespace, with the call's code. */
export interface AuditEntry {
  identity: string | undefined;
  method: string;
  namespace: string;
  code: status;
}

/** AccessOptions are the access settings that come from flags, not from the config file's sections. */
export interface AccessOptions {
  /**
   * openAccess (`--open-access`): without an `access` section, answer callers from any address. Default
   * false: loopback callers only (protected mode).
   */
  openAccess: boolean;
}

/**
 * PROTECTED_MODE_MESSAGE is what a non-loopback caller is told while no `access` section exists and
 * `--open-access` is not set: how to open sessiond to it, on purpose.
 */
export const PROTECTED_MODE_MESSAGE =
  "sessiond answers only loopback callers while its config file has no access section (protected mode): " +
  "add an access section naming who may do what, or start sessiond with --open-access (SESSIOND_OPEN_ACCESS=true) to allow every caller";

/**
 * AccessControl authenticates callers and checks their permissions, against settings that SIGHUP may
 * replace (`update`); calls under way keep the answer they got.
 */
export interface AccessControl {
  /** enforcing is true while an `access` section exists (deny unless a rule allows). */
  readonly enforcing: boolean;
  /**
   * mode says who may call: "rules" while an `access` section exists; without one, "loopback" (protected
   * mode, the default) or "open" (`--open-access`).
   */
  readonly mode: "rules" | "loopback" | "open";
  /**
   * admit answers undefined when a caller at `peer` (grpc-js `call.getPeer()`) may call at all, else
   * PERMISSION_DENIED with PROTECTED_MODE_MESSAGE: in protected mode only loopback callers are answered.
   * Checked before authentication; health and reflection never ask.
   */
  admit(peer: string): ErrorStatus | undefined;
  /** authenticate names the caller (see identifyCaller), or answers UNAUTHENTICATED. */
  authenticate(metadata: Metadata, auth: PeerAuth | null | undefined): Caller | ErrorStatus;
  /**
   * authorize answers undefined when the caller holds `permission` on `namespace`, else PERMISSION_DENIED
   * naming the identity, the permission and the namespace. `permission` undefined (a method missing from the
   * permission table) is refused while enforcing: fail closed.
   */
  authorize(caller: Caller, method: string, permission: Permission | undefined, namespace: string): ErrorStatus | undefined;
  /** audit logs one info line `audit` with identity, method, namespace and code (never a token or session id). */
  audit(entry: AuditEntry): void;
  /** update replaces the tokens and rules (SIGHUP). */
  update(settings: AccessSettings): void;
}

/**
 * createAccessControl makes the AccessControl of a process over its first settings; `options.openAccess`
 * (default false) turns protected mode off.
 */
export function createAccessControl(
  settings: AccessSettings,
  logger: Logger,
  options: Partial<AccessOptions> = {},
): AccessControl {
  let current = settings;
  const openAccess = options.openAccess ?? false;
  return {
    get enforcing() {
      return current.access !== undefined;
    },
    get mode() {
      return current.access !== undefined ? "rules" : openAccess ? "open" : "loopback";
    },
    admit(peer) {
      if (current.access !== undefined || openAccess || isLoopbackPeer(peer)) return undefined;
      return { code: status.PERMISSION_DENIED, details: PROTECTED_MODE_MESSAGE };
    },
    authenticate: (metadata, auth) => identifyCaller(metadata, auth, current.tokens),
    authorize(caller, method, permission, namespace) {
      const rules = current.access;
      if (rules === undefined) return undefined;
      if (permission === undefined) {
        return { code: status.PERMISSION_DENIED, details: `${method} is not in sessiond's permission table: refused` };
      }
      if (allows(rules, caller.identity, permission, namespace)) return undefined;
      return {
        code: status.PERMISSION_DENIED,
        details: `identity ${JSON.stringify(caller.identity)} lacks the ${permission} permission on namespace ${JSON.stringify(namespace)}`,
      };
    },
    audit(entry) {
      const refused = entry.code === status.PERMISSION_DENIED || entry.code === status.UNAUTHENTICATED;
      logger.info({ audit: true, ...entry }, refused ? "call refused" : "admin call");
    },
    update(next) {
      current = next;
    },
  };
}

/**
 * defaultAccess is the AccessControl of no `tokens`, no `access` section and no `--open-access`: every
 * loopback caller may do everything, and no other caller anything (protected mode).
 */
export function defaultAccess(logger: Logger): AccessControl {
  return createAccessControl({ tokens: [], access: undefined }, logger);
}
