import { type Metadata, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { ErrorStatus } from "../grpc/status.js";
import { type AccessRule, allows } from "./access-rules.js";
import { type Caller, identifyCaller, type PeerAuth } from "./identity.js";
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

/**
 * AccessControl authenticates callers and checks their permissions, against settings that SIGHUP may
 * replace (`update`); calls under way keep the answer they got.
 */
export interface AccessControl {
  /** enforcing is true while an `access` section exists (deny unless a rule allows). */
  readonly enforcing: boolean;
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

/** createAccessControl makes the AccessControl of a process over its first settings. */
export function createAccessControl(settings: AccessSettings, logger: Logger): AccessControl {
  let current = settings;
  return {
    get enforcing() {
      return current.access !== undefined;
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

/** openAccess is the AccessControl of no `tokens` and no `access` section: every caller may do everything. */
export function openAccess(logger: Logger): AccessControl {
  return createAccessControl({ tokens: [], access: undefined }, logger);
}
